package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// GetStatus returns the status recorded for key; when there is none, a
// Status with only Key set (Version 0).
func (d *Dynamo) GetStatus(ctx context.Context, key StatusKey) (Status, bool, error) {
	item, found, err := d.get(ctx, statusKey(key), clock(d.Now))
	if err != nil {
		return Status{Key: key}, false, fmt.Errorf("get status %s: %w", key, err)
	}
	if !found {
		return Status{Key: key}, false, nil
	}
	s, err := decodeStatus(key, item)
	if err != nil {
		return Status{Key: key}, false, fmt.Errorf("get status %s: %w", key, err)
	}
	return s, true, nil
}

// PutStatus stores s if the recorded version is still s.Version (0:
// nothing recorded) and returns s with its new Version; otherwise it
// returns ErrConflict. An SDK retry of a write that landed also reads as
// ErrConflict; the caller's re-read then finds its own write.
func (d *Dynamo) PutStatus(ctx context.Context, s Status) (Status, error) {
	now := clock(d.Now)
	k := statusKey(s.Key)
	next := s
	next.Version++
	item := map[string]types.AttributeValue{
		"pk":         k["pk"],
		"sk":         k["sk"],
		"posted":     &types.AttributeValueMemberBOOL{Value: next.Posted},
		"version":    num(next.Version),
		"expires_at": num(now.Add(retention(d.Retention)).Unix()),
	}
	setStr(item, "execution_id", s.ExecutionID)
	setStr(item, "state", s.State)
	setStr(item, "ref", s.Ref)
	setStr(item, "description", s.Description)
	setTime(item, "execution_start", s.ExecutionStart)
	setTime(item, "at", s.At)
	setTime(item, "began", s.Began)

	cond, names := absent, map[string]string(nil)
	values := map[string]types.AttributeValue{":now": num(now.Unix())}
	if s.Version != 0 {
		cond = live + " AND #version = :version"
		names = map[string]string{"#version": "version"}
		values[":version"] = num(s.Version)
	}
	err := d.put(ctx, item, cond, names, values)
	if conditionFailed(err) {
		return Status{}, fmt.Errorf("put status %s version %d: %w", s.Key, s.Version, ErrConflict)
	}
	if err != nil {
		return Status{}, fmt.Errorf("put status %s: %w", s.Key, err)
	}
	return next, nil
}

func statusKey(k StatusKey) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("status#" + k.Project + "#" + k.CommitSHA + "#" + k.Name), "sk": str("status#" + k.Ref)}
}

func decodeStatus(key StatusKey, item map[string]types.AttributeValue) (Status, error) {
	s := Status{
		Key:         key,
		ExecutionID: strOf(item["execution_id"]),
		State:       strOf(item["state"]),
		Ref:         strOf(item["ref"]),
		Description: strOf(item["description"]),
	}
	if b, ok := item["posted"].(*types.AttributeValueMemberBOOL); ok {
		s.Posted = b.Value
	}
	var err error
	if s.Version, err = numOf(item["version"]); err != nil {
		return Status{}, fmt.Errorf("version: %w", err)
	}
	for name, t := range map[string]*time.Time{
		"execution_start": &s.ExecutionStart,
		"at":              &s.At,
		"began":           &s.Began,
	} {
		if *t, err = timeOf(item[name]); err != nil {
			return Status{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	return s, nil
}
