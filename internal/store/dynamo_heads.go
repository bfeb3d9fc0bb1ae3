package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// headItem is a branch's last known head: pk "head#<project>#<branch>", sk
// "head". Each commit seen as its head has an item of its own in the same
// partition, sk "seen#<commit>", so that a late delivery of an older push,
// which moves the last known head back, does not make the newer head look
// undelivered.
type headItem struct {
	record
	Commit      string    `dynamodbav:"commit"`
	At          time.Time `dynamodbav:"at"`
	Candidate   string    `dynamodbav:"candidate,omitempty"`
	CandidateAt time.Time `dynamodbav:"candidate_at,omitempty"`
}

type seenItem struct {
	record
}

func headPK(project, branch string) string { return "head#" + project + "#" + branch }

func headKey(project, branch string) itemKey {
	return itemKey{PK: headPK(project, branch), SK: "head"}
}

func seenKey(project, branch, commit string) itemKey {
	return itemKey{PK: headPK(project, branch), SK: "seen#" + commit}
}

// NoteHead records commit as branch's last known head, and as a commit seen on
// it (HeadSeen). It replaces a candidate: the reconciler decides again.
func (d *Dynamo) NoteHead(ctx context.Context, project, branch, commit string) error {
	if err := checkHead(project, branch, commit); err != nil {
		return err
	}
	now := clock(d.Now)
	// Seen first: whoever reads the head finds it seen.
	if err := d.put(ctx, seenItem{d.record(seenKey(project, branch, commit), now)}, expression.ConditionBuilder{}); err != nil {
		return fmt.Errorf("record commit %s seen on %s of %s: %w", commit, branch, project, err)
	}
	item := headItem{record: d.record(headKey(project, branch), now), Commit: commit, At: now}
	if err := d.put(ctx, item, expression.ConditionBuilder{}); err != nil {
		return fmt.Errorf("record head %s of %s of %s: %w", commit, branch, project, err)
	}
	return nil
}

// GetHead returns branch's last known head.
func (d *Dynamo) GetHead(ctx context.Context, project, branch string) (Head, bool, error) {
	var it headItem
	found, err := d.get(ctx, headKey(project, branch), clock(d.Now), &it)
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("get head of %s of %s: %w", branch, project, err)
		}
		return Head{}, false, err
	}
	return Head{Project: project, Branch: branch, Commit: it.Commit, At: it.At, Candidate: it.Candidate, CandidateAt: it.CandidateAt}, true, nil
}

// HeadSeen reports whether commit was ever recorded as branch's head.
func (d *Dynamo) HeadSeen(ctx context.Context, project, branch, commit string) (bool, error) {
	var it seenItem
	found, err := d.get(ctx, seenKey(project, branch, commit), clock(d.Now), &it)
	if err != nil {
		return false, fmt.Errorf("look up commit %s on %s of %s: %w", commit, branch, project, err)
	}
	return found, nil
}

// PutCandidate records commit as branch's candidate, first found at now, unless
// it is the candidate already. Without a head record it does nothing: a branch
// without one is a baseline, never started.
func (d *Dynamo) PutCandidate(ctx context.Context, project, branch, commit string) error {
	if err := checkHead(project, branch, commit); err != nil {
		return err
	}
	now := clock(d.Now)
	cand := expression.Name("candidate")
	err := d.update(ctx, headKey(project, branch),
		expression.Set(cand, expression.Value(commit)).Set(expression.Name("candidate_at"), expression.Value(formatTime(now))),
		live(now).And(cand.AttributeNotExists().Or(cand.NotEqual(expression.Value(commit)))), nil)
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("record candidate head %s of %s of %s: %w", commit, branch, project, err)
	}
	return nil
}
