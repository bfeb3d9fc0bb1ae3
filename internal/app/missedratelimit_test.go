package app_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/emulator"
)

// rateLimited is GitLab's 429 with the headers GitLab.com sends (its
// "Rate limits" page): the quota, what was used, and when it resets, which is
// now, so that client-go's own retries do not make the test wait.
func rateLimited(reset time.Time) emulator.Fault {
	return emulator.Fault{Status: http.StatusTooManyRequests, Message: "Retry later", Header: http.Header{
		"RateLimit-Limit":     {"600"},
		"RateLimit-Observed":  {"601"},
		"RateLimit-Remaining": {"0"},
		"RateLimit-Reset":     {strconv.FormatInt(reset.Unix(), 10)},
		"RateLimit-ResetTime": {reset.UTC().Format(http.TimeFormat)},
		"Retry-After":         {"0"},
	}}
}

// TestMissedPushRateLimited: GitLab answers the branch read with 429 for as
// long as client-go retries it. The run stops reading branches (the other two
// watched branches are not asked), says so in one log line, and does not fail
// the invocation (Lambda would only retry it into the same limit); the next run
// reads every branch again and starts the missed push.
func TestMissedPushRateLimited(t *testing.T) {
	w := newWorld(t, withClock, withMemory)
	w.gitPush(42, "team/core", "main", commitA, "first", nil, true)
	w.gitPush(43, "team/auth", "main", commitA, "first", nil, true)
	w.gitPush(42, "team/core", "main", commitB, "second", nil, false)
	w.reconcileAfter(time.Second) // finds it undelivered: it waits out the grace

	w.clock.Set(w.clock.Now().Add(5 * time.Minute))
	reset := time.Now()
	w.gl.FailNext("branch", 10, rateLimited(reset))
	reads, requests := w.gl.Calls("branch"), len(w.gl.Requests())
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Errorf("a rate-limited run failed: %v", err)
	}
	w.gl.Recover("branch")
	// client-go tries the first branch three times (two retries); nothing after it.
	if n := w.gl.Calls("branch") - reads; n != 3 {
		t.Errorf("%d branch reads in the rate-limited run, want 3 (one branch, two retries)", n)
	}
	for _, r := range w.gl.Requests()[requests:] {
		if r.Route == "branch" && r.Project != "team/core" {
			t.Errorf("the rate-limited run read the branch of %s", r.Project)
		}
	}
	if lines := logLines(w.logs, "missed pushes: GitLab rate limit reached, the next run goes on"); len(lines) != 1 {
		t.Errorf("%d log lines about the rate limit, want 1\n%s", len(lines), w.logs)
	} else if l := lines[0]; l["project"] != "team/core" || l["unread"] != 2.0 || l["reset"] == nil {
		t.Errorf("rate limit line %v: want the project, the 2 branches left unread, and when the limit resets", l)
	}
	if n := w.executionsOf("core-pipeline", commitB); n != 0 {
		t.Fatalf("started %d times in the rate-limited run", n)
	}

	reads = w.gl.Calls("branch")
	w.reconcileAfter(5 * time.Minute)
	if n := w.gl.Calls("branch") - reads; n != 3 {
		t.Errorf("%d branch reads in the next run, want all 3 watched branches", n)
	}
	if n := w.executionsOf("core-pipeline", commitB); n != 1 {
		t.Errorf("the next run ran core %d times at %s, want once\n%s", n, commitB, w.logs)
	}
	if n := w.pendingOf("core-pipeline", commitB); n != 1 {
		t.Errorf("%d pending statuses, want one", n)
	}
}
