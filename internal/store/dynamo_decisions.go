package store

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

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
	item := map[string]types.AttributeValue{
		"pk":            str(decisionPK(g.Pipeline, g.ExecutionID)),
		"sk":            str(decisionPrefix + formatTime(g.At) + "#" + rand.Text()),
		"at":            str(formatTime(g.At)),
		"merge_request": num(g.MergeRequest),
		"expires_at":    num(now.Add(retention(d.Retention)).Unix()),
	}
	setStr(item, "verdict", g.Verdict)
	setStr(item, "commit_sha", g.Commit)
	setStr(item, "reason", g.Reason)
	setStr(item, "trigger", g.Trigger)
	if len(g.Approvers) > 0 {
		// A list, not a string set: it keeps the order the gate gave them.
		list := make([]types.AttributeValue, len(g.Approvers))
		for i, a := range g.Approvers {
			list[i] = str(a)
		}
		item["approvers"] = &types.AttributeValueMemberL{Value: list}
	}
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: item})
	if err != nil {
		return fmt.Errorf("record gate decision %s/%s: %w", g.Pipeline, g.ExecutionID, err)
	}
	return nil
}

// Decisions returns the decisions recorded for one execution of pipeline,
// oldest first (by At).
func (d *Dynamo) Decisions(ctx context.Context, pipeline, executionID string) ([]GateDecision, error) {
	now := clock(d.Now)
	in := &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     str(decisionPK(pipeline, executionID)),
			":prefix": str(decisionPrefix),
		},
		// A decision just recorded must be in the answer.
		ConsistentRead:   aws.Bool(true),
		ScanIndexForward: aws.Bool(true),
	}
	var out []GateDecision
	for {
		page, err := d.api.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("read gate decisions %s/%s: %w", pipeline, executionID, err)
		}
		for _, item := range page.Items {
			exp, err := numOf(item["expires_at"])
			if err != nil {
				return nil, fmt.Errorf("read gate decisions %s/%s: expires_at: %w", pipeline, executionID, err)
			}
			if exp <= now.Unix() {
				continue
			}
			g, err := decodeDecision(pipeline, executionID, item)
			if err != nil {
				return nil, fmt.Errorf("read gate decisions %s/%s: %w", pipeline, executionID, err)
			}
			out = append(out, g)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// decisionPrefix starts the sort key of every gate decision.
const decisionPrefix = "decision#"

func decisionPK(pipeline, executionID string) string {
	return "gate#" + pipeline + "#" + executionID
}

func decodeDecision(pipeline, executionID string, item map[string]types.AttributeValue) (GateDecision, error) {
	g := GateDecision{
		Pipeline:    pipeline,
		ExecutionID: executionID,
		Verdict:     strOf(item["verdict"]),
		Commit:      strOf(item["commit_sha"]),
		Reason:      strOf(item["reason"]),
		Trigger:     strOf(item["trigger"]),
	}
	var err error
	if g.At, err = timeOf(item["at"]); err != nil {
		return GateDecision{}, fmt.Errorf("at: %w", err)
	}
	if g.MergeRequest, err = numOf(item["merge_request"]); err != nil {
		return GateDecision{}, fmt.Errorf("merge_request: %w", err)
	}
	if l, ok := item["approvers"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			g.Approvers = append(g.Approvers, strOf(v))
		}
	}
	return g, nil
}
