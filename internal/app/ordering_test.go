package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/emulator"
)

// GitLab was down when the push came, so the pending status went to the retry
// queue; by the time the consumer runs, the pipeline-events function has posted
// the execution's final state. GitLab opens a new status when a final one is
// posted again, so the late "pending" must not be posted: it would stay for ever.
func TestRetriedPendingDoesNotReopenFinalStatus(t *testing.T) {
	w := newWorld(t, withClock)
	w.gl.FailNext("statuses", 3, emulator.Fault{Status: 503, Message: "503 Service Unavailable"})
	code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main")})
	if code != http.StatusAccepted || len(ans.Started) != 1 {
		t.Fatalf("push: %d %+v", code, ans)
	}
	id := ans.Started[0].ExecutionID
	// GitLab is back; the execution's events come before SQS redelivers the job.
	w.event(emulator.PipelineEvent("core-pipeline", id, "STARTED", at(0)))
	w.event(emulator.PipelineEvent("core-pipeline", id, "FAILED", at(20)))
	if got := w.latest("core-pipeline"); got.State != "failed" {
		t.Fatalf("before the retry: %+v", got)
	}
	if fails := w.drain(); len(fails) != 0 {
		t.Fatalf("retry failed: %+v", fails)
	}
	if got := w.latest("core-pipeline"); got.State != "failed" {
		t.Errorf("after the retry consumer ran, GitLab shows %s (%q) for an execution that failed", got.State, got.Description)
	}
}

// A newer execution of the same commit, started in the console ("Release
// change"), takes over the status from the execution pipegate started: the
// older one's SUPERSEDED must not cancel the newer one's status. pipegate keys
// its ordering record by ref, and knows the ref only of executions it started,
// though GitLab puts a status without ref on the same ref (the pipeline's).
func TestConsoleExecutionTakesOverFromPipegateExecution(t *testing.T) {
	w := newWorld(t, withClock)
	old := w.pushed() // started at t0, ref main
	w.cp.AddExecution("core-pipeline", emulator.Execution{ID: "console-new", CommitSHA: headSHA, Status: "InProgress", StartedAt: at(60)})
	w.event(emulator.PipelineEvent("core-pipeline", old, "STARTED", at(0)))
	w.event(emulator.PipelineEvent("core-pipeline", "console-new", "STARTED", at(60)))
	w.event(emulator.PipelineEvent("core-pipeline", old, "SUPERSEDED", at(70)))
	if got := w.latest("core-pipeline"); got.State != "running" {
		t.Errorf("after the older execution was superseded: %+v, want running (console-new runs)", got)
	}
	// The same with the older execution's SUPERSEDED delivered late, after the
	// newer execution succeeded (EventBridge does not keep order).
	w2 := newWorld(t, withClock)
	old2 := w2.pushed()
	w2.cp.AddExecution("core-pipeline", emulator.Execution{ID: "console-new", CommitSHA: headSHA, Status: "InProgress", StartedAt: at(60)})
	w2.event(emulator.PipelineEvent("core-pipeline", old2, "STARTED", at(0)))
	w2.event(emulator.PipelineEvent("core-pipeline", "console-new", "STARTED", at(60)))
	w2.event(emulator.PipelineEvent("core-pipeline", "console-new", "SUCCEEDED", at(300)))
	w2.event(emulator.PipelineEvent("core-pipeline", old2, "SUPERSEDED", at(70)))
	got := w2.latest("core-pipeline")
	if got.State != "success" || !strings.Contains(got.TargetURL, "/executions/console-new/") {
		t.Errorf("got %+v, want success of execution console-new", got)
	}
}
