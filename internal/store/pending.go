package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Pending is a delivery whose work is not known to be finished. The webhook
// records it before it claims the delivery and deletes it once the work is done,
// so that an invocation that dies in between (a Lambda timeout, an out-of-memory
// kill), or whose last writes fail, leaves a record the reconciler finishes,
// without GitLab's help. A record of a delivery that is done already is harmless:
// its claim says so.
type Pending struct {
	Key string    // the delivery key
	Job []byte    // what finishing it takes (the handler's job, opaque here)
	At  time.Time // when it was recorded; set by the store
}

// MaxPendingJob bounds a pending job, far below DynamoDB's 400 KB item limit: a
// job carries a routing decision, not a payload.
const MaxPendingJob = 16 << 10

// errJobTooLarge refuses a job over MaxPendingJob.
var errJobTooLarge = errors.New("store: pending job too large")

func checkPending(p Pending) error {
	if p.Key == "" {
		return errors.New("store: pending record without a delivery key")
	}
	if len(p.Job) > MaxPendingJob {
		return fmt.Errorf("%w: %d bytes, at most %d", errJobTooLarge, len(p.Job), MaxPendingJob)
	}
	return nil
}

// pendingPK is the one partition of pending records: there are only ever as
// many as deliveries in flight, so the reconciler reads them with one Query.
const (
	pendingPK       = "pending"
	pendingSKPrefix = "delivery#"
)

// PutPending records p, replacing an earlier record of the same delivery.
func (d *Dynamo) PutPending(ctx context.Context, p Pending) error {
	if err := checkPending(p); err != nil {
		return err
	}
	now := clock(d.Now)
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.table),
		Item: map[string]types.AttributeValue{
			"pk":         str(pendingPK),
			"sk":         str(pendingSKPrefix + p.Key),
			"job":        &types.AttributeValueMemberB{Value: p.Job},
			"at":         str(formatTime(now)),
			"expires_at": num(now.Add(retention(d.Retention)).Unix()),
		},
	})
	if err != nil {
		return fmt.Errorf("record pending delivery %s: %w", p.Key, err)
	}
	return nil
}

// DeletePending drops the record of key; there being none is not an error.
func (d *Dynamo) DeletePending(ctx context.Context, key string) error {
	_, err := d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(d.table),
		Key:       map[string]types.AttributeValue{"pk": str(pendingPK), "sk": str(pendingSKPrefix + key)},
	})
	if err != nil {
		return fmt.Errorf("delete pending delivery %s: %w", key, err)
	}
	return nil
}

// Pendings returns up to limit pending records recorded before before, oldest first.
func (d *Dynamo) Pendings(ctx context.Context, before time.Time, limit int) ([]Pending, error) {
	now := clock(d.Now)
	in := &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(pendingPK),
		},
		ConsistentRead: aws.Bool(true),
	}
	var out []Pending
	for {
		page, err := d.api.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("read pending deliveries: %w", err)
		}
		for _, item := range page.Items {
			exp, err := numOf(item["expires_at"])
			if err != nil {
				return nil, fmt.Errorf("read pending deliveries: expires_at: %w", err)
			}
			at, err := timeOf(item["at"])
			if err != nil {
				return nil, fmt.Errorf("read pending deliveries: at: %w", err)
			}
			if exp <= now.Unix() || !at.Before(before) {
				continue
			}
			p := Pending{Key: strings.TrimPrefix(strOf(item["sk"]), pendingSKPrefix), At: at}
			if b, ok := item["job"].(*types.AttributeValueMemberB); ok {
				p.Job = b.Value
			}
			out = append(out, p)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return oldest(out, limit), nil
}

// oldest sorts records oldest first and keeps the first limit of them.
func oldest(ps []Pending, limit int) []Pending {
	slices.SortFunc(ps, func(a, b Pending) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	if limit > 0 && len(ps) > limit {
		ps = ps[:limit]
	}
	return ps
}

// PutPending records p, replacing an earlier record of the same delivery.
func (m *Memory) PutPending(ctx context.Context, p Pending) error {
	if err := checkPending(p); err != nil {
		return err
	}
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil {
		m.pending = map[string]memPending{}
	}
	p.At = now.UTC()
	p.Job = slices.Clone(p.Job)
	m.pending[p.Key] = memPending{p, now.Add(retention(m.Retention))}
	return nil
}

// DeletePending drops the record of key; there being none is not an error.
func (m *Memory) DeletePending(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, key)
	return nil
}

// Pendings returns up to limit pending records recorded before before, oldest first.
func (m *Memory) Pendings(ctx context.Context, before time.Time, limit int) ([]Pending, error) {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Pending
	for _, p := range m.pending {
		if now.Before(p.expires) && p.p.At.Before(before) {
			q := p.p
			q.Job = slices.Clone(q.Job)
			out = append(out, q)
		}
	}
	return oldest(out, limit), nil
}

type memPending struct {
	p       Pending
	expires time.Time
}
