package app_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/store"
)

// deployments are team/core's deployments at GitLab, by environment.
func (w *world) deployments() map[string][]emulator.Deployment {
	out := map[string][]emulator.Deployment{}
	for _, d := range w.gl.Deployments("team/core") {
		out[d.Environment] = append(out[d.Environment], d)
	}
	return out
}

func wantHistory(t *testing.T, deps map[string][]emulator.Deployment, env string, want ...string) {
	t.Helper()
	list := deps[env]
	if len(want) == 0 {
		if len(list) != 0 {
			t.Errorf("%s: %+v, want no deployment", env, list)
		}
		return
	}
	if len(list) != 1 {
		t.Fatalf("%s: %d deployments %+v, want one", env, len(list), list)
	}
	d := list[0]
	if !slices.Equal(d.History, want) || d.SHA != headSHA || d.Ref != "main" || d.Tag {
		t.Errorf("%s: %+v, want %v of %s on main", env, d, want, headSHA)
	}
}

// An execution that succeeds: staging runs and succeeds; production waits at
// the gate as created, runs once approved, succeeds. The badge reads the same.
func TestDeploymentsOfASuccess(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	w.event(emulator.StageEvent("core-pipeline", id, "Staging", "STARTED", at(10)))
	w.event(emulator.StageEvent("core-pipeline", id, "Staging", "SUCCEEDED", at(20)))
	ans := w.event(emulator.StageEvent("core-pipeline", id, "Production", "STARTED", at(30)))
	if ans.Environment != "production" || ans.Deployment != "created" {
		t.Errorf("production's start: %+v, want the production deployment created", ans)
	}
	ans = w.event(emulator.ActionEvent("core-pipeline", id, "Production", "ApproveProduction", "Approval", "Manual", "SUCCEEDED", at(40)))
	if ans.Result != app.EventPosted || ans.Deployment != "running" {
		t.Errorf("approval: %+v, want the deployment moved to running", ans)
	}
	w.event(emulator.StageEvent("core-pipeline", id, "Production", "SUCCEEDED", at(50)))
	deps := w.deployments()
	wantHistory(t, deps, "staging", "running", "success")
	wantHistory(t, deps, "production", "created", "running", "success")
	results, err := w.store.Results(context.Background(), "core")
	if err != nil || len(results) != 2 || results[0].State != "success" || results[1].State != "success" {
		t.Errorf("badge results %+v %v, want staging and production success", results, err)
	}
}

// Fails at staging: staging's deployment failed, no production deployment.
func TestDeploymentsFailAtStaging(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	w.event(emulator.StageEvent("core-pipeline", id, "Staging", "STARTED", at(10)))
	w.event(emulator.StageEvent("core-pipeline", id, "Staging", "FAILED", at(20)))
	w.event(emulator.PipelineEvent("core-pipeline", id, "FAILED", at(20)))
	deps := w.deployments()
	wantHistory(t, deps, "staging", "running", "failed")
	wantHistory(t, deps, "production")
}

// Stopped at the gate by a newer execution: the waiting deployment is
// canceled; the newer execution has a deployment of its own, and the older
// one's late events never touch it.
func TestDeploymentsSupersededAtTheGate(t *testing.T) {
	w := newWorld(t, withClock)
	old := w.pushed()
	w.cp.AddExecution("core-pipeline", emulator.Execution{ID: "newer", CommitSHA: headSHA, Status: "InProgress", StartedAt: at(60)})
	w.event(emulator.StageEvent("core-pipeline", old, "Production", "STARTED", at(30)))
	w.event(emulator.StageEvent("core-pipeline", "newer", "Production", "STARTED", at(90)))
	w.event(emulator.StageEvent("core-pipeline", old, "Production", "CANCELED", at(80)))
	w.event(emulator.PipelineEvent("core-pipeline", old, "SUPERSEDED", at(80)))
	w.event(emulator.StageEvent("core-pipeline", old, "Production", "STARTED", at(30))) // late duplicate
	list := w.deployments()["production"]
	if len(list) != 2 || !slices.Equal(list[0].History, []string{"created", "canceled"}) || !slices.Equal(list[1].History, []string{"created"}) {
		t.Fatalf("production deployments %+v, want the older canceled and the newer created", list)
	}
}

// failingPuts makes the store fail the write that records a created
// deployment's id: the invocation dies between GitLab's answer and the record.
type failingPuts struct {
	app.Store
	fail atomic.Int32
}

func (f *failingPuts) PutDeployment(ctx context.Context, d store.Deployment) (store.Deployment, error) {
	if d.ID != 0 && f.fail.Add(-1) >= 0 {
		return store.Deployment{}, errors.New("the invocation died")
	}
	return f.Store.PutDeployment(ctx, d)
}

// A crash between "created at GitLab" and "remember the id": the event's
// retry (Lambda's, after the lease) adopts the deployment GitLab has rather
// than create a second; the retry before the lease creates nothing either.
func TestDeploymentCrashBetweenCreateAndRecord(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	fp := &failingPuts{Store: w.store}
	fp.fail.Store(1)
	w.app.Store = fp
	ev := emulator.StageEvent("core-pipeline", id, "Staging", "STARTED", at(10))
	if _, err := w.app.PipelineEvent(context.Background(), ev); err == nil {
		t.Fatal("the crashed invocation reported no error")
	}
	w.event(ev) // at once: another invocation may still be creating it
	if n := len(w.deployments()["staging"]); n != 1 {
		t.Fatalf("%d deployments after the retry within the lease, want 1", n)
	}
	w.clock.Set(t0.Add(app.DefaultLease + time.Second))
	w.event(ev)
	w.event(emulator.StageEvent("core-pipeline", id, "Staging", "SUCCEEDED", at(20)))
	wantHistory(t, w.deployments(), "staging", "running", "success")
	if len(logLines(w.logs, "deployment adopted")) != 1 {
		t.Errorf("no adoption logged:\n%s", w.logs)
	}
}

// lostAnswers lets GitLab do the first POST of a deployment and loses its
// answer (a 502 from the way back).
type lostAnswers struct {
	next http.Handler
	left atomic.Int32
}

func (l *lostAnswers) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/deployments") && l.left.Add(-1) >= 0 {
		l.next.ServeHTTP(discard{}, r)
		http.Error(rw, `{"message":"502 Bad Gateway"}`, http.StatusBadGateway)
		return
	}
	l.next.ServeHTTP(rw, r)
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// GitLab created the deployment but its answer was lost: the event fails
// (Lambda retries it), the record says a create was begun, and the retry
// after the lease finds the deployment instead of making a second.
func TestDeploymentAnswerLost(t *testing.T) {
	w := newWorld(t, withClock)
	lost := &lostAnswers{next: w.gl}
	lost.left.Store(1)
	glClient, err := gitlab.New(serve(t, lost), glToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.app.GitLab = glClient
	id := w.pushed()
	ev := emulator.StageEvent("core-pipeline", id, "Staging", "STARTED", at(10))
	if _, err := w.app.PipelineEvent(context.Background(), ev); err == nil {
		t.Fatal("a lost answer reported no error")
	}
	w.clock.Set(t0.Add(app.DefaultLease + time.Second))
	w.event(emulator.StageEvent("core-pipeline", id, "Staging", "SUCCEEDED", at(20)))
	wantHistory(t, w.deployments(), "staging", "running", "success")
}

// GitLab refuses a move (400): it is recorded and not asked again, and the
// event does not fail for ever.
func TestDeploymentRefusedIsNotRetried(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	w.event(emulator.StageEvent("core-pipeline", id, "Staging", "STARTED", at(10)))
	w.gl.FailNext("edit_deployment", 5, emulator.Fault{Status: 400, Message: "400 Bad request - status cannot transition"})
	w.event(emulator.StageEvent("core-pipeline", id, "Staging", "SUCCEEDED", at(20)))
	calls := w.gl.Calls("edit_deployment")
	w.event(emulator.StageEvent("core-pipeline", id, "Staging", "SUCCEEDED", at(20)))
	if n := w.gl.Calls("edit_deployment") - calls; n != 0 {
		t.Errorf("the refused status was asked again %d times", n)
	}
	if len(logLines(w.logs, "deployment refused by GitLab")) != 1 {
		t.Errorf("no refusal logged:\n%s", w.logs)
	}
}

// Every event of the execution lost: the reconciler creates the deployments
// from GetPipelineState (staging succeeded, production waiting at the gate),
// then, the approval given and its events lost too, moves production on; a
// run with nothing new tells GitLab nothing.
func TestReconcilerRepairsMissedDeployments(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	w.cp.SetStatus("core-pipeline", id, "InProgress")
	w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Staging", ExecutionID: id, Status: "Succeeded", Updated: at(20),
		Actions: []emulator.ActionState{{Name: "Deploy", Status: "Succeeded"}}})
	w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Production", ExecutionID: id, Status: "InProgress", Updated: at(30),
		Actions: []emulator.ActionState{{Name: "ApproveProduction", Status: "InProgress", Token: "tok-1"}, {Name: "Deploy"}}})
	w.clock.Set(at(60))
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	deps := w.deployments()
	wantHistory(t, deps, "staging", "success")
	wantHistory(t, deps, "production", "created")

	w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Production", ExecutionID: id, Status: "InProgress", Updated: at(40),
		Actions: []emulator.ActionState{{Name: "ApproveProduction", Status: "Succeeded"}, {Name: "Deploy", Status: "InProgress"}}})
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantHistory(t, w.deployments(), "production", "created", "running")
	edits, adds := w.gl.Calls("edit_deployment"), w.gl.Calls("add_deployment")
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.gl.Calls("edit_deployment") != edits || w.gl.Calls("add_deployment") != adds {
		t.Errorf("a quiet reconciler run moved deployments")
	}
}
