package progress_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/progress"
)

// The property Next exists for: whatever the order in which EventBridge delivers the events
// of a pipeline's executions, and however often, each commit status ends where ordered
// delivery ends, and on the way it never shows a final state and then running again for the
// same execution, nor goes back to an older execution.

const pipeline = "core-pipeline"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// run is the event stream of pipeline executions, in the order CodePipeline emits it.
type run struct {
	events []progress.Event
	starts map[string]time.Time // execution id -> start, as the store would know it
}

type action struct{ name, category, provider, state string }

func (r *run) add(level progress.Level, exec, stage string, a action, state string, sec int) {
	r.events = append(r.events, progress.Event{
		Level: level, ID: fmt.Sprintf("ev-%d", len(r.events)), Pipeline: pipeline, ExecutionID: exec,
		Stage: stage, Action: a.name, Category: a.category, Provider: a.provider, State: state,
		Time: t0.Add(time.Duration(sec) * time.Second),
	})
}

func (r *run) pipelineState(exec, state string, sec int) {
	if state == "STARTED" {
		if r.starts == nil {
			r.starts = map[string]time.Time{}
		}
		r.starts[exec] = t0.Add(time.Duration(sec) * time.Second)
	}
	r.add(progress.PipelineLevel, exec, "", action{}, state, sec)
}

// stage runs stage from second start to second end: the stage starts, its actions start,
// each action ends in its state (actions[i].state) and the stage ends in state.
func (r *run) stage(exec, stage string, start, end int, state string, actions ...action) {
	r.add(progress.StageLevel, exec, stage, action{}, "STARTED", start)
	for _, a := range actions {
		r.add(progress.ActionLevel, exec, stage, a, "STARTED", start)
	}
	for _, a := range actions {
		r.add(progress.ActionLevel, exec, stage, a, a.state, end)
	}
	r.add(progress.StageLevel, exec, stage, action{}, state, end)
}

// merged orders the events of several executions by time; at equal times each execution's
// own order is kept (slices.SortStableFunc), which is the order CodePipeline emits them in.
func (r *run) merged() *run {
	slices.SortStableFunc(r.events, func(a, b progress.Event) int { return a.Time.Compare(b.Time) })
	return r
}

var (
	source  = action{"Source", "Source", "CodeStarSourceConnection", "SUCCEEDED"}
	compile = action{"Compile", "Build", "CodeBuild", "SUCCEEDED"}
	lint    = action{"Lint", "Test", "CodeBuild", "SUCCEEDED"}
	test    = action{"UnitTests", "Test", "CodeBuild", "SUCCEEDED"}
	deploy  = action{"Deploy", "Deploy", "CloudFormation", "SUCCEEDED"}
	approve = action{"Approve", "Approval", "Manual", "SUCCEEDED"}
)

// whole is one execution of five stages that succeeds. Test and Production start and end
// in the same second, and every stage starts in the second the one before it ended.
func whole(exec string, at int) *run {
	r := &run{}
	r.pipelineState(exec, "STARTED", at)
	r.stage(exec, "Source", at, at+3, "SUCCEEDED", source)
	r.stage(exec, "Build", at+3, at+65, "SUCCEEDED", compile, lint)
	r.stage(exec, "Test", at+65, at+65, "SUCCEEDED", test)
	r.stage(exec, "Staging", at+65, at+120, "SUCCEEDED", deploy)
	r.stage(exec, "Production", at+120, at+120, "SUCCEEDED", approve, deploy)
	r.pipelineState(exec, "SUCCEEDED", at+120)
	return r
}

// failing is one execution whose Build stage fails: Source takes under a second, Build's
// Compile action fails, Lint is abandoned, the pipeline fails in the same second and no
// later stage starts.
func failing(exec string) *run {
	r := &run{}
	r.pipelineState(exec, "STARTED", 0)
	r.stage(exec, "Source", 0, 0, "SUCCEEDED", source)
	r.stage(exec, "Build", 0, 40, "FAILED",
		action{"Compile", "Build", "CodeBuild", "FAILED"}, action{"Lint", "Test", "CodeBuild", "ABANDONED"})
	r.pipelineState(exec, "FAILED", 40)
	return r
}

// superseded is two executions of the same commit: the first gets through Source, Build and
// Test, waits to enter Staging, and is superseded there by the second, which started 10 s
// after it. Several of the first's events are later than the second's for the same status
// (its SUPERSEDED against the second's pipeline STARTED, its Build SUCCEEDED in the second
// the second's Build STARTED).
func superseded(first, second string) *run {
	r := &run{}
	r.pipelineState(first, "STARTED", 0)
	r.stage(first, "Source", 0, 3, "SUCCEEDED", source)
	r.stage(first, "Build", 3, 70, "SUCCEEDED", compile, lint)
	r.stage(first, "Test", 70, 71, "SUCCEEDED", test)
	r.pipelineState(second, "STARTED", 10)
	r.stage(second, "Source", 10, 12, "SUCCEEDED", source)
	r.stage(second, "Build", 70, 100, "SUCCEEDED", compile, lint)
	r.stage(second, "Test", 100, 100, "SUCCEEDED", test)
	r.pipelineState(first, "SUPERSEDED", 100)
	r.stage(second, "Staging", 100, 150, "SUCCEEDED", deploy)
	r.stage(second, "Production", 150, 160, "SUCCEEDED", approve, deploy)
	r.pipelineState(second, "SUCCEEDED", 160)
	return r.merged()
}

// sameSecond is two whole executions started in the same second (a push and a console
// start): the greater execution id wins, whichever ran ahead.
func sameSecond(a, b string) *run {
	r, s := whole(a, 0), whole(b, 0)
	// b runs 2 s behind a on every stage but starts in the same second.
	for i := range s.events {
		if s.events[i].Level != progress.PipelineLevel || s.events[i].State != "STARTED" {
			s.events[i].Time = s.events[i].Time.Add(2 * time.Second)
		}
	}
	r.events = append(r.events, s.events...)
	r.starts[b] = s.starts[b]
	return r.merged()
}

// newer reports whether execution a takes over from b, by the rule Next documents.
func (r *run) newer(a, b string) bool {
	if c := r.starts[a].Compare(r.starts[b]); c != 0 {
		return c > 0
	}
	return a > b
}

// deliver applies events in the given order the way the handler does: action events touch
// no status; pipeline and stage events go through Next for their status name. It returns
// the final status per name, and an error for the first forbidden change on the way.
func (r *run) deliver(events []progress.Event) (map[string]progress.Status, error) {
	statuses := map[string]progress.Status{}
	for _, ev := range events {
		if ev.Level == progress.ActionLevel {
			continue
		}
		name := progress.StatusName(ev.Pipeline, ev.Stage)
		if ev.Level == progress.PipelineLevel {
			name = progress.StatusName(ev.Pipeline, "")
		}
		cur := statuses[name]
		u := progress.Update{ExecutionID: ev.ExecutionID, ExecutionStart: r.starts[ev.ExecutionID], State: ev.State, At: ev.Time}
		if ev.Level == progress.PipelineLevel {
			// The handler knows the execution's start (the event's start-time, the
			// webhook's record, ListPipelineExecutions): the pipeline's own began then.
			u.Began = r.starts[ev.ExecutionID]
		}
		next, changed, why := progress.Next(cur, u)
		if !changed {
			continue
		}
		curGL, _ := progress.GitLabState(cur.State)
		nextGL, _ := progress.GitLabState(next.State)
		switch {
		case cur.ExecutionID == next.ExecutionID && progress.Final(curGL) && !progress.Final(nextGL):
			return nil, fmt.Errorf("%s: %s %s -> %s %s (%s)", name, cur.ExecutionID, cur.State, next.ExecutionID, next.State, why)
		case cur.ExecutionID != "" && cur.ExecutionID != next.ExecutionID && !r.newer(next.ExecutionID, cur.ExecutionID):
			return nil, fmt.Errorf("%s: back to an older execution: %s -> %s (%s)", name, cur.ExecutionID, next.ExecutionID, why)
		}
		statuses[name] = next
	}
	return statuses, nil
}

// checkOrders delivers r in order, then in 1,000 random orders with random duplicates,
// and compares each outcome with the ordered one. It returns the ordered outcome.
func checkOrders(t *testing.T, r *run) map[string]progress.Status {
	t.Helper()
	want, err := r.deliver(r.events)
	if err != nil {
		t.Fatalf("ordered delivery: %v", err)
	}
	for i := range 1000 {
		seed := uint64(i)
		rnd := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		d := slices.Clone(r.events)
		for range rnd.IntN(len(r.events)) {
			d = append(d, r.events[rnd.IntN(len(r.events))])
		}
		rnd.Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })

		got, err := r.deliver(d)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, name := range sortedNames(want, got) {
			g, w := got[name], want[name]
			if g.State != w.State || g.ExecutionID != w.ExecutionID {
				t.Fatalf("seed %d: %s ends %s %s, ordered delivery %s %s", seed, name, g.ExecutionID, g.State, w.ExecutionID, w.State)
			}
			// The pipeline's start is known whatever the order, so is its duration.
			if name == pipeline && (!g.Began.Equal(w.Began) || !g.At.Equal(w.At)) {
				t.Fatalf("seed %d: %s ran %v to %v, ordered delivery %v to %v", seed, name, g.Began, g.At, w.Began, w.At)
			}
		}
	}
	return want
}

func sortedNames(ms ...map[string]progress.Status) []string {
	var names []string
	for _, m := range ms {
		for n := range m {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// expect checks the ordered outcome itself, so that a Next that accepts nothing cannot pass.
func expect(t *testing.T, got map[string]progress.Status, want map[string]string, exec string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("statuses %v, want %v", sortedNames(got), want)
	}
	for name, state := range want {
		if s := got[name]; s.State != state || s.ExecutionID != exec {
			t.Errorf("%s: %s %s, want %s %s", name, s.ExecutionID, s.State, exec, state)
		}
	}
}

func TestOrderOneExecution(t *testing.T) {
	got := checkOrders(t, whole("exec-1", 0))
	expect(t, got, map[string]string{
		pipeline: "SUCCEEDED", pipeline + "/Source": "SUCCEEDED", pipeline + "/Build": "SUCCEEDED",
		pipeline + "/Test": "SUCCEEDED", pipeline + "/Staging": "SUCCEEDED", pipeline + "/Production": "SUCCEEDED",
	}, "exec-1")
	if b := got[pipeline+"/Build"]; b.At.Sub(b.Began) != 62*time.Second {
		t.Errorf("Build ran %v, want 62s", b.At.Sub(b.Began))
	}
	if p := got[pipeline]; p.At.Sub(p.Began) != 120*time.Second {
		t.Errorf("the pipeline ran %v, want 120s", p.At.Sub(p.Began))
	}
}

func TestOrderFailedExecution(t *testing.T) {
	expect(t, checkOrders(t, failing("exec-1")), map[string]string{
		pipeline: "FAILED", pipeline + "/Source": "SUCCEEDED", pipeline + "/Build": "FAILED",
	}, "exec-1")
}

func TestOrderSupersededExecution(t *testing.T) {
	// The first execution's id is the greater one, so only the start times can decide.
	const first, second = "f0000000-0000-0000-0000-000000000001", "a0000000-0000-0000-0000-000000000002"
	expect(t, checkOrders(t, superseded(first, second)), map[string]string{
		pipeline: "SUCCEEDED", pipeline + "/Source": "SUCCEEDED", pipeline + "/Build": "SUCCEEDED",
		pipeline + "/Test": "SUCCEEDED", pipeline + "/Staging": "SUCCEEDED", pipeline + "/Production": "SUCCEEDED",
	}, second)
}

func TestOrderSameSecondExecutions(t *testing.T) {
	for _, ids := range [][2]string{{"exec-1", "exec-2"}, {"exec-2", "exec-1"}} {
		winner := max(ids[0], ids[1])
		got := checkOrders(t, sameSecond(ids[0], ids[1]))
		for _, name := range sortedNames(got) {
			if got[name].ExecutionID != winner {
				t.Errorf("%v: %s shows %s, want %s", ids, name, got[name].ExecutionID, winner)
			}
		}
		if len(got) != 6 {
			t.Errorf("%v: %d statuses", ids, len(got))
		}
	}
}

// TestOrderStreams checks the streams themselves: times in whole seconds, never
// decreasing, and with ties inside a status name, which is what makes the test hard.
func TestOrderStreams(t *testing.T) {
	for name, r := range map[string]*run{
		"whole": whole("exec-1", 0), "failing": failing("exec-1"),
		"superseded": superseded("exec-1", "exec-2"), "same second": sameSecond("exec-1", "exec-2"),
	} {
		ties := 0
		seen := map[string]time.Time{}
		for i, ev := range r.events {
			if ev.Time.Nanosecond() != 0 || i > 0 && ev.Time.Before(r.events[i-1].Time) {
				t.Errorf("%s: event %d at %v", name, i, ev.Time)
			}
			key := ev.ExecutionID + " " + progress.StatusName(ev.Pipeline, ev.Stage) + " " + ev.Action + ev.Level.String()
			if at, ok := seen[key]; ok && at.Equal(ev.Time) {
				ties++
			}
			seen[key] = ev.Time
		}
		if ties < 2 {
			t.Errorf("%s: %d ties within a status or action, want at least 2", name, ties)
		}
	}
}
