package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

// t0 is when the tests' executions start; CodePipeline's event times have whole seconds.
var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// withClock makes pipegate and the CodePipeline stand-in read the time from
// w.clock, which starts at t0.
func withClock(w *world) {
	w.clock.Set(t0)
	w.app.Now, w.cp.Now = w.clock.Now, w.clock.Now
}

// testClock is a time that a test moves while servers read it.
type testClock struct{ t atomic.Pointer[time.Time] }

func (c *testClock) Now() time.Time  { return *c.t.Load() }
func (c *testClock) Set(t time.Time) { c.t.Store(&t) }

// event hands one EventBridge event to the pipeline-events function's handler.
func (w *world) event(raw []byte) app.EventAnswer {
	w.t.Helper()
	ans, err := w.app.PipelineEvent(context.Background(), raw)
	if err != nil {
		w.t.Fatalf("event %s: %v", raw, err)
	}
	return ans
}

// gated reports whether ans is the gate's verdict v.
func gated(ans app.EventAnswer, v gate.Verdict) bool {
	return ans.Result == app.EventGate && ans.Gate == v
}

// verdictOf is the gate's verdict in ans, else its result.
func verdictOf(ans app.EventAnswer) string {
	if ans.Result != app.EventGate {
		return string(ans.Result)
	}
	return string(ans.Gate)
}

// pushed delivers a push of headSHA to team/core main and returns the execution it started.
func (w *world) pushed() string {
	w.t.Helper()
	code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(w.t, 42, "team/core", "main")})
	if code != http.StatusOK || len(ans.Started) != 1 {
		w.t.Fatalf("push: %d %+v", code, ans)
	}
	return ans.Started[0].ExecutionID
}

// latest is the state of status name on headSHA in team/core as GitLab has it.
func (w *world) latest(name string) emulator.CommitStatus {
	w.t.Helper()
	s, ok := w.gl.Latest("team/core", headSHA, name)
	if !ok {
		w.t.Fatalf("no status %s on %s", name, headSHA)
	}
	return s
}

// execution are the events of one execution of core-pipeline that runs through
// Source and Build (3 min 12 s), in order.
func execution(id string) [][]byte {
	return [][]byte{
		emulator.PipelineEvent("core-pipeline", id, "STARTED", at(0)),
		emulator.StageEvent("core-pipeline", id, "Source", "STARTED", at(0)),
		emulator.ActionEvent("core-pipeline", id, "Source", "Source", "Source", "CodeStarSourceConnection", "STARTED", at(0)),
		emulator.ActionEvent("core-pipeline", id, "Source", "Source", "Source", "CodeStarSourceConnection", "SUCCEEDED", at(4)),
		emulator.StageEvent("core-pipeline", id, "Source", "SUCCEEDED", at(4)),
		emulator.StageEvent("core-pipeline", id, "Build", "STARTED", at(5)),
		emulator.StageEvent("core-pipeline", id, "Build", "SUCCEEDED", at(5+192)),
		emulator.PipelineEvent("core-pipeline", id, "SUCCEEDED", at(5+192)),
	}
}

func TestPipelineEventsBecomeStatuses(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	for _, ev := range execution(id) {
		w.event(ev)
	}
	url := "https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/core-pipeline/executions/" + id + "/timeline?region=eu-west-1"
	for name, want := range map[string]emulator.CommitStatus{
		"core-pipeline":        {State: "success", Description: "core-pipeline succeeded in 3m 17s"},
		"core-pipeline/Source": {State: "success", Description: "Source succeeded in 4s"},
		"core-pipeline/Build":  {State: "success", Description: "Build succeeded in 3m 12s"},
	} {
		got := w.latest(name)
		if got.State != want.State || got.Description != want.Description || got.TargetURL != url || got.Ref != "main" {
			t.Errorf("%s: got %+v, want state %s, description %q, ref main, target %s", name, got, want.State, want.Description, url)
		}
	}
	// pipegate knew the execution from its own start: CodePipeline was not asked.
	if n := w.cp.Calls("GetPipelineExecution"); n != 0 {
		t.Errorf("GetPipelineExecution called %d times for an execution pipegate started", n)
	}
	// The pipeline's status went pending (webhook) -> running -> success, no step twice.
	var states []string
	for _, s := range w.gl.Statuses() {
		if s.Name == "core-pipeline" {
			states = append(states, s.State)
		}
	}
	if got := strings.Join(states, ","); got != "pending,running,success" {
		t.Errorf("core-pipeline went %s, want pending,running,success", got)
	}
}

// An execution started in the console, or by anything but pipegate, is reported
// too: its commit comes from GetPipelineExecution, asked once and then kept.
func TestPipelineEventsOfExecutionPipegateDidNotStart(t *testing.T) {
	w := newWorld(t, withClock)
	w.cp.AddExecution("core-pipeline", emulator.Execution{ID: "console-1", CommitSHA: headSHA, Status: "InProgress", StartedAt: at(0)})
	for _, ev := range execution("console-1")[:6] {
		w.event(ev)
	}
	if got := w.latest("core-pipeline/Build"); got.State != "running" || !strings.Contains(got.TargetURL, "/executions/console-1/") {
		t.Errorf("Build: %+v, want running, linking to execution console-1", got)
	}
	if got := w.latest("core-pipeline"); got.State != "running" {
		t.Errorf("pipeline: %+v, want running", got)
	}
	if n := w.cp.Calls("GetPipelineExecution"); n != 1 {
		t.Errorf("GetPipelineExecution called %d times, want once (then cached)", n)
	}
}

// EventBridge delivers late, twice and out of order: the status ends where the
// ordered delivery ends, and GitLab never sees a final state go back to running.
func TestPipelineEventsOutOfOrderAndTwice(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	evs := execution(id)
	order := []int{7, 6, 0, 5, 7, 1, 4, 2, 3, 6, 0, 5}
	for _, i := range order {
		w.event(evs[i])
	}
	for _, name := range []string{"core-pipeline", "core-pipeline/Source", "core-pipeline/Build"} {
		if got := w.latest(name); got.State != "success" {
			t.Errorf("%s ended %s, want success", name, got.State)
		}
		final := false
		for _, s := range w.gl.Statuses() {
			if s.Name != name {
				continue
			}
			if final && s.State == "running" {
				t.Errorf("%s went back to running after a final state", name)
			}
			final = final || s.State == "success"
		}
	}
	ans := w.event(evs[6])
	if ans.Result != "unchanged" {
		t.Errorf("a third Build SUCCEEDED: %+v, want unchanged", ans)
	}
}

// A newer execution for the same commit takes over its statuses: the older one's
// late SUPERSEDED does not cancel them. (GitLab keeps a running status's link when
// it is posted running again, so the newer execution's link shows from its next
// state on.)
func TestPipelineEventsNewerExecutionTakesOver(t *testing.T) {
	w := newWorld(t, withClock)
	w.cp.AddExecution("core-pipeline", emulator.Execution{ID: "old", CommitSHA: headSHA, Status: "InProgress", StartedAt: at(0)})
	w.cp.AddExecution("core-pipeline", emulator.Execution{ID: "new", CommitSHA: headSHA, Status: "InProgress", StartedAt: at(60)})
	w.event(emulator.PipelineEvent("core-pipeline", "old", "STARTED", at(0)))
	w.event(emulator.PipelineEvent("core-pipeline", "new", "STARTED", at(60)))
	if ans := w.event(emulator.PipelineEvent("core-pipeline", "old", "SUPERSEDED", at(70))); ans.Result != "unchanged" {
		t.Errorf("the older execution's SUPERSEDED: %+v, want unchanged", ans)
	}
	if got := w.latest("core-pipeline"); got.State != "running" {
		t.Errorf("after the older execution ended: %+v, want still running", got)
	}
	w.event(emulator.PipelineEvent("core-pipeline", "new", "SUCCEEDED", at(300)))
	w.event(emulator.PipelineEvent("core-pipeline", "old", "FAILED", at(400))) // late, and older
	got := w.latest("core-pipeline")
	if got.State != "success" || !strings.Contains(got.TargetURL, "/executions/new/") {
		t.Errorf("got %+v, want success of execution new", got)
	}
}

// Events pipegate has no use for are answered without error (Lambda would only
// retry them), and cost no call: other pipelines, action events, a stage event
// without a stage, and every CodePipeline event of aws-lambda-go's testdata.
func TestPipelineEventsIgnored(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	before := len(w.gl.Statuses())
	w.event(emulator.PipelineEvent("someone-elses-pipeline", id, "STARTED", at(0)))
	w.event(emulator.ActionEvent("core-pipeline", id, "Build", "Build", "Build", "CodeBuild", "STARTED", at(0)))
	w.event([]byte(`{"source":"aws.s3","detail-type":"Object Created","detail":{}}`))

	// aws-lambda-go's samples, routed to a pipeline of theirs that CodePipeline does not know.
	cfg, err := routing.Parse([]byte("services:\n  - {name: theirs, project: team/core, pipeline: myPipeline}\n"))
	if err != nil {
		t.Fatal(err)
	}
	w.app.Routes = cfg
	files, _ := filepath.Glob("../progress/testdata/codepipeline-*.json")
	if len(files) < 4 {
		t.Fatalf("found only %d codepipeline-*.json samples", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.app.PipelineEvent(context.Background(), raw); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	if n := len(w.gl.Statuses()); n != before {
		t.Errorf("%d statuses posted for ignored events", n-before)
	}
}

// GitLab's answers: 409 is retried, 429 waits as GitLab says, a repeated state's 400
// is success; 5xx that outlasts the retries is returned so that Lambda retries the
// event, and the retry posts the status.
func TestPipelineEventsGitLabFailures(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	evs := execution(id)
	w.gl.FailNext("statuses", 1, emulator.Fault{Status: http.StatusConflict, Message: "409 Conflict"})
	w.event(evs[0])
	reset := fmt.Sprint(time.Now().Unix())
	w.gl.FailNext("statuses", 1, emulator.Fault{Status: http.StatusTooManyRequests, Message: "Retry later",
		Header: http.Header{"RateLimit-Reset": {reset}, "RateLimit-Limit": {"600"}}})
	w.event(evs[1])
	if got := w.latest("core-pipeline"); got.State != "running" {
		t.Errorf("after a 409: %+v", got)
	}
	if got := w.latest("core-pipeline/Source"); got.State != "running" {
		t.Errorf("after a 429: %+v", got)
	}

	w.gl.FailNext("statuses", 100, emulator.ServerError)
	if _, err := w.app.PipelineEvent(context.Background(), evs[4]); err == nil {
		t.Fatal("GitLab answering 500 throughout: no error, so Lambda would not retry the event")
	}
	w.gl.Recover("statuses")
	w.event(evs[4]) // Lambda's retry
	if got := w.latest("core-pipeline/Source"); got.State != "success" {
		t.Errorf("after the retry: %+v, want success", got)
	}
}

// A failed stage says why, from CodePipeline's action details.
func TestPipelineEventsFailureSummary(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Build", ExecutionID: id, Status: "Failed",
		Actions: []emulator.ActionState{{Name: "Build", Status: "Failed", Error: "Build failed: exit status 2", Updated: at(30)}}})
	w.event(emulator.StageEvent("core-pipeline", id, "Build", "STARTED", at(5)))
	w.event(emulator.StageEvent("core-pipeline", id, "Build", "FAILED", at(30)))
	got := w.latest("core-pipeline/Build")
	if got.State != "failed" || !strings.HasPrefix(got.Description, "Build failed: ") || !strings.Contains(got.Description, "exit status 2") {
		t.Errorf("got %+v", got)
	}
}

// The reconciler repairs an execution whose final events were lost, and does
// nothing, GitLab-wise, when nothing changed.
func TestReconcileRepairsLostEvents(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	evs := execution(id)
	for _, i := range []int{0, 1, 4, 5} { // STARTED, Source done, Build started
		w.event(evs[i])
	}
	// Build and the pipeline finish; their events are lost.
	w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Source", ExecutionID: id, Status: "Succeeded",
		Actions: []emulator.ActionState{{Name: "Source", Status: "Succeeded", Updated: at(4)}}})
	w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Build", ExecutionID: id, Status: "Succeeded",
		Actions: []emulator.ActionState{{Name: "Build", Status: "Succeeded", Updated: at(197)}}})
	w.clock.Set(at(197))
	w.cp.SetStatus("core-pipeline", id, "Succeeded")

	ans := w.event([]byte(`{"version":"0","id":"sched-1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-11-27T10:05:00Z","region":"eu-west-1","resources":["arn:aws:events:eu-west-1:123456789012:rule/pipegate-reconcile"],"detail":{}}`))
	if ans.Result != "reconciled" || ans.Repaired != 2 {
		t.Errorf("reconcile: %+v, want 2 repaired", ans)
	}
	for _, name := range []string{"core-pipeline", "core-pipeline/Build", "core-pipeline/Source"} {
		if got := w.latest(name); got.State != "success" {
			t.Errorf("%s: %+v, want success", name, got)
		}
	}
	posts := w.gl.Calls("statuses")
	ans, err := w.app.Reconcile(context.Background())
	if err != nil || ans.Repaired != 0 || w.gl.Calls("statuses") != posts {
		t.Errorf("second run: %+v %v, %d GitLab calls; want nothing to do", ans, err, w.gl.Calls("statuses")-posts)
	}
	// A late copy of the lost Build STARTED changes nothing either.
	if ans := w.event(evs[5]); ans.Result != "unchanged" {
		t.Errorf("late event after the repair: %+v", ans)
	}
}

// Many Lambda instances at once on one status, with DynamoDB's conditional writes
// between them: GitLab ends with the newest state.
func TestPipelineEventsConcurrentOnDynamo(t *testing.T) {
	db := testenv.DynamoClient(t)
	table := testenv.CreateTable(t, db)
	w := newWorld(t, withClock, withStore(store.NewDynamo(db, table)))
	id := w.pushed()
	evs := execution(id)
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(evs))
	for range 4 {
		for _, ev := range evs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := w.app.PipelineEvent(context.Background(), ev); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, name := range []string{"core-pipeline", "core-pipeline/Source", "core-pipeline/Build"} {
		if got := w.latest(name); got.State != "success" {
			t.Errorf("%s ended %s, want success", name, got.State)
		}
	}
}

// GitLab keeps statuses per ref: a tag's execution of a commit that a branch's
// execution is still running does not take over the branch's status.
func TestPipelineEventsBranchAndTagOfOneCommit(t *testing.T) {
	w := newWorld(t, withClock)
	branch := w.pushed()
	code, ans := w.deliver(delivery{event: "Tag Push Hook", body: payload(t, "webhook_tag_push.json", func(m map[string]any) {
		project(m, 42, "team/core")
		m["ref"], m["checkout_sha"] = "refs/tags/v1.4.0", headSHA
	})})
	if code != http.StatusOK || len(ans.Started) != 1 {
		t.Fatalf("tag push: %d %+v", code, ans)
	}
	tag := ans.Started[0].ExecutionID
	w.event(emulator.PipelineEvent("core-pipeline", branch, "STARTED", at(0)))
	w.event(emulator.PipelineEvent("core-pipeline", tag, "STARTED", at(10)))
	w.event(emulator.PipelineEvent("core-pipeline", branch, "SUCCEEDED", at(200)))
	w.event(emulator.PipelineEvent("core-pipeline", tag, "SUCCEEDED", at(210)))
	for _, ref := range []string{"main", "v1.4.0"} {
		var last string
		for _, s := range w.gl.Statuses() {
			if s.Name == "core-pipeline" && s.Ref == ref {
				last = s.State
			}
		}
		if last != "success" {
			t.Errorf("core-pipeline on %s ended %q, want success", ref, last)
		}
	}
}
