package store_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

// decisionStore is the audit part of a store.
type decisionStore interface {
	RecordDecision(ctx context.Context, d store.GateDecision) error
	Decisions(ctx context.Context, pipeline, executionID string) ([]store.GateDecision, error)
}

// newDecisionStore returns an empty store on clock c with retention r (0: default).
// The decisions suite runs inside each backend's conformance suite (store_test.go).
type newDecisionStore func(t *testing.T, c *clock, r time.Duration) decisionStore

const gateSHA = "9c1e4b7d2a5f8e3c6b0d9a4f7e2c5b8d1a6f3e0c"

// decisionAt is a decision of core-pipeline's execution e1 at t.
func decisionAt(t time.Time, verdict, trigger string) store.GateDecision {
	d := store.GateDecision{
		Pipeline: "core-pipeline", ExecutionID: "e1", At: t, Verdict: verdict, Commit: gateSHA,
		MergeRequest: 118, Trigger: trigger,
	}
	switch verdict {
	case "wait":
		d.Reason = "needs 1 more approval on !118"
	case "approve":
		d.Approvers = []string{"grace", "linus"}
		d.Reason = `Approved by pipegate: !118 "Rate-limit calls to the files service" (https://gitlab.example.com/ic/core/-/merge_requests/118), approved by grace, linus`
	}
	return d
}

func decisionConformance(t *testing.T, newStore newDecisionStore) {
	ctx := context.Background()

	t.Run("none", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		got, err := s.Decisions(ctx, "core-pipeline", "e1")
		if err != nil || len(got) != 0 {
			t.Fatalf("decisions of an unknown execution = %+v, %v; want none", got, err)
		}
	})

	t.Run("round trip", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		berlin := time.FixedZone("CET", 3600)
		want := []store.GateDecision{
			decisionAt(clk.Now().Add(5), "wait", "approval action"),
			// Given in another zone: kept as the same instant, in UTC.
			decisionAt(clk.Now().Add(3*time.Minute).In(berlin), "approve", "merge request !118 approved"),
			{Pipeline: "core-pipeline", ExecutionID: "e1", At: clk.Now().Add(4 * time.Minute), Verdict: "reject", Commit: gateSHA,
				Reason: "Rejected by pipegate: commit 9c1e4b7d has no merge request", Trigger: "reconciler", Approvers: []string{}},
		}
		for _, d := range want {
			if err := s.RecordDecision(ctx, d); err != nil {
				t.Fatalf("record: %v", err)
			}
		}
		want[1].At = want[1].At.UTC()
		want[2].Approvers = nil // none is none, however given
		sameDecisions(t, s, "core-pipeline", "e1", want)
	})

	t.Run("many for one execution, oldest first", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		var want []store.GateDecision
		for i := range 40 {
			verdict := "wait"
			if i == 39 {
				verdict = "approve"
			}
			want = append(want, decisionAt(clk.Now().Add(time.Duration(i)*time.Minute+time.Duration(i)), verdict, fmt.Sprintf("reconciler %d", i)))
		}
		// Recorded out of order, as concurrent evaluations may finish.
		order := slices.Clone(want)
		slices.Reverse(order[10:30])
		for _, d := range order {
			if err := s.RecordDecision(ctx, d); err != nil {
				t.Fatalf("record: %v", err)
			}
		}
		sameDecisions(t, s, "core-pipeline", "e1", want)
	})

	t.Run("the same decision twice is two records", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		d := decisionAt(clk.Now(), "wait", "approval action")
		for range 2 {
			if err := s.RecordDecision(ctx, d); err != nil {
				t.Fatalf("record: %v", err)
			}
		}
		sameDecisions(t, s, "core-pipeline", "e1", []store.GateDecision{d, d})
	})

	t.Run("zero time is when recorded", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		clk.Advance(90 * time.Second)
		d := decisionAt(time.Time{}, "wait", "approval action")
		if err := s.RecordDecision(ctx, d); err != nil {
			t.Fatalf("record: %v", err)
		}
		d.At = clk.Now()
		sameDecisions(t, s, "core-pipeline", "e1", []store.GateDecision{d})
	})

	t.Run("executions are kept apart", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		byKey := map[[2]string][]store.GateDecision{}
		// Two executions of one pipeline (one id a prefix of the other), the same
		// execution id in another pipeline, and a pipeline whose name is a prefix.
		for i, k := range [][2]string{
			{"core-pipeline", "e1"}, {"core-pipeline", "e10"}, {"files-pipeline", "e1"}, {"core", "e1"},
			{"core-pipeline", "e1"}, {"core-pipeline", "e10"},
		} {
			d := decisionAt(clk.Now().Add(time.Duration(i)*time.Second), "wait", "reconciler")
			d.Pipeline, d.ExecutionID = k[0], k[1]
			d.Reason = fmt.Sprintf("decision %d of %s/%s", i, k[0], k[1])
			if err := s.RecordDecision(ctx, d); err != nil {
				t.Fatalf("record: %v", err)
			}
			byKey[k] = append(byKey[k], d)
		}
		for k, want := range byKey {
			sameDecisions(t, s, k[0], k[1], want)
		}
		sameDecisions(t, s, "core-pipeline", "e", nil)
		sameDecisions(t, s, "auth-pipeline", "e1", nil)
	})

	t.Run("the caller's slice is not kept", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		d := decisionAt(clk.Now(), "approve", "approval action")
		approvers := d.Approvers
		if err := s.RecordDecision(ctx, d); err != nil {
			t.Fatalf("record: %v", err)
		}
		approvers[0] = "mallory"
		want := decisionAt(clk.Now(), "approve", "approval action")
		sameDecisions(t, s, "core-pipeline", "e1", []store.GateDecision{want})
		got, _ := s.Decisions(ctx, "core-pipeline", "e1")
		got[0].Approvers[0] = "eve"
		sameDecisions(t, s, "core-pipeline", "e1", []store.GateDecision{want})
	})

	t.Run("refused without pipeline or execution", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		for _, d := range []store.GateDecision{
			{ExecutionID: "e1", Verdict: "wait"},
			{Pipeline: "core-pipeline", Verdict: "wait"},
		} {
			if err := s.RecordDecision(ctx, d); err == nil {
				t.Errorf("record %+v: no error", d)
			}
		}
	})

	t.Run("expiry", func(t *testing.T) {
		const r = 2 * time.Hour
		clk := newClock()
		s := newStore(t, clk, r)
		old := decisionAt(clk.Now(), "wait", "approval action")
		if err := s.RecordDecision(ctx, old); err != nil {
			t.Fatalf("record: %v", err)
		}
		clk.Advance(r - time.Minute)
		recent := decisionAt(clk.Now(), "approve", "merge request !118 approved")
		if err := s.RecordDecision(ctx, recent); err != nil {
			t.Fatalf("record: %v", err)
		}
		sameDecisions(t, s, "core-pipeline", "e1", []store.GateDecision{old, recent})
		clk.Advance(2 * time.Minute)
		sameDecisions(t, s, "core-pipeline", "e1", []store.GateDecision{recent})
		clk.Advance(r)
		sameDecisions(t, s, "core-pipeline", "e1", nil)
	})
}

func sameDecisions(t *testing.T, s decisionStore, pipeline, execution string, want []store.GateDecision) {
	t.Helper()
	got, err := s.Decisions(context.Background(), pipeline, execution)
	if err != nil {
		t.Fatalf("decisions of %s/%s: %v", pipeline, execution, err)
	}
	if !slices.EqualFunc(got, want, sameDecision) {
		t.Fatalf("decisions of %s/%s:\ngot  %+v\nwant %+v", pipeline, execution, got, want)
	}
	for _, d := range got {
		if d.At.Location() != time.UTC {
			t.Fatalf("decision at %v: not in UTC", d.At)
		}
	}
}

func sameDecision(a, b store.GateDecision) bool {
	return a.Pipeline == b.Pipeline && a.ExecutionID == b.ExecutionID && a.At.Equal(b.At) && a.Verdict == b.Verdict &&
		a.Commit == b.Commit && a.MergeRequest == b.MergeRequest && slices.Equal(a.Approvers, b.Approvers) &&
		(a.Approvers == nil) == (b.Approvers == nil) && a.Reason == b.Reason && a.Trigger == b.Trigger
}

// countingAPI counts the Query calls that reach DynamoDB.
type countingAPI struct {
	store.DynamoAPI
	queries int
}

func (c *countingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries++
	return c.DynamoAPI.Query(ctx, in, optFns...)
}

// TestDynamoDecisionsPages reads decisions that DynamoDB answers in more than
// one Query page (a page holds at most 1 MB).
func TestDynamoDecisionsPages(t *testing.T) {
	ctx := context.Background()
	client := testenv.DynamoClient(t)
	api := &countingAPI{DynamoAPI: client}
	clk := newClock()
	d := store.NewDynamo(api, testenv.CreateTable(t, client))
	d.Now = clk.Now
	var want []store.GateDecision
	for i := range 300 {
		g := decisionAt(clk.Now().Add(time.Duration(i)*time.Second), "wait", "reconciler")
		g.Reason = fmt.Sprintf("%03d %s", i, strings.Repeat("x", 4000)) // 300 x 4 KB: over 1 MB
		if err := d.RecordDecision(ctx, g); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		want = append(want, g)
	}
	sameDecisions(t, d, "core-pipeline", "e1", want)
	if api.queries < 2 {
		t.Fatalf("%d Query calls: the answer did not need paging, so this test tests nothing", api.queries)
	}
}

// TestDynamoDecisionItems checks the keys and attributes of a decision as
// ISSUE4.md documents them, and that expires_at is a number (DynamoDB's TTL).
func TestDynamoDecisionItems(t *testing.T) {
	ctx := context.Background()
	client := testenv.DynamoClient(t)
	table := testenv.CreateTable(t, client)
	clk := newClock()
	d := store.NewDynamo(client, table)
	d.Now = clk.Now

	g := decisionAt(clk.Now().Add(5), "approve", "merge request !118 approved")
	if err := d.RecordDecision(ctx, g); err != nil {
		t.Fatalf("record: %v", err)
	}
	out, err := client.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(table),
		KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: "gate#core-pipeline#e1"},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("query gate#core-pipeline#e1 = %+v, %v; want one item", out, err)
	}
	item := out.Items[0]
	sk, _ := item["sk"].(*types.AttributeValueMemberS)
	if sk == nil || !regexp.MustCompile(`^decision#2026-03-02T10:00:00\.000000005Z#[A-Z2-7]{26}$`).MatchString(sk.Value) {
		t.Fatalf("sk = %#v, want decision#<time, 9 digits>#<random>", item["sk"])
	}
	wantAttrs(t, "decision", item, map[string]types.AttributeValue{
		"expires_at":    &types.AttributeValueMemberN{Value: itoa(clk.Now().Add(store.DefaultRetention).Unix())},
		"at":            &types.AttributeValueMemberS{Value: "2026-03-02T10:00:00.000000005Z"},
		"verdict":       &types.AttributeValueMemberS{Value: "approve"},
		"commit_sha":    &types.AttributeValueMemberS{Value: gateSHA},
		"merge_request": &types.AttributeValueMemberN{Value: "118"},
		"trigger":       &types.AttributeValueMemberS{Value: "merge request !118 approved"},
		"reason":        &types.AttributeValueMemberS{Value: g.Reason},
	})
	l, ok := item["approvers"].(*types.AttributeValueMemberL)
	if !ok || len(l.Value) != 2 {
		t.Fatalf("approvers = %#v, want a list of two", item["approvers"])
	}

	// Nothing to leave out is left in.
	clk.Advance(time.Second)
	if err := d.RecordDecision(ctx, store.GateDecision{Pipeline: "core-pipeline", ExecutionID: "e2", Verdict: "wait"}); err != nil {
		t.Fatalf("record: %v", err)
	}
	out, err = client.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(table),
		KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: "gate#core-pipeline#e2"},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("query gate#core-pipeline#e2 = %+v, %v; want one item", out, err)
	}
	wantAttrs(t, "bare decision", out.Items[0], map[string]types.AttributeValue{
		"merge_request": &types.AttributeValueMemberN{Value: "0"},
		"at":            &types.AttributeValueMemberS{Value: "2026-03-02T10:00:01.000000000Z"},
	}, "approvers", "commit_sha", "reason", "trigger")
}
