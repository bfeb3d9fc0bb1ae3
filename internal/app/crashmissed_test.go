package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/store"
)

// TestMissedCrashBetweenAnyTwoSteps: the reconciler run that starts a push
// GitLab did not deliver dies before (or, with its answer lost, right after)
// each request it makes, in turn: the branch read, the head records, the
// pending record, the compare, the claim, StartPipelineExecution, the start
// record, the pending status. The next runs, a resume lease later, finish it:
// each pipeline the missed commits touch ran once at the head, with one
// pending status; nothing is left pending; and GitLab's own delivery of the
// push, should it come after all, starts nothing more.
func TestMissedCrashBetweenAnyTwoSteps(t *testing.T) {
	pipelines := []string{"billing-pipeline", "search-pipeline"}
	paths := []string{"services/billing/b.go", "services/search/b.go"}
	reconcile := func(w *crashWorld, d time.Duration) error {
		w.clock.Set(w.clock.Now().Add(d))
		_, err := w.app.Reconcile(context.Background())
		return err
	}
	// setup leaves the world one run before the reconciler starts the push.
	setup := func(t *testing.T) *crashWorld {
		w := newCrashWorld(t)
		w.gitPush(44, "team/platform", "main", commitA, "first", []string{"services/billing/a.go", "services/search/a.go"}, true)
		w.gitPush(44, "team/platform", "main", commitB, "both", paths, false)
		if err := reconcile(w, time.Second); err != nil { // finds it undelivered
			t.Fatalf("reconcile: %v\n%s", err, w.logs)
		}
		if w.starts() != 2 {
			t.Fatalf("%d executions before the missed push, want the 2 delivered", w.starts())
		}
		return w
	}
	clean := setup(t)
	before := clean.crash.count()
	if err := reconcile(clean, 5*time.Minute); err != nil {
		t.Fatalf("clean run: %v\n%s", err, clean.logs)
	}
	steps := clean.crash.count() - before
	for _, pl := range pipelines {
		if n := clean.executionsOf(pl, commitB); n != 1 {
			t.Fatalf("clean run: %s ran %d times at %s\n%s", pl, n, commitB, clean.logs)
		}
	}
	if steps < 10 {
		t.Fatalf("the run that starts a missed push took only %d requests", steps)
	}
	for at := 1; at <= steps; at++ {
		for _, c := range []struct{ lose, deliveredFirst bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			lose := c.lose
			t.Run(fmt.Sprintf("request %d answer lost %v delivered before the next run %v", at, lose, c.deliveredFirst), func(t *testing.T) {
				w := setup(t)
				w.crash.arm(at, lose)
				_ = reconcile(w, 5*time.Minute) // whatever it did, it died
				w.crash.arm(0, false)
				if c.deliveredFirst {
					// GitLab's delivery comes while the reconciler's work is unfinished.
					w.pushHook(44, "team/platform", "main", commitA, commitB, "both", paths)
				}
				for range 2 {
					if err := reconcile(w, app.RetryLease+time.Second); err != nil {
						t.Fatalf("reconcile after the crash: %v\n%s", err, w.logs)
					}
				}
				for _, pl := range pipelines {
					if n := w.executionsOf(pl, commitB); n != 1 {
						t.Errorf("%s ran %d times at %s, want exactly once\n%s", pl, n, commitB, w.logs)
					}
					if n := w.pendingOf(pl, commitB); n != 1 {
						t.Errorf("%s: %d pending statuses at %s, want exactly one", pl, n, commitB)
					}
				}
				left, err := w.store.(*store.Dynamo).Pendings(context.Background(), w.clock.Now().Add(time.Hour), 0)
				if err != nil || len(left) != 0 {
					t.Errorf("left pending: %+v %v", left, err)
				}
				// GitLab's delivery after all: nothing more starts.
				w.pushHook(44, "team/platform", "main", commitA, commitB, "both", paths)
				if got := w.starts(); got != 4 {
					t.Errorf("%d executions after the late delivery, want 4\n%s", got, w.logs)
				}
			})
		}
	}
}
