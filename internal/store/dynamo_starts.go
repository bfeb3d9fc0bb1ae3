package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// startItem is the pipeline execution a delivery started: pk
// "delivery#<delivery>", sk "start#<pipeline>".
type startItem struct {
	record
	ExecutionID string `dynamodbav:"execution_id,omitempty"`
	Service     string `dynamodbav:"service,omitempty"`
	Project     string `dynamodbav:"project,omitempty"`
	CommitSHA   string `dynamodbav:"commit_sha,omitempty"`
	Ref         string `dynamodbav:"ref,omitempty"`
	// StartedAt is RFC 3339 with trailing fraction zeros dropped, unlike the
	// other items' times (formatTime): the format starts have always had.
	StartedAt    string `dynamodbav:"started_at,omitempty"`
	StatusPosted bool   `dynamodbav:"status_posted"`
}

func startKey(delivery, pipeline string) itemKey {
	return itemKey{PK: "delivery#" + delivery, SK: "start#" + pipeline}
}

func (it startItem) start(delivery, pipeline string) (Start, error) {
	s := Start{
		Delivery:     delivery,
		Pipeline:     pipeline,
		ExecutionID:  it.ExecutionID,
		Service:      it.Service,
		Project:      it.Project,
		CommitSHA:    it.CommitSHA,
		Ref:          it.Ref,
		StatusPosted: it.StatusPosted,
	}
	if it.StartedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, it.StartedAt)
		if err != nil {
			return Start{}, fmt.Errorf("started_at: %w", err)
		}
		s.StartedAt = t
	}
	return s, nil
}

// PutStart records s unless a start is recorded for its delivery and
// pipeline already; it returns the recorded one.
func (d *Dynamo) PutStart(ctx context.Context, s Start) (Start, error) {
	k := startKey(s.Delivery, s.Pipeline)
	for range maxRounds {
		now := clock(d.Now)
		item := startItem{
			record:       d.record(k, now),
			ExecutionID:  s.ExecutionID,
			Service:      s.Service,
			Project:      s.Project,
			CommitSHA:    s.CommitSHA,
			Ref:          s.Ref,
			StatusPosted: s.StatusPosted,
		}
		if !s.StartedAt.IsZero() {
			item.StartedAt = s.StartedAt.UTC().Format(time.RFC3339Nano)
		}
		err := d.put(ctx, item, absent(now))
		if err == nil {
			return s, nil
		}
		if !conditionFailed(err) {
			return Start{}, fmt.Errorf("put start %s/%s: %w", s.Delivery, s.Pipeline, err)
		}
		var old startItem
		found, err := d.get(ctx, k, now, &old)
		if err != nil {
			return Start{}, fmt.Errorf("put start %s/%s: %w", s.Delivery, s.Pipeline, err)
		}
		if found {
			return old.start(s.Delivery, s.Pipeline)
		}
	}
	return Start{}, fmt.Errorf("put start %s/%s: record changed under us %d times", s.Delivery, s.Pipeline, maxRounds)
}

// GetStart returns the start recorded for delivery and pipeline.
func (d *Dynamo) GetStart(ctx context.Context, delivery, pipeline string) (Start, bool, error) {
	var it startItem
	found, err := d.get(ctx, startKey(delivery, pipeline), clock(d.Now), &it)
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("get start %s/%s: %w", delivery, pipeline, err)
		}
		return Start{}, false, err
	}
	s, err := it.start(delivery, pipeline)
	if err != nil {
		return Start{}, false, fmt.Errorf("get start %s/%s: %w", delivery, pipeline, err)
	}
	return s, true, nil
}

// MarkPosted records that the pending status of a start was posted.
func (d *Dynamo) MarkPosted(ctx context.Context, delivery, pipeline string) error {
	err := d.update(ctx, startKey(delivery, pipeline),
		expression.Set(expression.Name("status_posted"), expression.Value(true)),
		live(clock(d.Now)), nil)
	if conditionFailed(err) {
		return fmt.Errorf("mark posted %s/%s: %w", delivery, pipeline, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("mark posted %s/%s: %w", delivery, pipeline, err)
	}
	return nil
}
