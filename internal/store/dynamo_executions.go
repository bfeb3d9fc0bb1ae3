package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// executionItem is the commit one pipeline execution runs: pk
// "execution#<pipeline>#<id>", sk "execution".
type executionItem struct {
	record
	Project   string    `dynamodbav:"project,omitempty"`
	CommitSHA string    `dynamodbav:"commit_sha,omitempty"`
	Ref       string    `dynamodbav:"ref,omitempty"`
	Trigger   string    `dynamodbav:"trigger,omitempty"`
	StartedAt time.Time `dynamodbav:"started_at,omitempty"`
}

func executionKey(pipeline, id string) itemKey {
	return itemKey{PK: "execution#" + pipeline + "#" + id, SK: "execution"}
}

func (it executionItem) execution(pipeline, id string) Execution {
	return Execution{
		Pipeline:  pipeline,
		ID:        id,
		Project:   it.Project,
		CommitSHA: it.CommitSHA,
		Ref:       it.Ref,
		Trigger:   it.Trigger,
		StartedAt: it.StartedAt,
	}
}

// PutExecution records e unless its execution is recorded already; then it
// fills the recorded one's empty fields from e and lowers its StartedAt to
// an earlier e.StartedAt. It returns the recorded execution.
func (d *Dynamo) PutExecution(ctx context.Context, e Execution) (Execution, error) {
	k := executionKey(e.Pipeline, e.ID)
	for range maxRounds {
		now := clock(d.Now)
		item := executionItem{
			record:    d.record(k, now),
			Project:   e.Project,
			CommitSHA: e.CommitSHA,
			Ref:       e.Ref,
			Trigger:   e.Trigger,
			StartedAt: e.StartedAt,
		}
		err := d.put(ctx, item, absent(now))
		if err == nil {
			return e, nil
		}
		if !conditionFailed(err) {
			return Execution{}, fmt.Errorf("put execution %s/%s: %w", e.Pipeline, e.ID, err)
		}
		got, found, err := d.mergeExecution(ctx, k, e, now)
		if err != nil {
			return Execution{}, fmt.Errorf("put execution %s/%s: %w", e.Pipeline, e.ID, err)
		}
		if found {
			return got, nil
		}
		// Expired or gone since our write: try to create it again.
	}
	return Execution{}, fmt.Errorf("put execution %s/%s: record changed under us %d times", e.Pipeline, e.ID, maxRounds)
}

// fillEmpty sets each attribute that e has and the item lacks, if_not_exists
// keeping those the item has; ok is false when e has none of them. Each call
// returns a new builder: UpdateBuilder.Set adds to the builder it is called on.
func fillEmpty(e Execution) (fill expression.UpdateBuilder, ok bool) {
	for _, f := range []struct{ name, v string }{
		{"project", e.Project}, {"commit_sha", e.CommitSHA}, {"ref", e.Ref}, {"trigger", e.Trigger},
	} {
		if f.v != "" {
			name := expression.Name(f.name)
			fill, ok = fill.Set(name, name.IfNotExists(expression.Value(f.v))), true
		}
	}
	return fill, ok
}

// mergeExecution does what merge does, in the table: if_not_exists fills
// empty attributes in one atomic update, and the condition on started_at
// makes "lower it if later" one atomic step too. found is false when no
// live item is there.
func (d *Dynamo) mergeExecution(ctx context.Context, k itemKey, e Execution, now time.Time) (Execution, bool, error) {
	var got executionItem
	if !e.StartedAt.IsZero() {
		started := expression.Name("started_at")
		at := expression.Value(formatTime(e.StartedAt))
		lower, _ := fillEmpty(e)
		err := d.update(ctx, k, lower.Set(started, at),
			live(now).And(started.AttributeNotExists().Or(started.GreaterThan(at))), &got)
		if err == nil {
			return got.execution(e.Pipeline, e.ID), true, nil
		}
		if !conditionFailed(err) {
			return Execution{}, false, err
		}
		// The stored start is as early or earlier (or the item is gone):
		// only fill.
	}

	fill, ok := fillEmpty(e)
	if !ok {
		found, err := d.get(ctx, k, now, &got)
		if err != nil || !found {
			return Execution{}, false, err
		}
		return got.execution(e.Pipeline, e.ID), true, nil
	}
	err := d.update(ctx, k, fill, live(now), &got)
	if conditionFailed(err) {
		return Execution{}, false, nil
	}
	if err != nil {
		return Execution{}, false, err
	}
	return got.execution(e.Pipeline, e.ID), true, nil
}

// GetExecution returns the execution recorded for pipeline and id.
func (d *Dynamo) GetExecution(ctx context.Context, pipeline, id string) (Execution, bool, error) {
	var it executionItem
	found, err := d.get(ctx, executionKey(pipeline, id), clock(d.Now), &it)
	if err != nil {
		return Execution{}, false, fmt.Errorf("get execution %s/%s: %w", pipeline, id, err)
	}
	if !found {
		return Execution{}, false, nil
	}
	return it.execution(pipeline, id), true, nil
}
