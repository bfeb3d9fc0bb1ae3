package progress_test

import (
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
)

var prod = routing.Production{Stage: "Production", ApprovalAction: "ApproveProduction"}

func TestIsGate(t *testing.T) {
	approval := progress.Event{Level: progress.ActionLevel, Category: "Approval", State: "STARTED", Stage: "Production", Action: "ApproveProduction"}
	for _, tc := range []struct {
		name string
		edit func(*progress.Event)
		want bool
	}{
		{"the approval starts", func(*progress.Event) {}, true},
		{"in the API's words", func(e *progress.Event) { e.State = "InProgress" }, true},
		{"it succeeds", func(e *progress.Event) { e.State = "SUCCEEDED" }, false},
		{"another approval", func(e *progress.Event) { e.Action = "ApproveStaging" }, false},
		{"the same action name in another stage", func(e *progress.Event) { e.Stage = "Staging" }, false},
		{"a build action of that name", func(e *progress.Event) { e.Category = "Build" }, false},
		{"the stage event", func(e *progress.Event) { e.Level, e.Action, e.Category = progress.StageLevel, "", "" }, false},
	} {
		ev := approval
		tc.edit(&ev)
		if got := progress.IsGate(prod, ev); got != tc.want {
			t.Errorf("%s: IsGate = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestGateOwns(t *testing.T) {
	for _, tc := range []struct {
		stage, state string
		want         bool
	}{
		{"Production", "STARTED", true},
		{"Production", "InProgress", true},
		{"Production", "SUCCEEDED", false}, // a final state is the stage's own
		{"Production", "FAILED", false},
		{"Staging", "STARTED", false},
		{"", "STARTED", false}, // the pipeline's own status
	} {
		if got := progress.GateOwns(prod, tc.stage, tc.state); got != tc.want {
			t.Errorf("GateOwns(%q, %q) = %v, want %v", tc.stage, tc.state, got, tc.want)
		}
	}
	if progress.GateOwns(routing.Production{}, "", "STARTED") {
		t.Error("a service without a production stage owns the pipeline's status")
	}
}

func TestStatusRef(t *testing.T) {
	for ref, want := range map[string]string{
		"refs/tags/v1.2.0":     "refs/tags/v1.2.0", // a tag's statuses are its own
		"refs/heads/main":      "",                 // branches share one record
		"refs/heads/tags/x":    "",
		"":                     "", // an execution started in the console
		"v1.2.0":               "",
		"refs/tags/release/v2": "refs/tags/release/v2",
	} {
		if got := progress.StatusRef(ref); got != want {
			t.Errorf("StatusRef(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestEnough(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ours := progress.Known{Commit: "abc", Ref: "refs/heads/main", Started: t0}
	looked := progress.Known{Commit: "abc", Trigger: "StartPipelineExecution", Started: t0}
	listed := progress.Known{Commit: "abc", Trigger: "Webhook", Started: t0}
	for _, tc := range []struct {
		name        string
		rec, inHand progress.Known
		want        bool
	}{
		// The pipeline-events function: nothing in hand, completing means asking.
		{"pipegate started it", ours, progress.Known{}, true},
		{"looked up before", looked, progress.Known{}, true},
		{"no commit", progress.Known{Ref: "refs/heads/main"}, progress.Known{}, false},
		{"the reconciler's record: no trigger", progress.Known{Commit: "abc", Started: t0}, progress.Known{}, false},
		{"a start unknown is no reason to ask", progress.Known{Commit: "abc", Ref: "refs/heads/main"}, progress.Known{}, true},
		// The reconciler: the list of recent executions is in hand.
		{"listed, same start", ours, listed, true},
		{"listed, later start", looked, progress.Known{Commit: "abc", Trigger: "Webhook", Started: t0.Add(time.Minute)}, true},
		{"listed start is earlier", ours, progress.Known{Commit: "abc", Started: t0.Add(-time.Second)}, false},
		{"recorded start unknown", progress.Known{Commit: "abc", Ref: "refs/heads/main"}, listed, false},
		{"the list has the trigger the record lacks", progress.Known{Commit: "abc", Started: t0}, listed, false},
		{"neither has the trigger", progress.Known{Commit: "abc", Started: t0}, progress.Known{Commit: "abc", Started: t0}, true},
		{"list without a start", looked, progress.Known{Commit: "abc", Trigger: "Webhook"}, true},
	} {
		if got := progress.Enough(tc.rec, tc.inHand); got != tc.want {
			t.Errorf("%s: Enough(%+v, %+v) = %v, want %v", tc.name, tc.rec, tc.inHand, got, tc.want)
		}
	}
}
