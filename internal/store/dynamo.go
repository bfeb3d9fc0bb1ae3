package store

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pipegate/pipegate/internal/awsretry"
)

// DynamoAPI is the part of *dynamodb.Client that Dynamo uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// DefaultCallTimeout bounds each DynamoDB request when CallTimeout is zero. The
// webhook answers GitLab within 10 s, and a table that hangs must cost it no more
// than this per request, whatever deadline the caller's context has.
const DefaultCallTimeout = 2 * time.Second

// bounded gives every request its own deadline.
type bounded struct {
	api     DynamoAPI
	timeout func() time.Duration
}

func (b bounded) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	return b.api.GetItem(ctx, in, optFns...)
}

func (b bounded) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	return b.api.PutItem(ctx, in, optFns...)
}

func (b bounded) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	return b.api.UpdateItem(ctx, in, optFns...)
}

func (b bounded) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	return b.api.Query(ctx, in, optFns...)
}

func (b bounded) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	return b.api.DeleteItem(ctx, in, optFns...)
}

// Dynamo is a Store in a DynamoDB table with a string hash key "pk", a
// string range key "sk" and TTL on the number attribute "expires_at".
//
// Items of one delivery share pk "delivery#<key>"; the claim has sk "claim",
// each start sk "start#<pipeline>". An execution has pk
// "execution#<pipeline>#<id>" and sk "execution"; a commit status pk
// "status#<project>#<sha>#<name>" and sk "status#<ref>". The gate decisions of an
// execution share pk "gate#<pipeline>#<id>", one item each with sk
// "decision#<time>#<random>", so that a Query by pk reads them oldest first.
// A service's last results share pk "result#<service>", with sk
// "env#<environment>" and no expires_at (see PutResult).
// Every race is settled by a conditional write. DynamoDB deletes expired items
// only eventually, so items past expires_at are treated as absent.
type Dynamo struct {
	Now         func() time.Time // nil: time.Now
	Retention   time.Duration    // zero: DefaultRetention
	CallTimeout time.Duration    // each request's deadline; zero: DefaultCallTimeout

	api   DynamoAPI
	table string
}

// NewDynamo returns a Dynamo over table.
func NewDynamo(api DynamoAPI, table string) *Dynamo {
	d := &Dynamo{table: table}
	d.api = bounded{api: api, timeout: d.callTimeout}
	return d
}

func (d *Dynamo) callTimeout() time.Duration {
	if d.CallTimeout > 0 {
		return d.CallTimeout
	}
	return DefaultCallTimeout
}

// NewDynamoFromConfig returns a Dynamo whose client gives up quickly:
// callers must answer GitLab within 10 seconds.
func NewDynamoFromConfig(cfg aws.Config, table string) *Dynamo {
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.Retryer = awsretry.Quick(func(so *retry.StandardOptions) { so.BaseDelay = 25 * time.Millisecond })
	})
	return NewDynamo(client, table)
}

// maxRounds bounds the read-then-write loops; each extra round means another
// writer changed the record between our read and our write.
const maxRounds = 4

// itemKey is the primary key of every item.
type itemKey struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
}

// record is what every item but a result carries: its key and the epoch second
// after which DynamoDB's TTL deletes it (a number, or TTL never does).
type record struct {
	itemKey
	ExpiresAt int64 `dynamodbav:"expires_at"`
}

// liveAt tells whether the item counts at now: DynamoDB deletes expired items
// only eventually, so one past expires_at is treated as absent.
func (r record) liveAt(now time.Time) bool { return r.ExpiresAt > now.Unix() }

// expiresAt is the expires_at of an item written at now.
func (d *Dynamo) expiresAt(now time.Time) int64 { return now.Add(retention(d.Retention)).Unix() }

// record is the key k with the expiry of an item written at now.
func (d *Dynamo) record(k itemKey, now time.Time) record {
	return record{itemKey: k, ExpiresAt: d.expiresAt(now)}
}

// absent is the condition of a write that creates an item: none is there,
// or only an expired one.
func absent(now time.Time) expression.ConditionBuilder {
	return expression.Name("pk").AttributeNotExists().
		Or(expression.Name("expires_at").LessThanEqual(expression.Value(now.Unix())))
}

// live is the condition of a write to an existing item that has not expired.
func live(now time.Time) expression.ConditionBuilder {
	return expression.Name("pk").AttributeExists().
		And(expression.Name("expires_at").GreaterThan(expression.Value(now.Unix())))
}

// marshal gives the attributes of an item struct. Times are stored as
// formatTime strings, and a zero time tagged omitempty is left out.
func marshal(in any) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMapWithOptions(in, func(o *attributevalue.EncoderOptions) {
		o.EncodeTime = func(t time.Time) (types.AttributeValue, error) {
			return &types.AttributeValueMemberS{Value: formatTime(t)}, nil
		}
		o.OmitEmptyTime = true
	})
}

// unmarshal reads attributes into an item struct; a missing attribute leaves
// its field zero.
func unmarshal(item map[string]types.AttributeValue, out any) error {
	return attributevalue.UnmarshalMapWithOptions(item, out, func(o *attributevalue.DecoderOptions) {
		o.DecodeTime.S = func(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }
	})
}

// put writes item if cond holds; an unset cond writes it unconditionally.
func (d *Dynamo) put(ctx context.Context, item any, cond expression.ConditionBuilder) error {
	attrs, err := marshal(item)
	if err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: attrs}
	if cond.IsSet() {
		expr, err := expression.NewBuilder().WithCondition(cond).Build()
		if err != nil {
			return err
		}
		in.ConditionExpression = expr.Condition()
		in.ExpressionAttributeNames = expr.Names()
		in.ExpressionAttributeValues = expr.Values()
	}
	_, err = d.api.PutItem(ctx, in)
	return err
}

// update applies upd to the item at k if cond holds. When after is not nil, it
// reads the item as it is after the update into after.
func (d *Dynamo) update(ctx context.Context, k itemKey, upd expression.UpdateBuilder, cond expression.ConditionBuilder, after any) error {
	key, err := marshal(k)
	if err != nil {
		return err
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return err
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       key,
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	if after != nil {
		in.ReturnValues = types.ReturnValueAllNew
	}
	out, err := d.api.UpdateItem(ctx, in)
	if err != nil || after == nil {
		return err
	}
	return unmarshal(out.Attributes, after)
}

// read reads the item at k consistently into out: it decides races that a
// conditional write just lost. found is false when there is none.
func (d *Dynamo) read(ctx context.Context, k itemKey, out any) (found bool, err error) {
	key, err := marshal(k)
	if err != nil {
		return false, err
	}
	got, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            key,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, err
	}
	if got.Item == nil {
		return false, nil
	}
	return true, unmarshal(got.Item, out)
}

// get is read for an item that expires: one past expires_at counts as absent.
func (d *Dynamo) get(ctx context.Context, k itemKey, now time.Time, out interface{ liveAt(time.Time) bool }) (found bool, err error) {
	found, err = d.read(ctx, k, out)
	if err != nil || !found {
		return false, err
	}
	return out.liveAt(now), nil
}

// query reads every item whose key matches kc, in sort key order, page after
// page (a page holds at most 1 MB). It reads consistently: an item just written
// must be in the answer.
func query[T any](ctx context.Context, d *Dynamo, kc expression.KeyConditionBuilder) ([]T, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(d.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(true),
	}
	var out []T
	for {
		page, err := d.api.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, item := range page.Items {
			var v T
			if err := unmarshal(item, &v); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// timeFormat is RFC 3339 in UTC with all nine fraction digits: times keep
// their nanoseconds, and string order is time order, which the conditions
// lowering an execution's started_at and keeping the newer result rely on.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }
