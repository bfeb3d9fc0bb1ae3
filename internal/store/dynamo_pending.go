package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

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
