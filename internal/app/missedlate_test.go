package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/testenv"
)

// TestMissedPushDeliveredLater: the reconciler started a push GitLab had not
// delivered, and then GitLab's own delivery of it arrives after all (a delivery
// held back while GitLab had the hook disabled, retried once it re-enabled it).
// Its delivery key is not the reconciler's, so only the start records of the
// reconciler's key tell that the head ran already: the webhook starts nothing a
// second time, says why, and logs it once per pipeline. A later retry of that
// same delivery from GitLab is a plain duplicate.
func TestMissedPushDeliveredLater(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			w := newWorld(t, s.opts...)
			w.gitPush(42, "team/core", "main", commitA, "first", []string{"a.go"}, true)
			w.gitPush(44, "team/platform", "main", commitA, "first", []string{"services/search/a.go"}, true)
			w.gitPush(42, "team/core", "main", commitB, "second", []string{"b.go"}, false)
			w.gitPush(44, "team/platform", "main", commitB, "both", []string{"services/billing/b.go", "services/search/b.go"}, false)
			w.reconcileAfter(time.Second)
			w.reconcileMany(2)
			for _, pl := range []string{"core-pipeline", "billing-pipeline", "search-pipeline"} {
				if n := w.executionsOf(pl, commitB); n != 1 {
					t.Fatalf("the reconciler ran %s %d times at %s, want once\n%s", pl, n, commitB, w.logs)
				}
			}
			before := w.starts()

			ans := w.pushHook(42, "team/core", "main", commitA, commitB, "second", []string{"b.go"})
			if len(ans.Started) != 0 || ans.Result != "duplicate" {
				t.Errorf("late delivery to core: %+v, want nothing started", ans)
			}
			if len(ans.Skipped) != 1 || ans.Skipped[0].Service != "core" || !strings.Contains(ans.Skipped[0].Reason, "GitLab had not delivered") {
				t.Errorf("late delivery to core: skipped %+v, want core, already started because GitLab had not delivered the push", ans.Skipped)
			}
			ans = w.pushHook(44, "team/platform", "main", commitA, commitB, "both", []string{"services/billing/b.go", "services/search/b.go"})
			if len(ans.Started) != 0 || len(ans.Skipped) != 2 {
				t.Errorf("late delivery to the monorepo: %+v, want both services skipped as started", ans)
			}
			if got := w.starts(); got != before {
				t.Fatalf("%d executions after the late deliveries, want %d: a push ran twice\n%s", got, before, w.logs)
			}
			if n := len(logLines(w.logs, "pipeline already started for a push GitLab had not delivered")); n != 3 {
				t.Errorf("%d log lines saying so, want one per pipeline (3)", n)
			}
			for _, pl := range []string{"core-pipeline", "billing-pipeline", "search-pipeline"} {
				if n := w.pendingOf(pl, commitB); n != 1 {
					t.Errorf("%s: %d pending statuses at %s, want one", pl, n, commitB)
				}
			}
			// GitLab retries the same delivery: a duplicate; and runs after it start nothing.
			w.pushHook(42, "team/core", "main", commitA, commitB, "second", []string{"b.go"})
			w.reconcileMany(2)
			if got := w.starts(); got != before {
				t.Errorf("%d executions after a retry and more runs, want %d", got, before)
			}
		})
	}
}

// TestMissedPushDeliveredFirst: the other order. A push the webhook handled,
// even when its invocation could not finish it (5xx: no queue, CodePipeline
// failing), is never started again by the reconciler: a handled delivery notes
// the head, and an unfinished one is finished from its pending record, whose
// execution the reconciler then finds (CodePipeline's recent executions).
func TestMissedPushDeliveredFirst(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			w := newWorld(t, append(s.opts, withoutQueue)...)
			w.gitPush(42, "team/core", "main", commitA, "first", nil, true)
			w.gitPush(43, "team/auth", "main", commitA, "first", nil, true)
			w.reconcileMany(1)

			// Delivered and started.
			w.gitPush(42, "team/core", "main", commitB, "second", nil, true)
			// Delivered, not finished: CodePipeline fails, no retry queue, 503.
			w.cp.FailNext("StartPipelineExecution", 10, emulator.ServerError)
			w.gl.Push("team/auth", "main", commitB, "second", nil)
			body := pushTo(w.t, 43, "team/auth", "main", func(m map[string]any) {
				m["before"], m["after"], m["checkout_sha"] = commitA, commitB, commitB
			})
			if code, ans := w.deliver(delivery{event: "Push Hook", body: body}); code != http.StatusServiceUnavailable {
				t.Fatalf("unfinished delivery: %d %+v, want 503", code, ans)
			}
			w.cp.Recover("StartPipelineExecution")
			w.reconcileMany(4)
			for _, pl := range []string{"core-pipeline", "auth-pipeline"} {
				if n := w.executionsOf(pl, commitB); n != 1 {
					t.Errorf("%s ran %d times at %s, want once\n%s", pl, n, commitB, w.logs)
				}
			}
			if n := len(logLines(w.logs, "missed push found")); n != 0 {
				t.Errorf("the reconciler took %d delivered pushes for missed ones\n%s", n, w.logs)
			}
		})
	}
}

// TestMissedPushDeliveredWhileUnrouted: GitLab held back two pushes to a
// monorepo, B (billing) and C (reverts billing, changes search). The
// reconciler found C, but its compare from the last head it knew (A) failed,
// so its pending record waits for the paths; its compare, once it succeeds,
// shows only search: A..C undoes billing's change. Then both deliveries
// arrive. B's starts billing at B; C's sees billing and search changed since
// B and must start both at C: were it to leave them to the reconciler's
// unfinished start, billing would stay deployed at B, a push lost. It starts
// them under the reconciler's key, so that the reconciler's start of search
// afterwards finds the start and nothing runs twice.
func TestMissedPushDeliveredWhileUnrouted(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			w := newWorld(t, s.opts...)
			unroutedMissedC(t, w)
			ans := w.pushHook(44, "team/platform", "main", commitB, commitC, "revert billing, search", []string{"services/billing/b.go", "services/search/c.go"})
			if len(ans.Started) != 2 {
				t.Errorf("the delivery of C started %+v (skipped %+v), want billing and search", ans.Started, ans.Skipped)
			}
			w.reconcileMany(3)
			for _, pl := range []string{"billing-pipeline", "search-pipeline"} {
				if n := w.executionsOf(pl, commitC); n != 1 {
					t.Errorf("%s ran %d times at C, want once\n%s", pl, n, w.logs)
				}
				if n := w.pendingOf(pl, commitC); n != 1 {
					t.Errorf("%s: %d pending statuses at C, want one", pl, n)
				}
			}
			if n := w.executionsOf("billing-pipeline", commitB); n != 1 {
				t.Errorf("billing ran %d times at B, want once", n)
			}
		})
	}
}

// unroutedMissedC is TestMissedPushDeliveredWhileUnrouted's start: the
// reconciler found C, its compare failed, its pending record waits for the
// paths; A..C shows only search; B was delivered and started billing at B.
func unroutedMissedC(t *testing.T, w *world) {
	t.Helper()
	w.gitPush(44, "team/platform", "main", commitA, "first", []string{"services/billing/a.go", "services/search/a.go"}, true)
	w.gitPush(44, "team/platform", "main", commitB, "billing", []string{"services/billing/b.go"}, false)
	w.gitPush(44, "team/platform", "main", commitC, "revert billing, search", []string{"services/billing/b.go", "services/search/c.go"}, false)
	w.gl.SetCompare("team/platform", commitA, commitC, []string{"services/search/c.go"})
	w.reconcileAfter(time.Second)
	w.gl.FailNext("compare", 3, emulator.ServerError)
	w.clock.Set(w.clock.Now().Add(5 * time.Minute))
	if _, err := w.app.Reconcile(context.Background()); err == nil {
		t.Fatalf("the reconcile whose compare failed reported no failure\n%s", w.logs)
	}
	w.pushHook(44, "team/platform", "main", commitA, commitB, "billing", []string{"services/billing/b.go"})
	w.clock.Set(w.clock.Now().Add(time.Second))
}

// deliverC is GitLab's delivery of B..C, whatever pipegate answers.
func deliverC(t *testing.T, w *world) (int, any) {
	body := pushTo(t, 44, "team/platform", "main", files("services/billing/b.go", "services/search/c.go"), func(m map[string]any) {
		m["before"], m["after"], m["checkout_sha"] = commitB, commitC, commitC
		commits := m["commits"].([]any)
		head := commits[len(commits)-1].(map[string]any)
		head["id"], head["message"], head["title"] = commitC, "revert billing, search", "revert billing, search"
	})
	return w.deliver(delivery{event: "Push Hook", body: body,
		headers: map[string]string{"idempotency-key": "push-team/platform-" + commitC, "x-gitlab-event-uuid": "uuid-team/platform-" + commitC}})
}

// TestMissedPushDeliveredWhileUnroutedStatusRetried: C's delivery starts billing
// and search under the reconciler's key, but GitLab refuses both pending
// statuses, so the delivery is queued. The reconciler then finishes its own
// record (search only: A..C) and drops it. The delivery's retry no longer sees
// that record; its job says billing's start under the reconciler's key is its
// own, so it posts billing's pending status (once skipped as the reconciler's,
// it was never posted).
func TestMissedPushDeliveredWhileUnroutedStatusRetried(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			w := newWorld(t, s.opts...)
			unroutedMissedC(t, w)
			w.gl.FailNext("statuses", 2, emulator.Fault{Status: http.StatusForbidden, Message: "403 Forbidden"})
			if code, ans := deliverC(t, w); code != http.StatusAccepted {
				t.Fatalf("delivery of C: %d %+v, want 202 (queued)", code, ans)
			}
			w.reconcileAfter(5 * time.Minute) // the reconciler's record first: it is the older
			if f := w.drain(); len(f) != 0 {
				t.Fatalf("retry failed: %+v\n%s", f, w.logs)
			}
			w.reconcileMany(2)
			for _, pl := range []string{"billing-pipeline", "search-pipeline"} {
				if n := w.executionsOf(pl, commitC); n != 1 {
					t.Errorf("%s ran %d times at C, want once", pl, n)
				}
				if n := w.pendingOf(pl, commitC); n != 1 {
					t.Errorf("%s: %d pending statuses at C, want one", pl, n)
				}
			}
		})
	}
}

// TestMissedPushDeliveredWhileUnroutedCrash: C's delivery starts billing under the
// reconciler's key, and its invocation dies right there (the start took
// effect, its answer and everything after are lost). The reconciler resumes
// its own, older, record first (search only: A..C) and drops it; then the
// delivery's pending record: the reconciler's pending record is gone and billing
// has no start under its key, but the delivery's job kept the key it started
// billing under, so CodePipeline's request token answers with the same
// execution (it started billing again under the delivery's own key before).
func TestMissedPushDeliveredWhileUnroutedCrash(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			w := newWorld(t, s.opts...)
			c := &crash{}
			w.app.Pipelines = codepipeline.New(testenv.AWSStandIn(t, c.wrap(w.cp, false)))
			unroutedMissedC(t, w)
			w.app.Queue = nil // the invocation is dead: nothing is queued
			c.arm(1, true)    // its first CodePipeline request (billing's start) takes effect, unanswered
			deliverC(t, w)
			c.arm(0, false)
			if n := w.executionsOf("billing-pipeline", commitC); n != 1 {
				t.Fatalf("billing ran %d times at C after the delivery, want once", n)
			}
			w.reconcileMany(3)
			for _, pl := range []string{"billing-pipeline", "search-pipeline"} {
				if n := w.executionsOf(pl, commitC); n != 1 {
					t.Errorf("%s ran %d times at C, want once", pl, n)
				}
			}
		})
	}
}
