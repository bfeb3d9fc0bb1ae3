package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoAPI is the part of *dynamodb.Client that Dynamo uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Dynamo is a Store in a DynamoDB table with a string hash key "pk", a
// string range key "sk" and TTL on the number attribute "expires_at".
//
// Items of one delivery share pk "delivery#<key>"; the claim has sk "claim",
// each start sk "start#<pipeline>". Every race is settled by a conditional
// write. DynamoDB deletes expired items only eventually, so items past
// expires_at are treated as absent.
type Dynamo struct {
	Now       func() time.Time // nil: time.Now
	Retention time.Duration    // zero: DefaultRetention

	api   DynamoAPI
	table string
}

// NewDynamo returns a Dynamo over table.
func NewDynamo(api DynamoAPI, table string) *Dynamo {
	return &Dynamo{api: api, table: table}
}

// NewDynamoFromConfig returns a Dynamo whose client gives up quickly:
// callers must answer GitLab within 10 seconds.
func NewDynamoFromConfig(cfg aws.Config, table string) *Dynamo {
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
			so.BaseDelay = 25 * time.Millisecond
			so.MaxBackoff = 200 * time.Millisecond
		})
	})
	return NewDynamo(client, table)
}

// claimNames names the claim attributes that are DynamoDB reserved words.
func claimNames() map[string]string {
	return map[string]string{"#state": "state", "#owner": "owner"}
}

// maxRounds bounds the read-then-write loops; each extra round means another
// writer changed the record between our read and our write.
const maxRounds = 4

// Claim takes the delivery key for lease, or tells who has it.
func (d *Dynamo) Claim(ctx context.Context, key string, lease time.Duration) (Claim, error) {
	k := claimKey(key)
	for range maxRounds {
		now := clock(d.Now)
		owner := newOwner()
		item := map[string]types.AttributeValue{
			"pk":          k["pk"],
			"sk":          k["sk"],
			"state":       str(stateClaimed),
			"owner":       str(owner),
			"lease_until": num(now.Add(lease).UnixMilli()),
			"expires_at":  num(now.Add(retention(d.Retention)).Unix()),
		}
		err := d.put(ctx, item, "attribute_not_exists(pk) OR expires_at <= :now", nil,
			map[string]types.AttributeValue{":now": num(now.Unix())})
		if err == nil {
			return Claim{State: Claimed, Owner: owner}, nil
		}
		if !conditionFailed(err) {
			return Claim{}, fmt.Errorf("claim %s: %w", key, err)
		}

		old, found, err := d.get(ctx, k, now)
		if err != nil {
			return Claim{}, fmt.Errorf("claim %s: %w", key, err)
		}
		if !found {
			continue // gone since our write: try to create it again
		}
		state, oldOwner := strOf(old["state"]), strOf(old["owner"])
		leaseUntil, err := numOf(old["lease_until"])
		if err != nil {
			return Claim{}, fmt.Errorf("claim %s: lease_until: %w", key, err)
		}
		switch {
		case state == stateDone:
			return Claim{State: Done}, nil
		case state == stateClaimed && now.UnixMilli() < leaseUntil:
			return Claim{State: Busy}, nil
		}

		// Expired or released: take it over. The condition on the old owner
		// and state lets exactly one of several takers win.
		err = d.put(ctx, item, "#owner = :old AND #state = :state", claimNames(),
			map[string]types.AttributeValue{":old": str(oldOwner), ":state": str(state)})
		if err == nil {
			return Claim{State: Claimed, Owner: owner, Retry: true}, nil
		}
		if !conditionFailed(err) {
			return Claim{}, fmt.Errorf("claim %s: take over: %w", key, err)
		}
	}
	return Claim{}, fmt.Errorf("claim %s: record changed under us %d times", key, maxRounds)
}

// Finish marks the delivery done. Finishing twice is harmless, so an SDK
// retry of a write that did land is not mistaken for a lost claim.
func (d *Dynamo) Finish(ctx context.Context, key, owner string) error {
	now := clock(d.Now)
	err := d.update(ctx, claimKey(key),
		"SET #state = :done, expires_at = :exp",
		"#owner = :owner AND #state IN (:claimed, :done)", claimNames(),
		map[string]types.AttributeValue{
			":done":    str(stateDone),
			":claimed": str(stateClaimed),
			":owner":   str(owner),
			":exp":     num(now.Add(retention(d.Retention)).Unix()),
		})
	if conditionFailed(err) {
		return fmt.Errorf("finish %s: %w", key, ErrNotOwner)
	}
	if err != nil {
		return fmt.Errorf("finish %s: %w", key, err)
	}
	return nil
}

// Release gives the claim up so that the next Claim gets it at once, with
// Retry set. The record stays, to tell that next claimer about the retry.
func (d *Dynamo) Release(ctx context.Context, key, owner string) error {
	err := d.update(ctx, claimKey(key),
		"SET #state = :released",
		"#owner = :owner AND #state IN (:claimed, :released)", claimNames(),
		map[string]types.AttributeValue{
			":released": str(stateReleased),
			":claimed":  str(stateClaimed),
			":owner":    str(owner),
		})
	if conditionFailed(err) {
		return fmt.Errorf("release %s: %w", key, ErrNotOwner)
	}
	if err != nil {
		return fmt.Errorf("release %s: %w", key, err)
	}
	return nil
}

// PutStart records s unless a start is recorded for its delivery and
// pipeline already; it returns the recorded one.
func (d *Dynamo) PutStart(ctx context.Context, s Start) (Start, error) {
	k := startKey(s.Delivery, s.Pipeline)
	for range maxRounds {
		now := clock(d.Now)
		item := map[string]types.AttributeValue{
			"pk":            k["pk"],
			"sk":            k["sk"],
			"status_posted": &types.AttributeValueMemberBOOL{Value: s.StatusPosted},
			"expires_at":    num(now.Add(retention(d.Retention)).Unix()),
		}
		for name, v := range map[string]string{
			"execution_id": s.ExecutionID,
			"service":      s.Service,
			"project":      s.Project,
			"commit_sha":   s.CommitSHA,
			"ref":          s.Ref,
		} {
			if v != "" {
				item[name] = str(v)
			}
		}
		if !s.StartedAt.IsZero() {
			item["started_at"] = str(s.StartedAt.UTC().Format(time.RFC3339Nano))
		}
		err := d.put(ctx, item, "attribute_not_exists(pk) OR expires_at <= :now", nil,
			map[string]types.AttributeValue{":now": num(now.Unix())})
		if err == nil {
			return s, nil
		}
		if !conditionFailed(err) {
			return Start{}, fmt.Errorf("put start %s/%s: %w", s.Delivery, s.Pipeline, err)
		}
		old, found, err := d.get(ctx, k, now)
		if err != nil {
			return Start{}, fmt.Errorf("put start %s/%s: %w", s.Delivery, s.Pipeline, err)
		}
		if found {
			return decodeStart(s.Delivery, s.Pipeline, old)
		}
	}
	return Start{}, fmt.Errorf("put start %s/%s: record changed under us %d times", s.Delivery, s.Pipeline, maxRounds)
}

// GetStart returns the start recorded for delivery and pipeline.
func (d *Dynamo) GetStart(ctx context.Context, delivery, pipeline string) (Start, bool, error) {
	item, found, err := d.get(ctx, startKey(delivery, pipeline), clock(d.Now))
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("get start %s/%s: %w", delivery, pipeline, err)
		}
		return Start{}, false, err
	}
	s, err := decodeStart(delivery, pipeline, item)
	if err != nil {
		return Start{}, false, fmt.Errorf("get start %s/%s: %w", delivery, pipeline, err)
	}
	return s, true, nil
}

// MarkPosted records that the pending status of a start was posted.
func (d *Dynamo) MarkPosted(ctx context.Context, delivery, pipeline string) error {
	err := d.update(ctx, startKey(delivery, pipeline),
		"SET status_posted = :t",
		"attribute_exists(pk) AND expires_at > :now", nil,
		map[string]types.AttributeValue{
			":t":   &types.AttributeValueMemberBOOL{Value: true},
			":now": num(clock(d.Now).Unix()),
		})
	if conditionFailed(err) {
		return fmt.Errorf("mark posted %s/%s: %w", delivery, pipeline, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("mark posted %s/%s: %w", delivery, pipeline, err)
	}
	return nil
}

func (d *Dynamo) put(ctx context.Context, item map[string]types.AttributeValue, cond string, names map[string]string, values map[string]types.AttributeValue) error {
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(d.table),
		Item:                      item,
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return err
}

func (d *Dynamo) update(ctx context.Context, key map[string]types.AttributeValue, upd, cond string, names map[string]string, values map[string]types.AttributeValue) error {
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       key,
		UpdateExpression:          aws.String(upd),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return err
}

// get reads an item consistently: it decides races that a conditional write
// just lost. An item past expires_at counts as absent.
func (d *Dynamo) get(ctx context.Context, key map[string]types.AttributeValue, now time.Time) (map[string]types.AttributeValue, bool, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            key,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, err
	}
	if out.Item == nil {
		return nil, false, nil
	}
	exp, err := numOf(out.Item["expires_at"])
	if err != nil {
		return nil, false, fmt.Errorf("expires_at: %w", err)
	}
	if exp <= now.Unix() {
		return nil, false, nil
	}
	return out.Item, true, nil
}

func claimKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("delivery#" + key), "sk": str("claim")}
}

func startKey(delivery, pipeline string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("delivery#" + delivery), "sk": str("start#" + pipeline)}
}

func decodeStart(delivery, pipeline string, item map[string]types.AttributeValue) (Start, error) {
	s := Start{
		Delivery:    delivery,
		Pipeline:    pipeline,
		ExecutionID: strOf(item["execution_id"]),
		Service:     strOf(item["service"]),
		Project:     strOf(item["project"]),
		CommitSHA:   strOf(item["commit_sha"]),
		Ref:         strOf(item["ref"]),
	}
	if b, ok := item["status_posted"].(*types.AttributeValueMemberBOOL); ok {
		s.StatusPosted = b.Value
	}
	if v := strOf(item["started_at"]); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return Start{}, fmt.Errorf("started_at: %w", err)
		}
		s.StartedAt = t
	}
	return s, nil
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func strOf(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// numOf reads a number attribute; a missing one reads as 0.
func numOf(v types.AttributeValue) (int64, error) {
	if v == nil {
		return 0, nil
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("not a number: %T", v)
	}
	return strconv.ParseInt(n.Value, 10, 64)
}
