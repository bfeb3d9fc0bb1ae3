package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// resultItem is how the last deployment of a service to one environment
// ended: pk "result#<service>", sk "env#<environment>", and no expires_at
// (see PutResult).
type resultItem struct {
	itemKey
	Service     string    `dynamodbav:"service"`
	Environment string    `dynamodbav:"environment"`
	State       string    `dynamodbav:"state,omitempty"`
	Commit      string    `dynamodbav:"commit_sha,omitempty"`
	At          time.Time `dynamodbav:"at"`
}

func resultKey(service, env string) itemKey {
	return itemKey{PK: "result#" + service, SK: "env#" + env}
}

// PutResult keeps r unless the result kept for its service and environment is
// as new or newer (by At): a conditional write, so a late event never
// overwrites a newer result.
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
	item := resultItem{
		itemKey:     resultKey(r.Service, r.Environment),
		Service:     r.Service,
		Environment: r.Environment,
		State:       r.State,
		Commit:      r.Commit,
		At:          r.At,
	}
	// formatTime's strings order as the times do, so "<" compares times.
	at := expression.Name("at")
	err := d.put(ctx, item, expression.Name("pk").AttributeNotExists().
		Or(at.LessThan(expression.Value(formatTime(r.At)))))
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
// They read consistently: a result just recorded is in the answer, as with
// Memory.
func (d *Dynamo) Results(ctx context.Context, service string) ([]Result, error) {
	var out []Result
	for _, env := range environments() {
		var it resultItem
		found, err := d.read(ctx, resultKey(service, env), &it)
		if err != nil {
			return nil, fmt.Errorf("read %s result of %s: %w", env, service, err)
		}
		if found {
			out = append(out, Result{Service: service, Environment: env, State: it.State, Commit: it.Commit, At: it.At})
		}
	}
	return out, nil
}
