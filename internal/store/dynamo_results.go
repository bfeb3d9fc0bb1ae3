package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PutResult keeps r unless the result kept for its service and environment is
// as new or newer (by At): a conditional write, so a late event never
// overwrites a newer result. The item is pk "result#<service>", sk
// "env#<environment>".
//
// Results get no expires_at, unlike every other item: a service that is not
// deployed for longer than Retention still runs what it last deployed, and its
// badge must keep saying so rather than fall back to "no deploys yet". There
// are two items per routed service, each overwritten in place, so nothing piles
// up.
func (d *Dynamo) PutResult(ctx context.Context, r Result) error {
	if err := checkResult(r); err != nil {
		return err
	}
	at := str(formatTime(r.At))
	item := map[string]types.AttributeValue{
		"pk":          str(resultPK(r.Service)),
		"sk":          str(resultSK(r.Environment)),
		"service":     str(r.Service),
		"environment": str(r.Environment),
		"at":          at,
	}
	setStr(item, "state", r.State)
	setStr(item, "commit_sha", r.Commit)
	// formatTime's strings order as the times do, so "<" compares times. "at" is
	// a reserved word.
	err := d.put(ctx, item, "attribute_not_exists(pk) OR #at < :at",
		map[string]string{"#at": "at"}, map[string]types.AttributeValue{":at": at})
	if conditionFailed(err) {
		return nil // a result as new or newer is kept
	}
	if err != nil {
		return fmt.Errorf("put result %s/%s: %w", r.Service, r.Environment, err)
	}
	return nil
}

// Results returns the results kept for service: staging's, then production's,
// each only when there is one. Two GetItems rather than a Query: the webhook
// function, which serves the badge, is granted GetItem and needs nothing more.
func (d *Dynamo) Results(ctx context.Context, service string) ([]Result, error) {
	var out []Result
	for _, env := range environments() {
		got, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(d.table),
			Key: map[string]types.AttributeValue{
				"pk": str(resultPK(service)),
				"sk": str(resultSK(env)),
			},
			// A result just recorded is in the answer, as with Memory.
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, fmt.Errorf("read %s result of %s: %w", env, service, err)
		}
		if got.Item == nil {
			continue
		}
		r := Result{
			Service:     service,
			Environment: env,
			State:       strOf(got.Item["state"]),
			Commit:      strOf(got.Item["commit_sha"]),
		}
		if r.At, err = timeOf(got.Item["at"]); err != nil {
			return nil, fmt.Errorf("read %s result of %s: at: %w", env, service, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func resultPK(service string) string { return "result#" + service }
func resultSK(env string) string     { return "env#" + env }
