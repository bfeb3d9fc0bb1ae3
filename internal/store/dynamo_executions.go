package store

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PutExecution records e unless its execution is recorded already; then it
// fills the recorded one's empty fields from e and lowers its StartedAt to
// an earlier e.StartedAt. It returns the recorded execution.
func (d *Dynamo) PutExecution(ctx context.Context, e Execution) (Execution, error) {
	k := executionKey(e.Pipeline, e.ID)
	for range maxRounds {
		now := clock(d.Now)
		item := map[string]types.AttributeValue{
			"pk":         k["pk"],
			"sk":         k["sk"],
			"expires_at": num(now.Add(retention(d.Retention)).Unix()),
		}
		setStr(item, "project", e.Project)
		setStr(item, "commit_sha", e.CommitSHA)
		setStr(item, "ref", e.Ref)
		setStr(item, "trigger", e.Trigger)
		setTime(item, "started_at", e.StartedAt)
		err := d.put(ctx, item, absent, nil, map[string]types.AttributeValue{":now": num(now.Unix())})
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

// mergeExecution does what merge does, in the table: if_not_exists fills
// empty attributes in one atomic update, and the condition on started_at
// makes "lower it if later" one atomic step too. found is false when no
// live item is there.
func (d *Dynamo) mergeExecution(ctx context.Context, key map[string]types.AttributeValue, e Execution, now time.Time) (Execution, bool, error) {
	// Names go through placeholders: "project", "ref" and "trigger" are reserved words.
	var sets []string
	names := map[string]string{}
	values := map[string]types.AttributeValue{":now": num(now.Unix())}
	for _, f := range []struct{ name, v string }{
		{"project", e.Project}, {"commit_sha", e.CommitSHA}, {"ref", e.Ref}, {"trigger", e.Trigger},
	} {
		if f.v != "" {
			sets = append(sets, fmt.Sprintf("#%s = if_not_exists(#%s, :%s)", f.name, f.name, f.name))
			names["#"+f.name] = f.name
			values[":"+f.name] = str(f.v)
		}
	}

	if !e.StartedAt.IsZero() {
		lowerNames := map[string]string{"#started": "started_at"}
		maps.Copy(lowerNames, names)
		lowerValues := map[string]types.AttributeValue{":started": str(formatTime(e.StartedAt))}
		maps.Copy(lowerValues, values)
		item, err := d.updateNew(ctx, key,
			"SET "+strings.Join(append(sets, "#started = :started"), ", "),
			live+" AND (attribute_not_exists(#started) OR #started > :started)", lowerNames, lowerValues)
		if err == nil {
			got, err := decodeExecution(e.Pipeline, e.ID, item)
			return got, err == nil, err
		}
		if !conditionFailed(err) {
			return Execution{}, false, err
		}
		// The stored start is as early or earlier (or the item is gone):
		// only fill.
	}

	if len(sets) == 0 {
		item, found, err := d.get(ctx, key, now)
		if err != nil || !found {
			return Execution{}, false, err
		}
		got, err := decodeExecution(e.Pipeline, e.ID, item)
		return got, err == nil, err
	}
	item, err := d.updateNew(ctx, key, "SET "+strings.Join(sets, ", "), live, names, values)
	if conditionFailed(err) {
		return Execution{}, false, nil
	}
	if err != nil {
		return Execution{}, false, err
	}
	got, err := decodeExecution(e.Pipeline, e.ID, item)
	return got, err == nil, err
}

// GetExecution returns the execution recorded for pipeline and id.
func (d *Dynamo) GetExecution(ctx context.Context, pipeline, id string) (Execution, bool, error) {
	item, found, err := d.get(ctx, executionKey(pipeline, id), clock(d.Now))
	if err != nil {
		return Execution{}, false, fmt.Errorf("get execution %s/%s: %w", pipeline, id, err)
	}
	if !found {
		return Execution{}, false, nil
	}
	e, err := decodeExecution(pipeline, id, item)
	if err != nil {
		return Execution{}, false, fmt.Errorf("get execution %s/%s: %w", pipeline, id, err)
	}
	return e, true, nil
}

func executionKey(pipeline, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("execution#" + pipeline + "#" + id), "sk": str("execution")}
}

func decodeExecution(pipeline, id string, item map[string]types.AttributeValue) (Execution, error) {
	e := Execution{
		Pipeline:  pipeline,
		ID:        id,
		Project:   strOf(item["project"]),
		CommitSHA: strOf(item["commit_sha"]),
		Ref:       strOf(item["ref"]),
		Trigger:   strOf(item["trigger"]),
	}
	var err error
	if e.StartedAt, err = timeOf(item["started_at"]); err != nil {
		return Execution{}, fmt.Errorf("started_at: %w", err)
	}
	return e, nil
}
