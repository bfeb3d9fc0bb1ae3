package app_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/gitlab"
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

// waitingForApproval pushes the commit, whose merge request has no approval,
// and brings its execution to the gate, which waits; it returns the execution.
func (w *world) waitingForApproval(token string) string {
	w.t.Helper()
	id := w.pushed()
	w.gl.AddMergeRequest("team/core", mergedMR())
	w.waitAtGate(id, token)
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Wait) {
		w.t.Fatalf("answer %+v, want wait", ans)
	}
	return id
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
	id := w.waitingForApproval("tok-n")
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
	w.waitingForApproval("tok-c")
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

// failStatusPosts lets pass commit status posts through to GitLab, then
// answers the next fail of them 500 (client-go retries a 500 twice).
type failStatusPosts struct {
	mu         sync.Mutex
	pass, fail int
	next       http.Handler
}

func (f *failStatusPosts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/statuses/") {
		f.mu.Lock()
		refuse := false
		switch {
		case f.pass > 0:
			f.pass--
		case f.fail > 0:
			f.fail--
			refuse = true
		}
		f.mu.Unlock()
		if refuse {
			http.Error(w, `{"message":"500 Internal Server Error"}`, http.StatusInternalServerError)
			return
		}
	}
	f.next.ServeHTTP(w, r)
}

// When the cancel that changes the gate's words goes through but the new
// pending does not, GitLab shows this execution's Production status canceled.
// The evaluation fails and is retried; the next one knows the cancel for
// pipegate's own by its words and posts the pending (it took any status of this
// execution that was not pending for a newer state, and GitLab showed
// Production canceled while the gate waited).
func TestGateWordsChangeAfterAFailedPending(t *testing.T) {
	h := &hookedLog{Store: store.NewMemory()}
	w := newWorld(t, withClock, withStore(h))
	f := &failStatusPosts{next: w.gl}
	gl, err := gitlab.New(serve(t, f), glToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.app.GitLab = gl
	w.waitingForApproval("tok-c")
	w.gl.AddMergeRequest("team/core", mergedMR("bob"))
	w.gl.SetFreezePeriods("team/core", weekendFreeze)
	h.meanwhile = func() { f.mu.Lock(); f.pass, f.fail = 1, 3; f.mu.Unlock() } // the cancel lands, the pending fails
	if _, err := w.app.Reconcile(context.Background()); err == nil {
		t.Error("reconcile with the pending failing: no error, so nothing would retry it")
	}
	if s := w.latest(prodStatus); s.State != "canceled" {
		t.Fatalf("Production status %s %q, want canceled (the cancel landed)", s.State, s.Description)
	}
	for range 2 {
		if _, err := w.app.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if s := w.latest(prodStatus); s.State != "pending" || s.Description != "Production held: deploy freeze until Mon 30 Nov 08:00 CET" {
		t.Errorf("Production status %s %q after two more reconciles, want pending with the freeze's words", s.State, s.Description)
	}
}

// Two executions of one commit (the push delivered under two keys, or the
// change released again in the console): the first waits at the gate, a
// person rejects it in the console and the second enters Production. The
// second's gate reads the first's pending status and replaces it: posting
// pending over it, GitLab refused (a pending status of that name and ref
// exists) and kept showing the first execution waiting, with its link and
// words; the first's late FAILED event, older than the second's stage, is not
// posted either.
func TestGateWaitReplacesAnotherExecutionsWait(t *testing.T) {
	w := newWorld(t, withClock)
	id1 := w.waitingForApproval("tok-1")
	code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main"),
		headers: map[string]string{"idempotency-key": "again", "x-gitlab-event-uuid": "uuid-again"}})
	if code != http.StatusOK || len(ans.Started) != 1 {
		t.Fatalf("second push of the commit: %d %+v", code, ans)
	}
	id2 := ans.Started[0].ExecutionID
	w.gl.SetFreezePeriods("team/core", weekendFreeze)
	w.gl.AddMergeRequest("team/core", mergedMR("bob"))
	w.waitAtGate(id2, "tok-2") // the first was rejected in the console; the second waits
	w.event(emulator.StageEvent("core-pipeline", id2, "Production", "STARTED", at(400)))
	if ans := w.event(approvalStarted(id2)); !gated(ans, gate.Wait) {
		t.Fatalf("answer %+v, want wait", ans)
	}
	w.event(emulator.StageEvent("core-pipeline", id1, "Production", "FAILED", at(350))) // late
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := w.latest(prodStatus)
	if want := w.app.Pipelines.ExecutionURL("core-pipeline", id2); s.TargetURL != want || s.State != "pending" {
		t.Errorf("Production status %s %q links %s, want pending for the waiting execution %s", s.State, s.Description, s.TargetURL, id2)
	}
}
