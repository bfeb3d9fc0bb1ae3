package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// decisionItem is one gate decision: pk "gate#<pipeline>#<execution>", sk
// "decision#<time>#<random>".
type decisionItem struct {
	record
	At           time.Time `dynamodbav:"at"`
	Verdict      string    `dynamodbav:"verdict,omitempty"`
	Commit       string    `dynamodbav:"commit_sha,omitempty"`
	MergeRequest int64     `dynamodbav:"merge_request"`
	// A list, not a string set: it keeps the order the gate gave them.
	Approvers []string `dynamodbav:"approvers,omitempty"`
	Reason    string   `dynamodbav:"reason,omitempty"`
	Trigger   string   `dynamodbav:"trigger,omitempty"`
}

// decisionPrefix starts the sort key of every gate decision.
const decisionPrefix = "decision#"

func decisionPK(pipeline, executionID string) string {
	return "gate#" + pipeline + "#" + executionID
}

func (it decisionItem) decision(pipeline, executionID string) GateDecision {
	return GateDecision{
		Pipeline:     pipeline,
		ExecutionID:  executionID,
		At:           it.At,
		Verdict:      it.Verdict,
		Commit:       it.Commit,
		MergeRequest: it.MergeRequest,
		Approvers:    it.Approvers,
		Reason:       it.Reason,
		Trigger:      it.Trigger,
	}
}

// RecordDecision keeps g for Retention: one item per call, so every evaluation
// of a gate stays on file. The random end of its sort key keeps two decisions
// of the same instant apart, and makes an SDK retry of a write that landed
// rewrite the same item rather than add one.
func (d *Dynamo) RecordDecision(ctx context.Context, g GateDecision) error {
	if err := checkDecision(g); err != nil {
		return err
	}
	now := clock(d.Now)
	g = normalDecision(g, now)
	k := itemKey{PK: decisionPK(g.Pipeline, g.ExecutionID), SK: decisionPrefix + formatTime(g.At) + "#" + rand.Text()}
	item := decisionItem{
		record:       d.record(k, now),
		At:           g.At,
		Verdict:      g.Verdict,
		Commit:       g.Commit,
		MergeRequest: g.MergeRequest,
		Approvers:    g.Approvers,
		Reason:       g.Reason,
		Trigger:      g.Trigger,
	}
	// No condition: the item is new, its sort key drawn at random.
	if err := d.put(ctx, item, expression.ConditionBuilder{}); err != nil {
		return fmt.Errorf("record gate decision %s/%s: %w", g.Pipeline, g.ExecutionID, err)
	}
	return nil
}

// Decisions returns the decisions recorded for one execution of pipeline,
// oldest first (by At).
func (d *Dynamo) Decisions(ctx context.Context, pipeline, executionID string) ([]GateDecision, error) {
	now := clock(d.Now)
	items, err := query[decisionItem](ctx, d, expression.Key("pk").Equal(expression.Value(decisionPK(pipeline, executionID))).
		And(expression.Key("sk").BeginsWith(decisionPrefix)))
	if err != nil {
		return nil, fmt.Errorf("read gate decisions %s/%s: %w", pipeline, executionID, err)
	}
	var out []GateDecision
	for _, it := range items {
		if it.liveAt(now) {
			out = append(out, it.decision(pipeline, executionID))
		}
	}
	return out, nil
}
