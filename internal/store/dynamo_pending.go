package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// pendingPK is the one partition of pending records: there are only ever as
// many as deliveries in flight, so the reconciler reads them with one Query.
const (
	pendingPK       = "pending"
	pendingSKPrefix = "delivery#"
)

// pendingItem is a pending delivery: pk "pending", sk "delivery#<key>".
type pendingItem struct {
	record
	Job []byte    `dynamodbav:"job"` // binary
	At  time.Time `dynamodbav:"at"`
}

func pendingKey(key string) itemKey { return itemKey{PK: pendingPK, SK: pendingSKPrefix + key} }

// PutPending records p, replacing an earlier record of the same delivery.
func (d *Dynamo) PutPending(ctx context.Context, p Pending) error {
	if err := checkPending(p); err != nil {
		return err
	}
	now := clock(d.Now)
	job := p.Job
	if job == nil {
		job = []byte{} // a nil slice would be stored as NULL, not binary
	}
	item := pendingItem{record: d.record(pendingKey(p.Key), now), Job: job, At: now}
	// No condition: the record of a delivery is replaced.
	if err := d.put(ctx, item, expression.ConditionBuilder{}); err != nil {
		return fmt.Errorf("record pending delivery %s: %w", p.Key, err)
	}
	return nil
}

// DeletePending drops the record of key; there being none is not an error.
func (d *Dynamo) DeletePending(ctx context.Context, key string) error {
	k, err := marshal(pendingKey(key))
	if err == nil {
		_, err = d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(d.table), Key: k})
	}
	if err != nil {
		return fmt.Errorf("delete pending delivery %s: %w", key, err)
	}
	return nil
}

// GetPending returns the record of key, if there is one (a consistent read).
func (d *Dynamo) GetPending(ctx context.Context, key string) (Pending, bool, error) {
	var it pendingItem
	found, err := d.get(ctx, pendingKey(key), clock(d.Now), &it)
	if err != nil {
		return Pending{}, false, fmt.Errorf("get pending delivery %s: %w", key, err)
	}
	if !found {
		return Pending{}, false, nil
	}
	return Pending{Key: key, Job: it.Job, At: it.At}, true, nil
}

// Pendings returns up to limit pending records recorded before before, oldest first.
func (d *Dynamo) Pendings(ctx context.Context, before time.Time, limit int) ([]Pending, error) {
	now := clock(d.Now)
	items, err := query[pendingItem](ctx, d, expression.Key("pk").Equal(expression.Value(pendingPK)))
	if err != nil {
		return nil, fmt.Errorf("read pending deliveries: %w", err)
	}
	var out []Pending
	for _, it := range items {
		if it.liveAt(now) && it.At.Before(before) {
			out = append(out, Pending{Key: strings.TrimPrefix(it.SK, pendingSKPrefix), Job: it.Job, At: it.At})
		}
	}
	return oldest(out, limit), nil
}
