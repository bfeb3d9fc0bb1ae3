package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// hookedLog runs meanwhile once, right after the gate records a decision: between
// deciding and showing the decision in GitLab, where another evaluation or a
// stage event can land.
type hookedLog struct {
	app.Store
	meanwhile func()
}

func (h *hookedLog) RecordDecision(ctx context.Context, d store.GateDecision) error {
	err := h.Store.RecordDecision(ctx, d)
	if f := h.meanwhile; f != nil {
		h.meanwhile = nil
		f()
	}
	return err
}

// A wait decided while another evaluation opened the gate and production
// succeeded does not touch the stage's status: GitLab shows this execution's
// stage finished, so the wait is stale. (Canceling it to change the words would
// have replaced the success with a pending "needs 1 more approval".)
func TestGateWaitNeverReplacesANewerState(t *testing.T) {
	h := &hookedLog{Store: store.NewMemory()}
	w := newWorld(t, withClock, withStore(h))
	cfg, err := routing.Parse([]byte("services:\n  - name: core\n    project: team/core\n    pipeline: core-pipeline\n    production: {min_approvals: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	w.app.Routes = cfg
	id := w.pushed()
	w.gl.AddMergeRequest("team/core", mergedMR())
	w.waitAtGate(id, "tok-n")
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Wait) {
		t.Fatalf("answer %+v, want wait", ans)
	}
	w.gl.AddMergeRequest("team/core", mergedMR("alice")) // this evaluation reads one approval
	h.meanwhile = func() {                               // another: bob approves, the gate opens, production succeeds
		w.gl.AddMergeRequest("team/core", mergedMR("alice", "bob"))
		if _, err := w.app.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := w.approvals(); len(got) != 1 {
			t.Fatalf("approvals %+v, want 1", got)
		}
		w.event(emulator.StageEvent("core-pipeline", id, "Production", "SUCCEEDED", at(600)))
	}
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.meanwhile != nil {
		t.Fatal("no decision was recorded: the race did not happen")
	}
	if s := w.latest(prodStatus); s.State != "success" {
		t.Errorf("Production status %s %q after the stage succeeded, want success", s.State, s.Description)
	}
	for _, s := range w.gl.Statuses() {
		if s.Name == prodStatus && s.State == "canceled" {
			t.Errorf("Production status canceled (%q): a stale wait touched it", s.Description)
		}
	}
}

// When GitLab fails the cancel that changes the words, the evaluation fails (the
// event or the run is retried) and the next evaluation, reading what GitLab
// shows, changes them: the old words never stay for good.
func TestGateWordsChangeAfterAFailedCancel(t *testing.T) {
	h := &hookedLog{Store: store.NewMemory()}
	w := newWorld(t, withClock, withStore(h))
	id := w.pushed()
	w.gl.AddMergeRequest("team/core", mergedMR())
	w.waitAtGate(id, "tok-c")
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Wait) {
		t.Fatalf("answer %+v, want wait", ans)
	}
	w.gl.AddMergeRequest("team/core", mergedMR("bob"))
	w.gl.SetFreezePeriods("team/core", weekendFreeze)
	h.meanwhile = func() { w.gl.FailNext("statuses", 3, emulator.ServerError) } // the cancel, with client-go's retries
	if _, err := w.app.Reconcile(context.Background()); err == nil {
		t.Error("reconcile with the cancel failing: no error, so nothing would retry it")
	}
	if s := w.latest(prodStatus); !strings.Contains(s.Description, "needs 1 more approval") || s.State != "pending" {
		t.Fatalf("Production status %s %q, want the old words still (the cancel failed)", s.State, s.Description)
	}
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.approvals(); len(got) != 0 {
		t.Fatalf("approved %+v inside a deploy freeze", got)
	}
	if s := w.latest(prodStatus); s.State != "pending" || s.Description != "Production held: deploy freeze until Mon 30 Nov 08:00 CET" {
		t.Errorf("Production status %s %q after the next reconcile, want the freeze's words", s.State, s.Description)
	}
}
