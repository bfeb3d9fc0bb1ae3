package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/store"
)

// TestResumeCrashBetweenAnyTwoSteps: the retry consumer, or the reconciler,
// dies before (or, with its answer lost, right after) each request it makes
// while finishing a push the webhook could not. The next reconciler run, a
// resume lease later, finishes it: each pipeline ran once, with one pending
// status, and nothing is left pending.
func TestResumeCrashBetweenAnyTwoSteps(t *testing.T) {
	body := func(t *testing.T) []byte {
		return pushTo(t, 44, "team/platform", "main", func(m map[string]any) { m["total_commits_count"] = 30 })
	}
	pipelines := []string{"billing-pipeline", "search-pipeline"}
	setup := func(w *crashWorld, queueFails bool) {
		w.gl.SetCompare("team/platform", "95790bf891e76fee5e1747ab589903a6a1f80f22", headSHA,
			[]string{"services/billing/a.go", "services/search/b.go"})
		w.cp.FailNext("StartPipelineExecution", 3, emulator.ServerError)
		if queueFails {
			w.sqs.FailNext("SendMessage", 10, emulator.ServerError)
		}
		code, ans := w.deliver(delivery{event: "Push Hook", body: body(t)})
		if code != http.StatusAccepted && code != http.StatusServiceUnavailable {
			t.Fatalf("push: %d %+v, want it left to finish later", code, ans)
		}
		w.cp.Recover("StartPipelineExecution")
		w.sqs.Recover("SendMessage")
	}
	for _, who := range []struct {
		name       string
		queueFails bool // the webhook could not queue the job: only its pending record is left
		resume     func(w *crashWorld)
	}{
		{"retry consumer", false, func(w *crashWorld) { w.drain() }},
		{"reconciler", true, func(w *crashWorld) {
			w.clock.Set(w.clock.Now().Add(app.DefaultLease + time.Second))
			w.app.Reconcile(context.Background())
		}},
	} {
		t.Run(who.name, func(t *testing.T) {
			clean := newCrashWorld(t)
			setup(clean, who.queueFails)
			clean.crash.arm(0, false)
			before := clean.crash.count()
			who.resume(clean)
			steps := clean.crash.count() - before
			for _, pl := range pipelines {
				if n := clean.executionsOf(pl, headSHA); n != 1 {
					t.Fatalf("clean run: %s ran %d times\n%s", pl, n, clean.logs)
				}
			}
			for at := 1; at <= steps; at++ {
				for _, lose := range []bool{false, true} {
					t.Run(fmt.Sprintf("request %d answer lost %v", at, lose), func(t *testing.T) {
						w := newCrashWorld(t)
						setup(w, who.queueFails)
						w.crash.arm(at, lose)
						who.resume(w) // whatever it did, it died
						w.crash.arm(0, false)
						// The queue's message is gone (say it reached the dead-letter queue):
						// the reconciler, a resume lease later, is all that is left.
						for range 2 {
							w.clock.Set(w.clock.Now().Add(app.RetryLease + time.Second))
							if _, err := w.app.Reconcile(context.Background()); err != nil {
								t.Fatalf("reconcile: %v\n%s", err, w.logs)
							}
						}
						for _, pl := range pipelines {
							if n := w.executionsOf(pl, headSHA); n != 1 {
								t.Errorf("%s ran %d times at %s, want exactly once\n%s", pl, n, headSHA, w.logs)
							}
							if n := w.pendingOf(pl, headSHA); n != 1 {
								t.Errorf("%s: %d pending statuses, want exactly one", pl, n)
							}
						}
						left, err := w.store.(*store.Dynamo).Pendings(context.Background(), w.clock.Now().Add(time.Hour), 0)
						if err != nil || len(left) != 0 {
							t.Errorf("left pending: %+v %v", left, err)
						}
					})
				}
			}
		})
	}
}
