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
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
			so.BaseDelay = 25 * time.Millisecond
			so.MaxBackoff = 200 * time.Millisecond
		})
	})
	return NewDynamo(client, table)
}

// maxRounds bounds the read-then-write loops; each extra round means another
// writer changed the record between our read and our write.
const maxRounds = 4

// absent is the condition of a write that creates an item: none is there,
// or only an expired one.
const absent = "attribute_not_exists(pk) OR expires_at <= :now"

// live is the condition of a write to an existing item that has not expired.
const live = "attribute_exists(pk) AND expires_at > :now"

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

// updateNew is update that returns the item as it is after the update.
func (d *Dynamo) updateNew(ctx context.Context, key map[string]types.AttributeValue, upd, cond string, names map[string]string, values map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       key,
		UpdateExpression:          aws.String(upd),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return nil, err
	}
	return out.Attributes, nil
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

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// timeFormat is RFC 3339 in UTC with all nine fraction digits: times keep
// their nanoseconds, and string order is time order, which the condition
// lowering an execution's started_at relies on.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// setTime stores t under name; a zero t is left out.
func setTime(item map[string]types.AttributeValue, name string, t time.Time) {
	if !t.IsZero() {
		item[name] = str(formatTime(t))
	}
}

// timeOf reads a time stored by setTime; a missing one reads as zero.
func timeOf(v types.AttributeValue) (time.Time, error) {
	s := strOf(v)
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// setStr stores v under name; an empty v is left out.
func setStr(item map[string]types.AttributeValue, name, v string) {
	if v != "" {
		item[name] = str(v)
	}
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
