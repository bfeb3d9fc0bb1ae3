package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

// shuffledRuns is how many random orders of one execution's events the duration
// tests deliver.
const shuffledRuns = 500

// describeShape is the pipeline the duration tests run: four stages, one of them
// with two actions, so that a stage's start from CodePipeline is the earliest of
// its actions'. No approval action: the gate's words are not the subject here.
var describeShape = []emulator.StageSpec{
	{Name: "Source", Actions: []emulator.ActionSpec{{Name: "Source", Category: "Source", Provider: "CodeStarSourceConnection"}}},
	{Name: "Build", Actions: []emulator.ActionSpec{{Name: "Build", Category: "Build", Provider: "CodeBuild"}, {Name: "UnitTests", Category: "Test", Provider: "CodeBuild"}}},
	{Name: "Staging", Actions: []emulator.ActionSpec{{Name: "Deploy", Category: "Deploy", Provider: "ECS"}}},
	{Name: "Production", Actions: []emulator.ActionSpec{{Name: "Deploy", Category: "Deploy", Provider: "ECS"}}},
}

// ran is one execution the CodePipeline stand-in ran, and what the duration tests
// need of it.
type ran struct {
	w      *world
	id     string
	record store.Execution // the webhook's record; zero if pipegate did not start it
	events [][]byte        // as Run sent them, in order
}

// runOnce runs one execution of core-pipeline at headSHA through the stand-in,
// on its virtual clock (7 s per state change). throughPipegate: through a push to
// pipegate, which records the execution; else through the SDK directly, as the
// console would, and with detail.start-time dropped from its events, as older
// events lack it.
func runOnce(t *testing.T, throughPipegate bool) *ran {
	t.Helper()
	w := newWorld(t, withClock)
	w.cp.SetShape("core-pipeline", describeShape)
	var mu sync.Mutex
	var evs [][]byte
	done := make(chan struct{})
	ready := make(chan struct{})
	ctx, stop := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		w.cp.Run(ctx, emulator.RunOptions{Advance: 7 * time.Second, Ready: func() { close(ready) }}, func(b []byte) {
			mu.Lock()
			defer mu.Unlock()
			evs = append(evs, b)
			var env events.CloudWatchEvent
			if json.Unmarshal(b, &env) == nil {
				if ev, ok, _ := progress.FromEventBridge(env); ok && ev.Level == progress.PipelineLevel && progress.Final(glStateOf(ev.State)) {
					close(done)
				}
			}
		})
	}()
	<-ready
	r := &ran{w: w}
	if throughPipegate {
		r.id = w.pushed()
		rec, found, err := w.store.GetExecution(context.Background(), "core-pipeline", r.id)
		if err != nil || !found {
			t.Fatalf("the webhook recorded no execution: %v", err)
		}
		r.record = rec
	} else {
		id, err := w.app.Pipelines.Start(context.Background(), codepipeline.StartInput{
			Pipeline: "core-pipeline", SourceAction: "Source", CommitSHA: headSHA, ClientRequestToken: "console-1",
		})
		if err != nil {
			t.Fatal(err)
		}
		r.id = id
	}
	<-done
	stop()
	<-finished
	for _, b := range evs {
		if !throughPipegate {
			b = withoutStartTime(t, b)
		}
		r.events = append(r.events, b)
	}
	return r
}

func glStateOf(cpState string) string {
	s, _ := progress.GitLabState(cpState)
	return s
}

// withoutStartTime drops detail.start-time from an event.
func withoutStartTime(t *testing.T, b []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m["detail"].(map[string]any), "start-time")
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fresh is pipegate with an empty store (but for the webhook's record of the
// execution) and a GitLab of its own, sharing r's CodePipeline stand-in: one
// delivery of the execution's events, as if nothing had been seen before.
func (r *ran) fresh(t *testing.T) (*app.App, *emulator.GitLab, func()) {
	t.Helper()
	gl := emulator.NewGitLab(glToken)
	gl.AddProject(42, "team/core", "main")
	srv := httptest.NewServer(gl)
	glClient, err := gitlab.New(srv.URL, glToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	if r.record.ID != "" {
		if _, err := st.PutExecution(context.Background(), r.record); err != nil {
			t.Fatal(err)
		}
	}
	a := *r.w.app
	a.Store, a.GitLab, a.Queue, a.Log = st, glClient, nil, slog.New(slog.NewJSONHandler(&testenv.Buffer{}, nil))
	return &a, gl, srv.Close
}

// decoded is one of r's events as the handler reads it.
func (r *ran) decoded(t *testing.T, b []byte) progress.Event {
	t.Helper()
	var env events.CloudWatchEvent
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	ev, ok, err := progress.FromEventBridge(env)
	if !ok || err != nil {
		t.Fatalf("not a state change: %v: %s", err, b)
	}
	return ev
}

// durations says, per status name, the duration each final status must carry
// when the events come in order, and the one it carries when its final state is
// seen before its start: then a stage's start is the earliest start of its
// actions (CodePipeline's ListActionExecutions), the pipeline's is the execution's
// own. names is in pipeline order.
func (r *ran) durations(t *testing.T) (names []string, ordered, fromActions map[string]time.Duration) {
	t.Helper()
	started, actionStart, ended := map[string]time.Time{}, map[string]time.Time{}, map[string]time.Time{}
	for _, b := range r.events {
		ev := r.decoded(t, b)
		name := progress.StatusName(ev.Pipeline, ev.Stage)
		if ev.Level == progress.PipelineLevel {
			name = ev.Pipeline
		}
		switch {
		case ev.Level == progress.ActionLevel && ev.State == "STARTED":
			if at, ok := actionStart[name]; !ok || ev.Time.Before(at) {
				actionStart[name] = ev.Time
			}
		case ev.Level == progress.ActionLevel:
		case ev.State == "STARTED":
			started[name] = ev.Time
			names = append(names, name)
		case ev.State == "SUCCEEDED":
			ended[name] = ev.Time
		}
	}
	ordered, fromActions = map[string]time.Duration{}, map[string]time.Duration{}
	for _, n := range names {
		ordered[n] = ended[n].Sub(started[n])
		fromActions[n] = ordered[n]
		if at, ok := actionStart[n]; ok {
			fromActions[n] = ended[n].Sub(at)
		}
	}
	return names, ordered, fromActions
}

// shuffle is r's events in a random order with random duplicates, as
// internal/progress's order test delivers them.
func (r *ran) shuffle(seed uint64) [][]byte {
	rnd := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	d := slices.Clone(r.events)
	for range rnd.IntN(len(r.events)) {
		d = append(d, r.events[rnd.IntN(len(r.events))])
	}
	rnd.Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
	return d
}

// finalFirst says, per status name, whether its final state reached pipegate
// before its running one in delivery d.
func (r *ran) finalFirst(t *testing.T, d [][]byte) map[string]bool {
	t.Helper()
	first := map[string]bool{}
	seen := map[string]bool{}
	for _, b := range d {
		ev := r.decoded(t, b)
		if ev.Level == progress.ActionLevel {
			continue
		}
		name := progress.StatusName(ev.Pipeline, ev.Stage)
		if ev.Level == progress.PipelineLevel {
			name = ev.Pipeline
		}
		if !seen[name] {
			seen[name] = true
			first[name] = ev.State != "STARTED"
		}
	}
	return first
}

var succeededIn = regexp.MustCompile(`^(\S+) succeeded in (\d+h \d+m|\d+m \d+s|\d+s)$`)

// checkDurations delivers r's events in shuffledRuns random orders, each to a
// pipegate that has seen nothing, and checks that every final status GitLab ends
// with says how long it took: the ordered delivery's duration when the status's
// start was seen first, else the one CodePipeline's own start times give. It
// returns how many runs left a status without its duration.
func checkDurations(t *testing.T, r *ran) (missing int) {
	t.Helper()
	names, ordered, fromActions := r.durations(t)
	if len(names) != 5 {
		t.Fatalf("statuses %v, want the pipeline's and 4 stages'", names)
	}
	stageLookups, listings := 0, 0
	for i := range shuffledRuns {
		seed := uint64(i)
		d := r.shuffle(seed)
		a, gl, done := r.fresh(t)
		beforeActions, beforeList := r.w.cp.Calls("ListActionExecutions"), r.w.cp.Calls("ListPipelineExecutions")
		for _, b := range d {
			if _, err := a.PipelineEvent(context.Background(), b); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
		done()
		checkDeployments(t, seed, gl)
		first := r.finalFirst(t, d)
		wantActions, wantList := 0, 0
		bad := false
		for _, name := range names {
			got, ok := gl.Latest("team/core", headSHA, name)
			if !ok || got.State != "success" {
				t.Fatalf("seed %d: %s ended %+v, want success", seed, name, got)
			}
			subject, want := strings.TrimPrefix(name, "core-pipeline/"), ordered[name]
			if name == "core-pipeline" {
				if first[name] && r.record.ID == "" {
					wantList++ // neither the event nor the store knows the start
				}
			} else if first[name] {
				want = fromActions[name]
				wantActions++
			}
			wantDesc := progress.Describe(subject, progress.Status{State: "SUCCEEDED", Began: t0, At: t0.Add(want)}, "")
			switch {
			case got.Description == wantDesc:
			case succeededIn.MatchString(got.Description):
				t.Errorf("seed %d: %s says %q, want %q (final state first: %v)", seed, name, got.Description, wantDesc, first[name])
			default:
				if !bad && missing < 3 {
					t.Logf("seed %d: %s says %q, want %q (final state first: %v)", seed, name, got.Description, wantDesc, first[name])
				}
				bad = true
			}
		}
		if bad {
			missing++
			continue
		}
		// CodePipeline is asked only for starts nothing else gave, once each.
		if n := r.w.cp.Calls("ListActionExecutions") - beforeActions; n != wantActions {
			t.Errorf("seed %d: %d ListActionExecutions calls, want %d (one per stage whose final state came first)", seed, n, wantActions)
		}
		if n := r.w.cp.Calls("ListPipelineExecutions") - beforeList; n != wantList {
			t.Errorf("seed %d: %d ListPipelineExecutions calls, want %d", seed, n, wantList)
		}
		stageLookups += wantActions
		listings += wantList
	}
	t.Logf("%d of %d shuffled runs left a final status without its duration; CodePipeline asked %d times for stage starts, %d for execution starts",
		missing, shuffledRuns, stageLookups, listings)
	return missing
}

// Events come out of order: when a status's final state arrives before its
// start, the status still says how long it took, from CodePipeline's own times.
// GitLab keeps a status's description when its state is posted again, so it must
// be right the first time.
func TestDurationsWhateverTheOrder(t *testing.T) {
	for _, tc := range []struct {
		name            string
		throughPipegate bool
	}{
		{"started by a push to pipegate", true},
		{"started in the console, events without start-time", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runOnce(t, tc.throughPipegate)
			if n := checkDurations(t, r); n != 0 {
				t.Errorf("%d of %d shuffled runs left a final status without its duration", n, shuffledRuns)
			}
		})
	}
}

// A start CodePipeline cannot give never holds the status back: it is posted
// without its duration, and the log says why. A hanging CodePipeline costs one
// call's deadline.
func TestDurationLookupFails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault emulator.Fault
	}{
		{"CodePipeline fails", emulator.ServerError},
		{"CodePipeline hangs", emulator.Hang},
		{"access denied", emulator.Fault{Status: 400, Code: "AccessDeniedException", Message: "not authorized to perform: codepipeline:ListActionExecutions"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, withClock)
			w.app.CallTimeout = 300 * time.Millisecond
			id := w.pushed()
			w.cp.FailNext("ListActionExecutions", 10, tc.fault)
			ans := w.event(emulator.StageEvent("core-pipeline", id, "Build", "SUCCEEDED", at(197)))
			if ans.Result != "posted" || ans.State != "success" {
				t.Fatalf("answer %+v, want posted success", ans)
			}
			if got := w.latest("core-pipeline/Build"); got.State != "success" || got.Description != "Build succeeded" {
				t.Errorf("Build: %+v, want success without a duration", got)
			}
			lines := logLines(w.logs, "duration unknown")
			if len(lines) != 1 || lines[0]["status"] != "core-pipeline/Build" || lines[0]["execution_id"] != id || lines[0]["error"] == nil {
				t.Errorf("log %v, want one line saying why for core-pipeline/Build", lines)
			}
			// The late STARTED changes nothing, and CodePipeline is not asked again.
			calls := w.cp.Calls("ListActionExecutions")
			if ans := w.event(emulator.StageEvent("core-pipeline", id, "Build", "STARTED", at(5))); ans.Result != "unchanged" {
				t.Errorf("late STARTED: %+v", ans)
			}
			w.event(emulator.StageEvent("core-pipeline", id, "Build", "SUCCEEDED", at(197)))
			if n := w.cp.Calls("ListActionExecutions") - calls; n != 0 {
				t.Errorf("%d more ListActionExecutions calls for a status already decided", n)
			}
		})
	}
}

// The pipeline's own status of an execution pipegate did not start, from events
// without start-time: its start is ListPipelineExecutions', when listed.
func TestPipelineDurationOfConsoleExecution(t *testing.T) {
	w := newWorld(t, withClock)
	w.cp.AddExecution("core-pipeline", emulator.Execution{ID: "console-1", CommitSHA: headSHA, Status: "Succeeded", StartedAt: at(0)})
	w.event(emulator.PipelineEvent("core-pipeline", "console-1", "SUCCEEDED", at(197)))
	if got := w.latest("core-pipeline"); got.Description != "core-pipeline succeeded in 3m 17s" {
		t.Errorf("got %+v, want 3m 17s from ListPipelineExecutions' startTime", got)
	}
	if n := w.cp.Calls("ListPipelineExecutions"); n != 1 {
		t.Errorf("%d ListPipelineExecutions calls, want 1", n)
	}

	// A hundred executions started after it: not on the first page; and a
	// failing listing: no duration either way, and the status is posted.
	for i, fail := range []bool{false, true} {
		w := newWorld(t, withClock)
		w.cp.AddExecution("core-pipeline", emulator.Execution{ID: "console-1", CommitSHA: headSHA, Status: "Succeeded", StartedAt: at(0)})
		if fail {
			w.cp.FailNext("ListPipelineExecutions", 10, emulator.ServerError)
		} else {
			for j := range 100 {
				w.cp.AddExecution("core-pipeline", emulator.Execution{CommitSHA: zeroSHA[:39] + "1", StartedAt: at(10 + j)})
			}
		}
		ans := w.event(emulator.PipelineEvent("core-pipeline", "console-1", "SUCCEEDED", at(197)))
		if got := w.latest("core-pipeline"); ans.Result != "posted" || got.State != "success" || got.Description != "core-pipeline succeeded" {
			t.Errorf("case %d: %+v, status %+v; want success posted without a duration", i, ans, got)
		}
		if lines := logLines(w.logs, "duration unknown"); len(lines) != 1 || lines[0]["status"] != "core-pipeline" {
			t.Errorf("case %d: log %v", i, lines)
		}
	}
}

// The reconciler repairs statuses whose events were all lost: the pipeline's
// duration comes from the listing it reads anyway, each stage's from one
// ListActionExecutions call; a second run asks nothing more.
func TestReconcileRepairsWithDurations(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	for _, a := range []emulator.ActionExecution{
		{PipelineExecutionID: id, Stage: "Source", Action: "Source", StartTime: at(0), LastUpdate: at(4)},
		{PipelineExecutionID: id, Stage: "Build", Action: "Build", StartTime: at(5), LastUpdate: at(197)},
	} {
		w.cp.AddActionExecution("core-pipeline", a)
	}
	w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Source", ExecutionID: id, Status: "Succeeded",
		Actions: []emulator.ActionState{{Name: "Source", Status: "Succeeded", Updated: at(4)}}})
	w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Build", ExecutionID: id, Status: "Succeeded",
		Actions: []emulator.ActionState{{Name: "Build", Status: "Succeeded", Updated: at(197)}}})
	w.clock.Set(at(197))
	w.cp.SetStatus("core-pipeline", id, "Succeeded")

	ans, err := w.app.Reconcile(context.Background())
	if err != nil || ans.Repaired != 3 {
		t.Fatalf("reconcile: %+v %v, want 3 repaired", ans, err)
	}
	for name, want := range map[string]string{
		"core-pipeline":        "core-pipeline succeeded in 3m 17s",
		"core-pipeline/Source": "Source succeeded in 4s",
		"core-pipeline/Build":  "Build succeeded in 3m 12s",
	} {
		if got := w.latest(name); got.State != "success" || got.Description != want {
			t.Errorf("%s: %+v, want %q", name, got, want)
		}
	}
	calls := func() [3]int {
		return [3]int{w.cp.Calls("ListPipelineExecutions"), w.cp.Calls("GetPipelineState"), w.cp.Calls("ListActionExecutions")}
	}
	// The reconciler's own two calls per routed pipeline, and one per stage.
	n := len(w.app.Routes.Services)
	if got, want := calls(), [3]int{n, n, 2}; got != want {
		t.Errorf("ListPipelineExecutions, GetPipelineState, ListActionExecutions calls %v, want %v", got, want)
	}
	if ans, err := w.app.Reconcile(context.Background()); err != nil || ans.Repaired != 0 {
		t.Errorf("second run: %+v %v", ans, err)
	}
	if got, want := calls(), [3]int{2 * n, 2 * n, 2}; got != want {
		t.Errorf("after a second run: calls %v, want %v: no more ListActionExecutions", got, want)
	}
}

// checkDeployments is the deployments' part of the shuffled runs: whatever the
// order and the duplicates, GitLab has one deployment per environment for the
// execution, each ends in success, and none ever moved back (created, running,
// then final) or was sent a status it had.
func checkDeployments(t *testing.T, seed uint64, gl *emulator.GitLab) {
	t.Helper()
	deps := gl.Deployments("team/core")
	envs := map[string]int{}
	for _, d := range deps {
		envs[d.Environment]++
		if d.Status != "success" || d.SHA != headSHA || d.Ref != "main" || d.Tag {
			t.Fatalf("seed %d: deployment %+v, want success of %s on main", seed, d, headSHA)
		}
		for i := 1; i < len(d.History); i++ {
			if progress.DeployRank(d.History[i]) <= progress.DeployRank(d.History[i-1]) {
				t.Fatalf("seed %d: deployment to %s went %v", seed, d.Environment, d.History)
			}
		}
	}
	if len(deps) != 2 || envs["staging"] != 1 || envs["production"] != 1 {
		t.Fatalf("seed %d: deployments %+v, want one to staging and one to production", seed, deps)
	}
}
