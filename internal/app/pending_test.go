package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// TestReconcilerIsNotStuckOnWorkThatKeepsFailing: pending deliveries that fail
// every time (their pipeline was deleted in CodePipeline, the routing file not
// yet changed) are the oldest records; a newer push whose work is only
// pending is still resumed by the reconciler, not starved behind them.
func TestReconcilerIsNotStuckOnWorkThatKeepsFailing(t *testing.T) {
	clk := &testClock{}
	clk.Set(t0)
	mem := store.NewMemory()
	mem.Now = clk.Now
	w := newWorld(t, withStore(mem))
	w.app.Now = clk.Now
	cfg, err := routing.Parse([]byte(routes + `
  - name: legacy
    project: team/legacy
    pipeline: legacy-pipeline
`))
	if err != nil {
		t.Fatal(err)
	}
	w.app.Routes = cfg
	w.gl.AddProject(45, "team/legacy", "main")

	for i := range app.MaxPendingPerRun {
		code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 45, "team/legacy", "main"),
			headers: map[string]string{"idempotency-key": fmt.Sprintf("legacy-%d", i)}})
		if code != http.StatusAccepted {
			t.Fatalf("legacy push %d: %d %+v, want 202 (legacy-pipeline does not exist)", i, code, ans)
		}
		clk.Set(clk.Now().Add(time.Second))
	}
	w.cp.FailNext("StartPipelineExecution", 3, emulator.ServerError)
	if code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main"),
		headers: map[string]string{"idempotency-key": "core-1"}}); code != http.StatusAccepted {
		t.Fatalf("core push: %d %+v, want 202", code, ans)
	}
	// The retry queue is not drained (say its messages went to the dead-letter
	// queue): the pending records are all that is left of the pushes.
	for range 3 {
		clk.Set(clk.Now().Add(5 * time.Minute))
		w.app.Reconcile(context.Background()) // legacy's failures are its error
	}
	if n := w.executionsOf("core-pipeline", headSHA); n != 1 {
		t.Errorf("core-pipeline ran %d times, want once: the reconciler never got past the failing records\n", n)
	}
}

// TestResumeOutOfTimeGivesItsClaimBack: a resume whose work ran out of its
// budget still releases its claim, on time of its own, so that the next
// reconcile takes the delivery at once instead of waiting out the resume's lease.
func TestResumeOutOfTimeGivesItsClaimBack(t *testing.T) {
	var proxy *emulator.Proxy
	clk := &testClock{}
	clk.Set(time.Now())
	w := newWorld(t, withFaultyDynamo(&proxy, clk))
	w.app.Now = clk.Now
	w.cp.FailNext("StartPipelineExecution", 6, emulator.ServerError) // 3 tries for each pipeline
	w.sqs.FailNext("SendMessage", 3, emulator.ServerError)
	if code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 44, "team/platform", "main",
		files("services/billing/a.go", "services/search/b.go"))}); code != http.StatusServiceUnavailable {
		t.Fatalf("push: %d %+v, want 503 (nothing started, nothing queued)", code, ans)
	}
	// The first reconcile's resume runs out of time: CodePipeline hangs past the budget.
	w.app.Budget, w.app.CallTimeout = 300*time.Millisecond, 200*time.Millisecond
	w.cp.FailNext("StartPipelineExecution", 10, emulator.Hang)
	clk.Set(clk.Now().Add(app.DefaultLease + time.Second))
	w.app.Reconcile(context.Background())
	if w.starts() != 0 {
		t.Fatalf("%d executions while CodePipeline hung", w.starts())
	}
	// The next run, well inside the resume's own lease (app.RetryLease), takes it
	// over at once. (A record that failed waits a webhook lease again.)
	w.cp.Recover("StartPipelineExecution")
	clk.Set(clk.Now().Add(app.DefaultLease + time.Second))
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatalf("second reconcile: %v\n%s", err, w.logs)
	}
	for _, pl := range []string{"billing-pipeline", "search-pipeline"} {
		if n := w.executionsOf(pl, headSHA); n != 1 {
			t.Errorf("%s ran %d times, want once: the claim was not given back", pl, n)
		}
	}
}
