package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// statusItem is the last accepted state of one commit status: pk
// "status#<project>#<sha>#<name>", sk "status#<ref>".
type statusItem struct {
	record
	ExecutionID    string    `dynamodbav:"execution_id,omitempty"`
	ExecutionStart time.Time `dynamodbav:"execution_start,omitempty"`
	State          string    `dynamodbav:"state,omitempty"`
	At             time.Time `dynamodbav:"at,omitempty"`
	Began          time.Time `dynamodbav:"began,omitempty"`
	Ref            string    `dynamodbav:"ref,omitempty"`
	Description    string    `dynamodbav:"description,omitempty"`
	Posted         bool      `dynamodbav:"posted"`
	Version        int64     `dynamodbav:"version"`
}

func statusKey(k StatusKey) itemKey {
	return itemKey{PK: "status#" + k.Project + "#" + k.CommitSHA + "#" + k.Name, SK: "status#" + k.Ref}
}

func (it statusItem) status(key StatusKey) Status {
	return Status{
		Key:            key,
		ExecutionID:    it.ExecutionID,
		ExecutionStart: it.ExecutionStart,
		State:          it.State,
		At:             it.At,
		Began:          it.Began,
		Ref:            it.Ref,
		Description:    it.Description,
		Posted:         it.Posted,
		Version:        it.Version,
	}
}

// GetStatus returns the status recorded for key; when there is none, a
// Status with only Key set (Version 0).
func (d *Dynamo) GetStatus(ctx context.Context, key StatusKey) (Status, bool, error) {
	var it statusItem
	found, err := d.get(ctx, statusKey(key), clock(d.Now), &it)
	if err != nil {
		return Status{Key: key}, false, fmt.Errorf("get status %s: %w", key, err)
	}
	if !found {
		return Status{Key: key}, false, nil
	}
	return it.status(key), true, nil
}

// PutStatus stores s if the recorded version is still s.Version (0:
// nothing recorded) and returns s with its new Version; otherwise it
// returns ErrConflict. An SDK retry of a write that landed also reads as
// ErrConflict; the caller's re-read then finds its own write.
func (d *Dynamo) PutStatus(ctx context.Context, s Status) (Status, error) {
	now := clock(d.Now)
	next := s
	next.Version++
	item := statusItem{
		record:         d.record(statusKey(s.Key), now),
		ExecutionID:    s.ExecutionID,
		ExecutionStart: s.ExecutionStart,
		State:          s.State,
		At:             s.At,
		Began:          s.Began,
		Ref:            s.Ref,
		Description:    s.Description,
		Posted:         next.Posted,
		Version:        next.Version,
	}
	cond := absent(now)
	if s.Version != 0 {
		cond = live(now).And(expression.Name("version").Equal(expression.Value(s.Version)))
	}
	err := d.put(ctx, item, cond)
	if conditionFailed(err) {
		return Status{}, fmt.Errorf("put status %s version %d: %w", s.Key, s.Version, ErrConflict)
	}
	if err != nil {
		return Status{}, fmt.Errorf("put status %s: %w", s.Key, err)
	}
	return next, nil
}
