package codepipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/text"
)

const (
	prodStage  = "Production"
	prodAction = "ApproveProduction"
	// CodePipeline's approval tokens are UUIDs.
	token1 = "0f3a7c1e-5b2d-4e8f-9a6c-1d4b7e0a3c52"
	token2 = "7e1c4a9f-2d6b-4f3e-8c5a-0b9d2e6f1a47"
)

// waitingAt sets the production stage of core-pipeline to wait at its approval
// action in execution with token.
func waitingAt(emu *emulator.CodePipeline, execution, token string) {
	emu.SetStage("core-pipeline", emulator.StageState{Name: prodStage, ExecutionID: execution, Status: "InProgress", Actions: []emulator.ActionState{
		{Name: prodAction, Status: "InProgress", Token: token},
		{Name: "Deploy"},
	}})
}

func approval(token string, approved bool, summary string) Approval {
	return Approval{Pipeline: "core-pipeline", Stage: prodStage, Action: prodAction, Token: token, Approved: approved, Summary: summary}
}

func TestApprove(t *testing.T) {
	c, emu := newTest(t)
	ctx := context.Background()
	waitingAt(emu, "e1", token1)
	summary := `Approved by pipegate: !118 "Rate-limit calls to the files service" (https://gitlab.example.com/ic/core/-/merge_requests/118), approved by grace`
	if err := c.Approve(ctx, approval(token1, true, summary)); err != nil {
		t.Fatal(err)
	}
	got := emu.Approvals()
	if len(got) != 1 {
		t.Fatalf("%d approvals, want 1", len(got))
	}
	a := got[0]
	if a.Pipeline != "core-pipeline" || a.Stage != prodStage || a.Action != prodAction || a.Token != token1 || a.Status != "Approved" || a.Summary != summary {
		t.Fatalf("approval %+v", a)
	}
	stages, err := c.State(ctx, "core-pipeline")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := Waiting(stages, prodStage, prodAction); ok {
		t.Fatal("still waiting after the approval")
	}
}

func TestReject(t *testing.T) {
	c, emu := newTest(t)
	waitingAt(emu, "e1", token1)
	why := "Rejected by pipegate: commit 9c1e4b7d has no merge request; production takes only reviewed changes"
	if err := c.Approve(context.Background(), approval(token1, false, why)); err != nil {
		t.Fatal(err)
	}
	got := emu.Approvals()
	if len(got) != 1 || got[0].Status != "Rejected" || got[0].Summary != why {
		t.Fatalf("approvals %+v, want one Rejected", got)
	}
	if st := emu.Stages("core-pipeline")[0].Actions[0].Status; st != "Failed" {
		t.Fatalf("action status %s after a rejection, want Failed", st)
	}
}

// An approval that is no longer pending is ErrApprovalGone, whichever way
// CodePipeline says so, and nothing is recorded.
func TestApproveGone(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(c *Client, emu *emulator.CodePipeline) error
		token string
		code  string // what CodePipeline answers
	}{
		{
			name: "approving twice",
			setup: func(c *Client, _ *emulator.CodePipeline) error {
				return c.Approve(context.Background(), approval(token1, true, "first"))
			},
			token: token1,
			code:  "ApprovalAlreadyCompletedException",
		},
		{
			name: "rejected meanwhile by a person",
			setup: func(c *Client, _ *emulator.CodePipeline) error {
				return c.Approve(context.Background(), approval(token1, false, "not today"))
			},
			token: token1,
			code:  "ApprovalAlreadyCompletedException",
		},
		{
			// A later run of the stage waits with a new token; the old one is stale.
			name: "token of an earlier request",
			setup: func(_ *Client, emu *emulator.CodePipeline) error {
				waitingAt(emu, "e2", token2)
				return nil
			},
			token: token1,
			code:  "InvalidApprovalTokenException",
		},
		{
			name:  "wrong token",
			setup: func(*Client, *emulator.CodePipeline) error { return nil },
			token: "00000000-0000-4000-8000-000000000000",
			code:  "InvalidApprovalTokenException",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, emu := newTest(t)
			waitingAt(emu, "e1", token1)
			if err := tc.setup(c, emu); err != nil {
				t.Fatal(err)
			}
			before := len(emu.Approvals())
			err := c.Approve(context.Background(), approval(tc.token, true, "again"))
			if !errors.Is(err, ErrApprovalGone) {
				t.Fatalf("err %v, want ErrApprovalGone", err)
			}
			if !strings.Contains(err.Error(), tc.code) || !strings.Contains(err.Error(), "approve core-pipeline/Production/ApproveProduction") {
				t.Fatalf("err %q does not say what was done and what CodePipeline answered (%s)", err, tc.code)
			}
			if errors.Is(err, ErrNotFound) {
				t.Fatalf("err %v is also ErrNotFound", err)
			}
			if n := len(emu.Approvals()); n != before {
				t.Fatalf("%d approvals recorded, want %d", n, before)
			}
		})
	}
}

func TestApproveNotFound(t *testing.T) {
	for _, a := range []Approval{
		{Pipeline: "nope", Stage: prodStage, Action: prodAction},
		{Pipeline: "core-pipeline", Stage: "Prod", Action: prodAction},
		{Pipeline: "core-pipeline", Stage: prodStage, Action: "Approve"},
	} {
		c, emu := newTest(t)
		waitingAt(emu, "e1", token1)
		a.Token, a.Approved, a.Summary = token1, true, "ok"
		err := c.Approve(context.Background(), a)
		if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrApprovalGone) {
			t.Errorf("%s/%s/%s: err %v, want ErrNotFound only", a.Pipeline, a.Stage, a.Action, err)
		}
		if len(emu.Approvals()) != 0 {
			t.Errorf("%s/%s/%s: an approval was recorded", a.Pipeline, a.Stage, a.Action)
		}
	}
}

func TestApproveSummary(t *testing.T) {
	long := strings.Repeat("é", 300) + strings.Repeat("x", 300) // 600 characters, 900 bytes
	for _, tc := range []struct {
		name, summary string
		approved      bool
		want          string
	}{
		{"at the limit", strings.Repeat("y", text.MaxApprovalSummary), true, strings.Repeat("y", text.MaxApprovalSummary)},
		{"over the limit", long, true, string([]rune(long)[:text.MaxApprovalSummary-1]) + "…"},
		{"empty approval", "", true, "Approved by pipegate"},
		{"empty rejection", "", false, "Rejected by pipegate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, emu := newTest(t)
			waitingAt(emu, "e1", token1)
			if err := c.Approve(context.Background(), approval(token1, tc.approved, tc.summary)); err != nil {
				t.Fatal(err)
			}
			got := emu.Approvals()[0].Summary
			if got != tc.want {
				t.Fatalf("summary %q (%d characters), want %q", got, utf8.RuneCountInString(got), tc.want)
			}
			if n := utf8.RuneCountInString(got); n > text.MaxApprovalSummary {
				t.Fatalf("summary has %d characters, the API takes %d", n, text.MaxApprovalSummary)
			}
		})
	}
}

func TestApproveWithoutToken(t *testing.T) {
	c, emu := newTest(t)
	waitingAt(emu, "e1", token1)
	if err := c.Approve(context.Background(), approval("", true, "ok")); err == nil || errors.Is(err, ErrApprovalGone) {
		t.Fatalf("err %v, want an error that is not ErrApprovalGone", err)
	}
	if n := emu.Calls("PutApprovalResult"); n != 0 {
		t.Fatalf("%d PutApprovalResult calls, want none", n)
	}
}

func TestApproveRetriesThrottling(t *testing.T) {
	c, emu := newTest(t)
	waitingAt(emu, "e1", token1)
	emu.FailNext("PutApprovalResult", 2, emulator.Throttling)
	if err := c.Approve(context.Background(), approval(token1, true, "ok")); err != nil {
		t.Fatal(err)
	}
	if n := emu.Calls("PutApprovalResult"); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
	if n := len(emu.Approvals()); n != 1 {
		t.Fatalf("%d approvals, want 1", n)
	}
}

// State, Waiting and Approve together approve the execution the stage runs, not
// another one of the same pipeline.
func TestWaitingThenApprove(t *testing.T) {
	c, emu := newTest(t)
	ctx := context.Background()
	emu.SetStage("core-pipeline", emulator.StageState{Name: "Staging", ExecutionID: "e2", Status: "InProgress", Actions: []emulator.ActionState{
		{Name: "Deploy", Status: "InProgress"},
	}})
	waitingAt(emu, "e1", token1)
	stages, err := c.State(ctx, "core-pipeline")
	if err != nil {
		t.Fatal(err)
	}
	id, token, ok := Waiting(stages, prodStage, prodAction)
	if !ok || id != "e1" || token != token1 {
		t.Fatalf("Waiting = %q, %q, %v; want e1, %s, true", id, token, ok, token1)
	}
	if err := c.Approve(ctx, approval(token, true, "ok")); err != nil {
		t.Fatal(err)
	}
	stages, err = c.State(ctx, "core-pipeline")
	if err != nil {
		t.Fatal(err)
	}
	if id, token, ok := Waiting(stages, prodStage, prodAction); ok {
		t.Fatalf("still waiting: %q %q", id, token)
	}
}

func TestWaiting(t *testing.T) {
	prod := func(status string, actions ...ActionState) StageState {
		return StageState{Name: prodStage, ExecutionID: "e1", Status: status, Actions: actions}
	}
	waiting := ActionState{Name: prodAction, Status: "InProgress", Token: token1}
	deploy := ActionState{Name: "Deploy"}
	staging := StageState{Name: "Staging", ExecutionID: "e2", Status: "InProgress", Actions: []ActionState{{Name: prodAction, Status: "InProgress", Token: token2}}}
	for _, tc := range []struct {
		name   string
		stages []StageState
		id     string
		token  string
	}{
		{"waiting", []StageState{staging, prod("InProgress", waiting, deploy)}, "e1", token1},
		{"waiting, action listed last", []StageState{prod("InProgress", deploy, waiting)}, "e1", token1},
		{"approved", []StageState{prod("InProgress", ActionState{Name: prodAction, Status: "Succeeded", Token: token1}, ActionState{Name: "Deploy", Status: "InProgress"})}, "", ""},
		{"rejected", []StageState{prod("Failed", ActionState{Name: prodAction, Status: "Failed", Token: token1}, deploy)}, "", ""},
		// An action keeps its last run while the stage has moved on.
		{"stage not in progress", []StageState{prod("Succeeded", waiting, deploy)}, "", ""},
		{"stage stopping", []StageState{prod("Stopping", waiting, deploy)}, "", ""},
		{"no token yet", []StageState{prod("InProgress", ActionState{Name: prodAction, Status: "InProgress"}, deploy)}, "", ""},
		{"action never ran", []StageState{prod("InProgress", ActionState{Name: prodAction}, deploy)}, "", ""},
		{"another action waits", []StageState{prod("InProgress", ActionState{Name: "ApproveCanary", Status: "InProgress", Token: token2}, deploy)}, "", ""},
		{"stage never ran", []StageState{{Name: prodStage, Actions: []ActionState{waiting}}}, "", ""},
		{"no such stage", []StageState{staging}, "", ""},
		{"no stages", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, token, ok := Waiting(tc.stages, prodStage, prodAction)
			if id != tc.id || token != tc.token || ok != (tc.id != "") {
				t.Fatalf("Waiting = %q, %q, %v; want %q, %q, %v", id, token, ok, tc.id, tc.token, tc.id != "")
			}
		})
	}
}

func TestTook(t *testing.T) {
	ours := Approval{Pipeline: "p", Stage: "Production", Action: "Approve", Token: "tok", Approved: true, Summary: "Approved by pipegate: !1"}
	rejected := ours
	rejected.Approved, rejected.Summary = false, ""
	stage := func(id, status, summary, token string) []StageState {
		return []StageState{{Name: "Build"}, {Name: "Production", ExecutionID: id, Status: "InProgress", Actions: []ActionState{
			{Name: "Approve", Status: status, Summary: summary, Token: token}, {Name: "Deploy"},
		}}}
	}
	for _, tc := range []struct {
		name   string
		stages []StageState
		answer Approval
		want   bool
	}{
		{"ours, token shown", stage("e1", "Succeeded", ours.Summary, "tok"), ours, true},
		{"ours, no token shown", stage("e1", "Succeeded", ours.Summary, ""), ours, true},
		{"our rejection, default summary", stage("e1", "Failed", "Rejected by pipegate", ""), rejected, true},
		{"approved in the console", stage("e1", "Succeeded", "Approved by ada: hotfix", ""), ours, false},
		{"timed out", stage("e1", "Failed", "", ""), ours, false},
		{"rejected though we approved", stage("e1", "Failed", ours.Summary, ""), ours, false},
		{"another execution runs the stage", stage("e2", "Succeeded", ours.Summary, "tok"), ours, false},
		{"asked again with a new token", stage("e1", "InProgress", "", "tok-new"), ours, false},
		{"another request's token", stage("e1", "Succeeded", ours.Summary, "tok-other"), ours, false},
		{"no such stage", []StageState{{Name: "Build"}}, ours, false},
	} {
		if got := Took(tc.stages, "e1", tc.answer); got != tc.want {
			t.Errorf("%s: Took = %v, want %v", tc.name, got, tc.want)
		}
	}
}
