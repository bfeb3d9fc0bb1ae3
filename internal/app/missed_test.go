package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

// Commits of the missed-push tests, in push order.
const (
	commit0 = "0a00000000000000000000000000000000000000"
	commitA = "a000000000000000000000000000000000000001"
	commitB = "b000000000000000000000000000000000000002"
	commitC = "c000000000000000000000000000000000000003"
)

// withDynamo runs the world on dynalite, on the world's clock.
func withDynamo(w *world) {
	client := testenv.DynamoClient(w.t)
	d := store.NewDynamo(client, testenv.CreateTable(w.t, client))
	d.Now = w.clock.Now
	w.store, w.app.Store = d, d
}

// withMemory runs the world on the in-memory store, on the world's clock.
func withMemory(w *world) {
	m := store.NewMemory()
	m.Now = w.clock.Now
	w.store, w.app.Store = m, m
}

// stores are the two stores the missed-push tests run on.
var stores = []struct {
	name string
	opts []option
}{
	{"memory", []option{withClock, withMemory}},
	{"dynamo", []option{withClock, withDynamo}},
}

// gitPush pushes after (with message, touching paths) to branch of project in
// the GitLab stand-in; when delivered, GitLab also sends the push hook, and
// gitPush returns the webhook's answer.
func (w *world) gitPush(id int, path, branch, after, message string, paths []string, delivered bool) app.Answer {
	w.t.Helper()
	before := w.gl.Push(path, branch, after, message, paths)
	if !delivered {
		return app.Answer{}
	}
	return w.pushHook(id, path, branch, before, after, message, paths)
}

// pushHook is GitLab's push hook for a push from before to after.
func (w *world) pushHook(id int, path, branch, before, after, message string, paths []string) app.Answer {
	w.t.Helper()
	if before == "" {
		before = commit0 // the branch was there before the test
	}
	body := pushTo(w.t, id, path, branch, files(paths...), func(m map[string]any) {
		m["before"], m["after"], m["checkout_sha"] = before, after, after
		commits := m["commits"].([]any)
		head := commits[len(commits)-1].(map[string]any)
		head["id"], head["message"], head["title"] = after, message, message
	})
	code, ans := w.deliver(delivery{event: "Push Hook", body: body,
		headers: map[string]string{"idempotency-key": "push-" + path + "-" + after, "x-gitlab-event-uuid": "uuid-" + path + "-" + after}})
	if code != http.StatusOK {
		w.t.Fatalf("push %s: %d %+v", after, code, ans)
	}
	return ans
}

// reconcileAfter moves the clock by d and runs the reconciler.
func (w *world) reconcileAfter(d time.Duration) {
	w.t.Helper()
	w.clock.Set(w.clock.Now().Add(d))
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		w.t.Fatalf("reconcile: %v\n%s", err, w.logs)
	}
}

// reconcileMany runs the reconciler n times, five minutes apart, as the schedule does.
func (w *world) reconcileMany(n int) {
	w.t.Helper()
	for range n {
		w.reconcileAfter(5 * time.Minute)
	}
}

// TestMissedPushStartedOnce: a push to main that GitLab never delivered is
// started by the reconciler, at its head commit, once however often it runs,
// with a pending status that says GitLab did not deliver the push.
func TestMissedPushStartedOnce(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			w := newWorld(t, s.opts...)
			w.gitPush(42, "team/core", "main", commitA, "first", []string{"a.go"}, true)
			w.gitPush(42, "team/core", "main", commitB, "second", []string{"b.go"}, false)

			w.reconcileAfter(time.Second) // the push may only be late: it waits a run
			if n := w.executionsOf("core-pipeline", commitB); n != 0 {
				t.Fatalf("started %d times before the grace ran out", n)
			}
			w.reconcileMany(3)
			if n := w.executionsOf("core-pipeline", commitB); n != 1 {
				t.Fatalf("core-pipeline ran %d times at %s, want once\n%s", n, commitB, w.logs)
			}
			if n := w.pendingOf("core-pipeline", commitB); n != 1 {
				t.Errorf("%d pending statuses, want one", n)
			}
			const want = "CodePipeline core-pipeline started by pipegate for a push to main that GitLab did not deliver"
			for _, st := range w.gl.Statuses() {
				if st.SHA == commitB && st.State == "pending" && (st.Description != want || st.Ref != "main") {
					t.Errorf("status %+v, want %q on main", st, want)
				}
			}
			if n := w.executionsOf("core-pipeline", commitA); n != 1 {
				t.Errorf("the delivered push ran %d times, want once", n)
			}
			// The next push GitLab delivers is the webhook's again, from the new head.
			ans := w.gitPush(42, "team/core", "main", commitC, "third", []string{"c.go"}, true)
			w.reconcileMany(2)
			if len(ans.Started) != 1 || w.executionsOf("core-pipeline", commitC) != 1 || w.starts() != 3 {
				t.Errorf("after a delivered push: %+v, %d executions in all, want 3", ans, w.starts())
			}
		})
	}
}

// TestMissedPushBaseline: a branch pipegate knows nothing of (the first deploy
// of pipegate) is noted, never started, however often the reconciler runs; and
// a later missed push starts from that baseline.
func TestMissedPushBaseline(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			w := newWorld(t, s.opts...)
			w.gl.SetBranch("team/core", "main", commitA, "before pipegate")
			w.gl.SetBranch("team/platform", "main", commitA, "before pipegate")
			w.reconcileMany(3)
			if n := w.starts(); n != 0 {
				t.Fatalf("%d executions started on a baseline", n)
			}
			if got := w.gl.Statuses(); len(got) != 0 {
				t.Fatalf("statuses on a baseline: %+v", got)
			}
			w.gitPush(42, "team/core", "main", commitB, "after", []string{"b.go"}, false)
			w.reconcileMany(2)
			if n := w.executionsOf("core-pipeline", commitB); n != 1 || w.starts() != 1 {
				t.Errorf("after the baseline: %d runs at %s, %d in all, want 1 and 1", n, commitB, w.starts())
			}
		})
	}
}

// TestMissedPushNotDelivered: what GitLab did deliver is never started by the
// reconciler: a started push, a push skipped for [skip ci] or for paths no
// service routes, and a delivery that comes late, after the reconciler saw the head.
func TestMissedPushDelivered(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			w := newWorld(t, s.opts...)
			w.gitPush(42, "team/core", "main", commitA, "first", nil, true)
			w.gitPush(44, "team/platform", "main", commitA, "first", []string{"services/search/a.go"}, true)
			started := w.starts()
			if started != 2 {
				t.Fatalf("%d started by the webhook, want 2", started)
			}
			w.reconcileMany(2)

			// Delivered and started.
			w.gitPush(42, "team/core", "main", commitB, "second", nil, true)
			// Delivered and skipped: [skip ci]; no routed path.
			ans := w.gitPush(42, "team/core", "main", commitC, "third [skip ci]", nil, true)
			if ans.Result != "ignored" {
				t.Fatalf("[skip ci] push: %+v", ans)
			}
			ans = w.gitPush(44, "team/platform", "main", commitB, "docs", []string{"docs/readme.md"}, true)
			if ans.Result != "ignored" {
				t.Fatalf("docs push: %+v", ans)
			}
			w.reconcileMany(3)
			if got := w.starts(); got != started+1 {
				t.Fatalf("%d executions, want %d: the reconciler started a delivered push\n%s", got, started+1, w.logs)
			}

			// A delivery later than a reconciler run: the webhook starts it, the reconciler does not.
			const late = "d000000000000000000000000000000000000004"
			w.gitPush(42, "team/core", "main", late, "late", nil, false)
			w.reconcileAfter(time.Minute) // sees the head no delivery brought yet
			if ans := w.pushHook(42, "team/core", "main", commitC, late, "late", nil); len(ans.Started) != 1 {
				t.Fatalf("late delivery: %+v", ans)
			}
			w.reconcileMany(3)
			if n := w.executionsOf("core-pipeline", late); n != 1 {
				t.Errorf("the late delivery ran %d times, want once", n)
			}
		})
	}
}

// TestMissedPushSkipped: a push GitLab did not deliver is routed as the webhook
// would have: [skip ci] in its head commit's message starts nothing, now or later.
func TestMissedPushSkipped(t *testing.T) {
	w := newWorld(t, withClock, withMemory)
	w.gitPush(42, "team/core", "main", commitA, "first", nil, true)
	w.gitPush(42, "team/core", "main", commitB, "chore: bump\n\n[ci skip]", nil, false)
	w.reconcileMany(4)
	if n := w.executionsOf("core-pipeline", commitB); n != 0 {
		t.Fatalf("a [ci skip] push ran %d times", n)
	}
	if len(logLines(w.logs, "missed push ignored")) != 1 {
		t.Errorf("want one line saying the missed push was ignored:\n%s", w.logs)
	}
}

// TestMissedPushMonorepo: the missed commits' paths, from the known head to the
// branch's head through the compare API, decide which services start.
func TestMissedPushMonorepo(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			w := newWorld(t, s.opts...)
			w.gitPush(44, "team/platform", "main", commitA, "first", []string{"services/billing/a.go", "services/search/a.go"}, true)
			// Two pushes GitLab lost: only what lies between the known head and the
			// branch's head counts.
			w.gitPush(44, "team/platform", "main", commitB, "docs", []string{"docs/x.md"}, false)
			w.gitPush(44, "team/platform", "main", commitC, "search", []string{"services/search/b.go"}, false)
			w.gl.SetCompare("team/platform", commitA, commitC, []string{"docs/x.md", "services/search/b.go"})
			w.reconcileMany(3)
			if n := w.executionsOf("search-pipeline", commitC); n != 1 {
				t.Errorf("search ran %d times at %s, want once\n%s", n, commitC, w.logs)
			}
			if n := w.executionsOf("billing-pipeline", commitC); n != 0 {
				t.Errorf("billing ran %d times: no missed commit touches its paths", n)
			}
			// A missed push touching neither starts nothing.
			w.gitPush(44, "team/platform", "main", "e000000000000000000000000000000000000005", "docs", []string{"docs/y.md"}, false)
			w.reconcileMany(3)
			if got := w.starts(); got != 3 {
				t.Errorf("%d executions, want 3 (two pushed, one missed)", got)
			}
		})
	}
}

// TestMissedPushRanElsewhere: a head that an execution ran already (started in
// the console, say) is not started again.
func TestMissedPushRanElsewhere(t *testing.T) {
	w := newWorld(t, withClock, withMemory)
	w.gitPush(42, "team/core", "main", commitA, "first", nil, true)
	w.gitPush(42, "team/core", "main", commitB, "second", nil, false)
	w.cp.AddExecution("core-pipeline", emulator.Execution{ID: "manual-1", CommitSHA: commitB, Status: "InProgress", StartedAt: w.clock.Now()})
	w.reconcileMany(3)
	if n := w.executionsOf("core-pipeline", commitB); n != 1 {
		t.Errorf("core ran %d times at %s, want only the manual run", n, commitB)
	}
}

// TestMissedPushCost: when nothing changed, a run makes one GitLab call per
// watched branch and no other.
func TestMissedPushCost(t *testing.T) {
	w := newWorld(t, withClock, withMemory)
	w.gitPush(42, "team/core", "main", commitA, "first", nil, true)
	w.reconcileMany(1)
	before := len(w.gl.Requests())
	w.reconcileMany(1)
	var routes []string
	for _, r := range w.gl.Requests()[before:] {
		routes = append(routes, r.Route+" "+r.Project)
	}
	// core, auth, platform each watch main.
	if strings.Join(routes, ",") != "branch team/core,branch team/auth,branch team/platform" {
		t.Errorf("GitLab calls of a quiet run: %v", routes)
	}
}
