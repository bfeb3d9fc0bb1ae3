package emulator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline/types"

	"github.com/pipegate/pipegate/internal/testenv"
)

// defaultRun is what a run of DefaultShape("Source", "Staging", "Production",
// "ApproveProduction") sends, as runEvent.desc; the first approvalAt wait for the
// approval.
var defaultRun = []string{
	"pipeline STARTED",
	"stage Source STARTED",
	"action Source/Source Source/CodeStarSourceConnection STARTED",
	"action Source/Source Source/CodeStarSourceConnection SUCCEEDED",
	"stage Source SUCCEEDED",
	"stage Build STARTED",
	"action Build/Build Build/CodeBuild STARTED",
	"action Build/Build Build/CodeBuild SUCCEEDED",
	"stage Build SUCCEEDED",
	"stage Staging STARTED",
	"action Staging/Deploy Deploy/ECS STARTED",
	"action Staging/Deploy Deploy/ECS SUCCEEDED",
	"stage Staging SUCCEEDED",
	"stage Production STARTED",
	"action Production/ApproveProduction Approval/Manual STARTED",
	"action Production/ApproveProduction Approval/Manual SUCCEEDED",
	"action Production/Deploy Deploy/ECS STARTED",
	"action Production/Deploy Deploy/ECS SUCCEEDED",
	"stage Production SUCCEEDED",
	"pipeline SUCCEEDED",
}

const approvalAt = 15 // defaultRun[:approvalAt] ends with the approval's STARTED

// runEvent is one event Run sent, decoded as a Lambda function would.
type runEvent struct {
	desc string // "pipeline STARTED", "stage Build STARTED", "action Build/Build Build/CodeBuild STARTED"
	env  events.EventBridgeEvent
	d    cpDetail
}

func decodeRunEvent(t *testing.T, b []byte) runEvent {
	t.Helper()
	env, d := decodeEvent(t, b)
	e := runEvent{env: env, d: d}
	switch env.DetailType {
	case PipelineStateChange:
		e.desc = "pipeline " + d.State
	case StageStateChange:
		e.desc = "stage " + d.Stage + " " + d.State
	case ActionStateChange:
		if d.Type == nil {
			t.Fatalf("action event without type: %s", b)
		}
		e.desc = fmt.Sprintf("action %s/%s %s/%s %s", d.Stage, d.Action, d.Type.Category, d.Type.Provider, d.State)
	default:
		t.Fatalf("detail-type %q", env.DetailType)
	}
	return e
}

// runTest is a CodePipeline stand-in with Run running, and the real SDK client.
type runTest struct {
	t      *testing.T
	api    *codepipeline.Client
	emu    *CodePipeline
	events chan []byte
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned
}

// startRunTest starts Run with opt. setup, if set, prepares the stand-in before it
// serves; hook, if set, is called with each event inside the events callback.
func startRunTest(t *testing.T, opt RunOptions, setup func(*CodePipeline), hook func(*runTest, runEvent)) *runTest {
	t.Helper()
	emu := NewCodePipeline("core-pipeline")
	if setup != nil {
		setup(emu)
	}
	rt := &runTest{
		t:      t,
		api:    codepipeline.NewFromConfig(testenv.AWSStandIn(t, emu)),
		emu:    emu,
		events: make(chan []byte, 200),
		done:   make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	rt.cancel = cancel
	ready := make(chan struct{})
	opt.Ready = func() { close(ready) }
	var returned atomic.Bool
	go func() {
		defer close(rt.done)
		emu.Run(ctx, opt, func(b []byte) {
			if returned.Load() {
				t.Errorf("event after Run returned: %s", b)
			}
			if hook != nil {
				hook(rt, decodeRunEvent(t, b))
			}
			rt.events <- b
		})
		returned.Store(true)
	}()
	<-ready
	t.Cleanup(func() {
		rt.stop()
		select {
		case b := <-rt.events:
			t.Errorf("event not expected: %s", b)
		default:
		}
	})
	return rt
}

// stop cancels Run and waits for it to return.
func (rt *runTest) stop() {
	rt.t.Helper()
	rt.cancel()
	select {
	case <-rt.done:
	case <-time.After(10 * time.Second): // a guard against hanging, not a timing
		rt.t.Fatal("Run did not return after its context was cancelled")
	}
}

// next returns the next event.
func (rt *runTest) next() runEvent {
	rt.t.Helper()
	select {
	case b := <-rt.events:
		return decodeRunEvent(rt.t, b)
	case <-time.After(10 * time.Second): // a guard against hanging, not a timing
		rt.t.Fatal("no event within 10s")
		return runEvent{}
	}
}

// take returns the next n events.
func (rt *runTest) take(n int) []runEvent {
	rt.t.Helper()
	out := make([]runEvent, n)
	for i := range out {
		out[i] = rt.next()
	}
	return out
}

// until collects events until each of want (execution id → desc) has been seen,
// and returns them by execution.
func (rt *runTest) until(want map[string]string) map[string][]runEvent {
	rt.t.Helper()
	out := map[string][]runEvent{}
	left := len(want)
	for left > 0 {
		e := rt.next()
		out[e.d.ExecutionID] = append(out[e.d.ExecutionID], e)
		if w, ok := want[e.d.ExecutionID]; ok && w == e.desc {
			left--
		}
	}
	return out
}

// quiet checks that no event is pending: the runs wait.
func (rt *runTest) quiet() {
	rt.t.Helper()
	select {
	case b := <-rt.events:
		rt.t.Fatalf("event while the runs should wait: %s", b)
	default:
	}
}

func (rt *runTest) start(sha string) string {
	rt.t.Helper()
	out, err := rt.api.StartPipelineExecution(context.Background(), cpStartInput("core-pipeline", sha, ""))
	if err != nil {
		rt.t.Fatal(err)
	}
	return aws.ToString(out.PipelineExecutionId)
}

func (rt *runTest) state() *codepipeline.GetPipelineStateOutput {
	rt.t.Helper()
	out, err := rt.api.GetPipelineState(context.Background(), &codepipeline.GetPipelineStateInput{Name: aws.String("core-pipeline")})
	if err != nil {
		rt.t.Fatal(err)
	}
	return out
}

// statuses is ListPipelineExecutions' status of each execution.
func (rt *runTest) statuses() map[string]types.PipelineExecutionStatus {
	rt.t.Helper()
	out, err := rt.api.ListPipelineExecutions(context.Background(), &codepipeline.ListPipelineExecutionsInput{PipelineName: aws.String("core-pipeline")})
	if err != nil {
		rt.t.Fatal(err)
	}
	m := map[string]types.PipelineExecutionStatus{}
	for _, s := range out.PipelineExecutionSummaries {
		m[aws.ToString(s.PipelineExecutionId)] = s.Status
	}
	return m
}

func (rt *runTest) execution(id string) *types.PipelineExecution {
	rt.t.Helper()
	out, err := rt.api.GetPipelineExecution(context.Background(), &codepipeline.GetPipelineExecutionInput{
		PipelineName: aws.String("core-pipeline"), PipelineExecutionId: aws.String(id),
	})
	if err != nil {
		rt.t.Fatal(err)
	}
	return out.PipelineExecution
}

func (rt *runTest) approve(stage, action, token, status string) (*codepipeline.PutApprovalResultOutput, error) {
	return rt.api.PutApprovalResult(context.Background(), &codepipeline.PutApprovalResultInput{
		PipelineName: aws.String("core-pipeline"), StageName: aws.String(stage), ActionName: aws.String(action),
		Token:  aws.String(token),
		Result: &types.ApprovalResult{Status: types.ApprovalStatus(status), Summary: aws.String(status + " by @ada")},
	})
}

// findStage returns the named stage of a GetPipelineState answer.
func findStage(t *testing.T, st *codepipeline.GetPipelineStateOutput, name string) types.StageState {
	t.Helper()
	for _, s := range st.StageStates {
		if aws.ToString(s.StageName) == name {
			return s
		}
	}
	t.Fatalf("no stage %s", name)
	return types.StageState{}
}

func descs(evs []runEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.desc)
	}
	return out
}

func checkSequence(t *testing.T, got []runEvent, want []string) {
	t.Helper()
	if g := descs(got); !slices.Equal(g, want) {
		t.Fatalf("events:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
}

// checkDetails checks what every event of execution id carries.
func checkDetails(t *testing.T, evs []runEvent, id string, started time.Time) {
	t.Helper()
	for _, e := range evs {
		if e.d.Pipeline != "core-pipeline" || e.d.ExecutionID != id || e.d.StartTime != started.Format("2006-01-02T15:04:05.000Z07:00") ||
			!slices.Equal(e.env.Resources, []string{PipelineARN("core-pipeline")}) {
			t.Errorf("%s: detail %+v, envelope %+v; want execution %s started %v", e.desc, e.d, e.env, id, started)
		}
		if e.env.DetailType == ActionStateChange && !awsUUIDPattern.MatchString(e.d.ActionExecutionID) {
			t.Errorf("%s: action-execution-id %q", e.desc, e.d.ActionExecutionID)
		}
	}
}

// waitingApproval checks GetPipelineState while id waits at the approval and
// returns the token.
func waitingApproval(t *testing.T, rt *runTest, id string, started runEvent) string {
	t.Helper()
	st := rt.state()
	var names []string
	for _, s := range st.StageStates {
		names = append(names, aws.ToString(s.StageName))
	}
	if !slices.Equal(names, []string{"Source", "Build", "Staging", "Production"}) {
		t.Fatalf("stages %v", names)
	}
	for _, name := range []string{"Source", "Build", "Staging"} {
		s := findStage(t, st, name)
		if le := s.LatestExecution; le == nil || aws.ToString(le.PipelineExecutionId) != id || le.Status != types.StageExecutionStatusSucceeded {
			t.Errorf("stage %s: latest execution %+v", name, s.LatestExecution)
		}
		for _, a := range s.ActionStates {
			if le := a.LatestExecution; le == nil || le.Status != types.ActionExecutionStatusSucceeded || le.LastStatusChange == nil || le.Token != nil {
				t.Errorf("stage %s action %s: %+v", name, aws.ToString(a.ActionName), le)
			}
		}
	}
	prod := findStage(t, st, "Production")
	if le := prod.LatestExecution; le == nil || aws.ToString(le.PipelineExecutionId) != id || le.Status != types.StageExecutionStatusInProgress {
		t.Fatalf("Production latest execution %+v", prod.LatestExecution)
	}
	if len(prod.ActionStates) != 2 || aws.ToString(prod.ActionStates[0].ActionName) != "ApproveProduction" || aws.ToString(prod.ActionStates[1].ActionName) != "Deploy" {
		t.Fatalf("Production actions %+v", prod.ActionStates)
	}
	ap := prod.ActionStates[0].LatestExecution
	if ap == nil || ap.Status != types.ActionExecutionStatusInProgress || aws.ToString(ap.Token) == "" ||
		aws.ToString(ap.ActionExecutionId) != started.d.ActionExecutionID || !aws.ToTime(ap.LastStatusChange).Truncate(time.Second).Equal(started.env.Time) {
		t.Fatalf("approval action %+v, STARTED event %+v", ap, started.d)
	}
	// Deploy has not run yet in this execution; it may show an earlier one's run.
	if le := prod.ActionStates[1].LatestExecution; le != nil && le.Status == types.ActionExecutionStatusInProgress {
		t.Fatalf("Production Deploy runs: %+v", le)
	}
	return aws.ToString(ap.Token)
}

func TestRunApproved(t *testing.T) {
	rt := startRunTest(t, RunOptions{}, nil, nil)
	id := rt.start("c0ffee1")
	started := rt.emu.Executions()[0].StartedAt

	first := rt.take(approvalAt)
	checkSequence(t, first, defaultRun[:approvalAt])
	checkDetails(t, first, id, started)
	rt.quiet()
	token := waitingApproval(t, rt, id, first[approvalAt-1])
	if le := findStage(t, rt.state(), "Production").ActionStates[1].LatestExecution; le != nil {
		t.Fatalf("Production Deploy ran: %+v", le)
	}
	pe := rt.execution(id)
	if pe.Status != types.PipelineExecutionStatusInProgress || len(pe.ArtifactRevisions) != 1 || aws.ToString(pe.ArtifactRevisions[0].RevisionId) != "c0ffee1" {
		t.Fatalf("execution while waiting %+v", pe)
	}
	if s := rt.statuses(); s[id] != types.PipelineExecutionStatusInProgress {
		t.Fatalf("listed while waiting: %v", s)
	}

	if _, err := rt.approve("Production", "ApproveProduction", "not-the-token", "Approved"); !errors.As(err, new(*types.InvalidApprovalTokenException)) {
		t.Fatalf("wrong token: %v", err)
	}
	rt.quiet()
	if _, err := rt.approve("Production", "ApproveProduction", token, "Approved"); err != nil {
		t.Fatal(err)
	}
	rest := rt.take(len(defaultRun) - approvalAt)
	checkSequence(t, rest, defaultRun[approvalAt:])
	checkDetails(t, rest, id, started)
	if r := rest[0].d.ExecutionResult; r == nil || r.Summary != "Approved by @ada" || r.ErrorCode != "" {
		t.Errorf("approval result %+v", r)
	}
	if rest[0].d.ActionExecutionID != first[approvalAt-1].d.ActionExecutionID {
		t.Errorf("approval STARTED and SUCCEEDED carry action executions %s and %s", first[approvalAt-1].d.ActionExecutionID, rest[0].d.ActionExecutionID)
	}
	if _, err := rt.approve("Production", "ApproveProduction", token, "Approved"); !errors.As(err, new(*types.ApprovalAlreadyCompletedException)) {
		t.Fatalf("second approval: %v", err)
	}

	if s := rt.statuses(); s[id] != types.PipelineExecutionStatusSucceeded {
		t.Fatalf("listed after the run: %v", s)
	}
	if pe := rt.execution(id); pe.Status != types.PipelineExecutionStatusSucceeded {
		t.Fatalf("execution after the run %+v", pe)
	}
	for _, s := range rt.state().StageStates {
		if le := s.LatestExecution; le == nil || aws.ToString(le.PipelineExecutionId) != id || le.Status != types.StageExecutionStatusSucceeded {
			t.Errorf("stage %s: %+v", aws.ToString(s.StageName), s.LatestExecution)
		}
		for _, a := range s.ActionStates {
			if le := a.LatestExecution; le == nil || le.Status != types.ActionExecutionStatusSucceeded {
				t.Errorf("stage %s action %s: %+v", aws.ToString(s.StageName), aws.ToString(a.ActionName), le)
			}
		}
	}
}

func TestRunRejected(t *testing.T) {
	rt := startRunTest(t, RunOptions{}, nil, nil)
	id := rt.start("c0ffee1")
	first := rt.take(approvalAt)
	checkSequence(t, first, defaultRun[:approvalAt])
	token := waitingApproval(t, rt, id, first[approvalAt-1])

	if _, err := rt.approve("Production", "ApproveProduction", token, "Rejected"); err != nil {
		t.Fatal(err)
	}
	rest := rt.take(3)
	checkSequence(t, rest, []string{
		"action Production/ApproveProduction Approval/Manual FAILED",
		"stage Production FAILED",
		"pipeline FAILED",
	})
	checkDetails(t, rest, id, rt.emu.Executions()[0].StartedAt)
	if r := rest[0].d.ExecutionResult; r == nil || r.Summary != "Rejected by @ada" || r.ErrorCode != "JobFailed" {
		t.Errorf("rejection result %+v", r)
	}
	if s := rt.statuses(); s[id] != types.PipelineExecutionStatusFailed {
		t.Fatalf("listed: %v", s)
	}
	prod := findStage(t, rt.state(), "Production")
	if le := prod.LatestExecution; le == nil || le.Status != types.StageExecutionStatusFailed || aws.ToString(le.PipelineExecutionId) != id {
		t.Fatalf("Production %+v", le)
	}
	if a := prod.ActionStates[0].LatestExecution; a == nil || a.Status != types.ActionExecutionStatusFailed || aws.ToString(a.Summary) != "Rejected by @ada" {
		t.Fatalf("approval action %+v", a)
	}
	if a := prod.ActionStates[1].LatestExecution; a != nil {
		t.Fatalf("Deploy ran after a rejection: %+v", a)
	}
}

// approveInCallback approves, from inside the events callback, each approval as
// its STARTED event arrives, as pipegate's pipeline-events handler does.
func approveInCallback(rt *runTest, e runEvent) {
	t := rt.t
	if e.d.Type == nil || e.d.Type.Category != "Approval" || e.d.State != "STARTED" {
		return
	}
	s := findStage(t, rt.state(), e.d.Stage)
	if le := s.LatestExecution; le == nil || aws.ToString(le.PipelineExecutionId) != e.d.ExecutionID || le.Status != types.StageExecutionStatusInProgress {
		t.Errorf("at %s of %s: stage %+v", e.desc, e.d.ExecutionID, le)
		return
	}
	for _, a := range s.ActionStates {
		if aws.ToString(a.ActionName) == e.d.Action && a.LatestExecution != nil {
			if _, err := rt.approve(e.d.Stage, e.d.Action, aws.ToString(a.LatestExecution.Token), "Approved"); err != nil {
				t.Errorf("approve from the callback: %v", err)
			}
			return
		}
	}
	t.Errorf("no action %s in %+v", e.d.Action, s)
}

func TestRunApprovalFromCallback(t *testing.T) {
	rt := startRunTest(t, RunOptions{}, nil, approveInCallback)
	id := rt.start("c0ffee1")
	evs := rt.take(len(defaultRun))
	checkSequence(t, evs, defaultRun)
	if s := rt.statuses(); s[id] != types.PipelineExecutionStatusSucceeded {
		t.Fatalf("listed: %v", s)
	}
	if a := rt.emu.Approvals(); len(a) != 1 || a[0].Status != "Approved" || a[0].Stage != "Production" {
		t.Fatalf("approvals %+v", a)
	}
}

func TestRunStep(t *testing.T) {
	rt := startRunTest(t, RunOptions{Step: time.Millisecond}, nil, approveInCallback)
	rt.start("c0ffee1")
	checkSequence(t, rt.take(len(defaultRun)), defaultRun)
}

func TestRunAdvance(t *testing.T) {
	clock := newTestClock() // 09:26:53.589: the virtual clock starts at 09:26:53
	rt := startRunTest(t, RunOptions{Advance: time.Minute}, func(c *CodePipeline) { c.Now = clock.Now }, nil)
	t0 := clock.Now().Truncate(time.Second)
	id := rt.start("c0ffee1")
	first := rt.take(approvalAt)
	checkDetails(t, first, id, t0)
	token := waitingApproval(t, rt, id, first[approvalAt-1])
	out, err := rt.approve("Production", "ApproveProduction", token, "Approved")
	if err != nil {
		t.Fatal(err)
	}
	evs := append(first, rt.take(len(defaultRun)-approvalAt)...)
	checkSequence(t, evs, defaultRun)
	// Every state change moves the clock a minute, the approval included.
	for i, e := range evs {
		if want := t0.Add(time.Duration(i) * time.Minute); !e.env.Time.Equal(want) {
			t.Errorf("%s at %v, want %v", e.desc, e.env.Time, want)
		}
	}
	if at := t0.Add(approvalAt * time.Minute); !aws.ToTime(out.ApprovedAt).Equal(at) {
		t.Errorf("approvedAt %v, want %v", out.ApprovedAt, at)
	}
	if d := evs[8].env.Time.Sub(evs[5].env.Time); evs[5].desc != "stage Build STARTED" || d != 3*time.Minute {
		t.Errorf("Build took %v", d)
	}
	list, err := rt.api.ListPipelineExecutions(context.Background(), &codepipeline.ListPipelineExecutionsInput{PipelineName: aws.String("core-pipeline")})
	if err != nil {
		t.Fatal(err)
	}
	s := list.PipelineExecutionSummaries[0]
	if end := t0.Add(time.Duration(len(defaultRun)-1) * time.Minute); !aws.ToTime(s.StartTime).Equal(t0) || !aws.ToTime(s.LastUpdateTime).Equal(end) {
		t.Errorf("listed start %v, last update %v; want %v, %v", s.StartTime, s.LastUpdateTime, t0, end)
	}
	prod := findStage(t, rt.state(), "Production")
	if a := prod.ActionStates[1].LatestExecution; !aws.ToTime(a.LastStatusChange).Equal(evs[len(evs)-3].env.Time) {
		t.Errorf("Production Deploy changed at %v, its SUCCEEDED event at %v", a.LastStatusChange, evs[len(evs)-3].env.Time)
	}

	// Once Run has returned the clock is the stand-in's again.
	rt.stop()
	rt.start("c0ffee2")
	if e := rt.emu.Executions(); !e[1].StartedAt.Equal(clock.Now()) {
		t.Errorf("started after Run at %v, want %v", e[1].StartedAt, clock.Now())
	}
}

// ListActionExecutions answers each action run of an execution that Run ran:
// its stage, start (its STARTED event's time), last update (its end's) and
// status, newest first, the approval's summary as its result.
func TestRunListActionExecutions(t *testing.T) {
	clock := newTestClock()
	rt := startRunTest(t, RunOptions{Advance: time.Minute}, func(c *CodePipeline) { c.Now = clock.Now }, nil)
	other := rt.start("c0ffee0") // an earlier execution, rejected: not in the filtered answer
	first := rt.take(approvalAt)
	if _, err := rt.approve("Production", "ApproveProduction", waitingApproval(t, rt, other, first[approvalAt-1]), "Rejected"); err != nil {
		t.Fatal(err)
	}
	rt.take(3) // approval, stage and pipeline FAILED
	id := rt.start("c0ffee1")
	evs := rt.take(approvalAt)
	if _, err := rt.approve("Production", "ApproveProduction", waitingApproval(t, rt, id, evs[approvalAt-1]), "Approved"); err != nil {
		t.Fatal(err)
	}
	evs = append(evs, rt.take(len(defaultRun)-approvalAt)...)

	type run struct {
		stage, action, category, provider, status, summary string
		start, end                                         time.Time
	}
	want := map[string]*run{} // by action execution id
	var order []string
	for _, e := range evs {
		if e.env.DetailType != ActionStateChange {
			continue
		}
		if e.d.State == "STARTED" {
			want[e.d.ActionExecutionID] = &run{stage: e.d.Stage, action: e.d.Action, category: e.d.Type.Category, provider: e.d.Type.Provider, start: e.env.Time}
			order = append(order, e.d.ActionExecutionID)
			continue
		}
		r := want[e.d.ActionExecutionID]
		r.status, r.end = "Succeeded", e.env.Time
		if e.d.ExecutionResult != nil {
			r.summary = e.d.ExecutionResult.Summary
		}
	}
	out, err := rt.api.ListActionExecutions(context.Background(), &codepipeline.ListActionExecutionsInput{
		PipelineName: aws.String("core-pipeline"),
		Filter:       &types.ActionExecutionFilter{PipelineExecutionId: aws.String(id)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ActionExecutionDetails) != len(want) || len(want) != 5 || out.NextToken != nil {
		t.Fatalf("%d action executions (next token %v), want %d: %+v", len(out.ActionExecutionDetails), out.NextToken, len(want), out.ActionExecutionDetails)
	}
	for i, d := range out.ActionExecutionDetails {
		aid := aws.ToString(d.ActionExecutionId)
		if aid != order[len(order)-1-i] {
			t.Errorf("answer %d is %s, want %s: newest first", i, aid, order[len(order)-1-i])
		}
		w := want[aid]
		if w == nil {
			t.Fatalf("unknown action execution %s", aid)
		}
		var summary string
		if d.Output != nil && d.Output.ExecutionResult != nil {
			summary = aws.ToString(d.Output.ExecutionResult.ExternalExecutionSummary)
		}
		if aws.ToString(d.PipelineExecutionId) != id || aws.ToString(d.StageName) != w.stage || aws.ToString(d.ActionName) != w.action ||
			!aws.ToTime(d.StartTime).Equal(w.start) || !aws.ToTime(d.LastUpdateTime).Equal(w.end) || string(d.Status) != w.status ||
			summary != w.summary || d.Input == nil || d.Input.ActionTypeId == nil ||
			string(d.Input.ActionTypeId.Category) != w.category || aws.ToString(d.Input.ActionTypeId.Provider) != w.provider {
			t.Errorf("%s: %+v (input %+v), want %+v", aid, d, d.Input, *w)
		}
	}
	if w := want[order[3]]; w.action != "ApproveProduction" || w.summary != "Approved by @ada" {
		t.Errorf("approval run %+v", *w)
	}

	// Unfiltered, the rejected execution's runs are there too, its approval Failed.
	all, err := rt.api.ListActionExecutions(context.Background(), &codepipeline.ListActionExecutionsInput{PipelineName: aws.String("core-pipeline")})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, d := range all.ActionExecutionDetails {
		if aws.ToString(d.PipelineExecutionId) == other && d.Status == types.ActionExecutionStatusFailed && aws.ToString(d.ActionName) == "ApproveProduction" {
			failed++
		}
	}
	if len(all.ActionExecutionDetails) != 4+5 || failed != 1 {
		t.Errorf("%d action executions, %d failed approvals; want 9, 1", len(all.ActionExecutionDetails), failed)
	}
}

func TestRunTwoExecutions(t *testing.T) {
	rt := startRunTest(t, RunOptions{}, nil, approveInCallback)
	a, b := rt.start("aaa"), rt.start("bbb")
	got := rt.until(map[string]string{a: "pipeline SUCCEEDED", b: "pipeline SUCCEEDED"})
	if len(got) != 2 {
		t.Fatalf("events of %d executions", len(got))
	}
	execs := rt.emu.Executions()
	checkSequence(t, got[a], defaultRun)
	checkDetails(t, got[a], a, execs[0].StartedAt)
	checkSequence(t, got[b], defaultRun)
	checkDetails(t, got[b], b, execs[1].StartedAt)
	if s := rt.statuses(); s[a] != types.PipelineExecutionStatusSucceeded || s[b] != types.PipelineExecutionStatusSucceeded {
		t.Fatalf("listed: %v", s)
	}
	if n := len(rt.emu.Approvals()); n != 2 {
		t.Fatalf("%d approvals", n)
	}
}

// TestRunSupersede: one execution at a time in a stage; the next waits in the
// inbound transition until a newer one supersedes it.
func TestRunSupersede(t *testing.T) {
	rt := startRunTest(t, RunOptions{}, nil, nil)
	e1 := rt.start("s1")
	first := rt.take(approvalAt)
	token1 := waitingApproval(t, rt, e1, first[approvalAt-1])

	e2 := rt.start("s2")
	checkSequence(t, rt.take(13), defaultRun[:13]) // up to Staging SUCCEEDED: e2 waits for Production
	rt.quiet()
	prod := findStage(t, rt.state(), "Production")
	if in := prod.InboundExecution; in == nil || aws.ToString(in.PipelineExecutionId) != e2 || aws.ToString(prod.LatestExecution.PipelineExecutionId) != e1 {
		t.Fatalf("Production inbound %+v, latest %+v", prod.InboundExecution, prod.LatestExecution)
	}

	e3 := rt.start("s3")
	got := rt.until(map[string]string{e2: "pipeline SUPERSEDED", e3: "stage Staging SUCCEEDED"})
	checkSequence(t, got[e2], []string{"pipeline SUPERSEDED"})
	checkSequence(t, got[e3], defaultRun[:13])
	rt.quiet()
	if s := rt.statuses(); s[e1] != types.PipelineExecutionStatusInProgress || s[e2] != types.PipelineExecutionStatusSuperseded || s[e3] != types.PipelineExecutionStatusInProgress {
		t.Fatalf("listed: %v", s)
	}
	if in := findStage(t, rt.state(), "Production").InboundExecution; in == nil || aws.ToString(in.PipelineExecutionId) != e3 {
		t.Fatalf("Production inbound %+v", in)
	}

	if _, err := rt.approve("Production", "ApproveProduction", token1, "Approved"); err != nil {
		t.Fatal(err)
	}
	got = rt.until(map[string]string{e1: "pipeline SUCCEEDED", e3: defaultRun[approvalAt-1]})
	checkSequence(t, got[e1], defaultRun[approvalAt:])
	checkSequence(t, got[e3], defaultRun[13:approvalAt])
	rt.quiet()
	token3 := waitingApproval(t, rt, e3, got[e3][1])
	if token3 == token1 {
		t.Fatal("the same token for two approvals")
	}
	if in := findStage(t, rt.state(), "Production").InboundExecution; in != nil {
		t.Fatalf("Production inbound %+v after e3 entered", in)
	}
	if _, err := rt.approve("Production", "ApproveProduction", token3, "Approved"); err != nil {
		t.Fatal(err)
	}
	checkSequence(t, rt.take(len(defaultRun)-approvalAt), defaultRun[approvalAt:])
	if s := rt.statuses(); s[e1] != types.PipelineExecutionStatusSucceeded || s[e2] != types.PipelineExecutionStatusSuperseded || s[e3] != types.PipelineExecutionStatusSucceeded {
		t.Fatalf("listed: %v", s)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	rt := startRunTest(t, RunOptions{}, nil, nil)
	e1 := rt.start("s1")
	first := rt.take(approvalAt)
	token := waitingApproval(t, rt, e1, first[approvalAt-1])
	e2 := rt.start("s2")
	rt.take(13) // e2 waits for Production

	rt.stop() // Run returns: both runs have stopped
	rt.quiet()
	// The approval is abandoned: answering it changes the state, and nothing runs on.
	if _, err := rt.approve("Production", "ApproveProduction", token, "Approved"); err != nil {
		t.Fatal(err)
	}
	e3 := rt.start("s3")
	rt.quiet()
	if s := rt.statuses(); s[e1] != types.PipelineExecutionStatusInProgress || s[e2] != types.PipelineExecutionStatusInProgress || s[e3] != types.PipelineExecutionStatusInProgress {
		t.Fatalf("listed: %v", s)
	}
	if in := findStage(t, rt.state(), "Production").InboundExecution; in != nil {
		t.Fatalf("Production inbound %+v after Run stopped", in)
	}

	// A new Run takes new executions; the stages are free again.
	rt2ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	ready := make(chan struct{})
	evs := make(chan []byte, 100)
	go func() {
		defer close(done)
		rt.emu.Run(rt2ctx, RunOptions{Ready: func() { close(ready) }}, func(b []byte) { evs <- b })
	}()
	<-ready
	e4 := rt.start("s4")
	for _, want := range defaultRun[:approvalAt] {
		select {
		case b := <-evs:
			if e := decodeRunEvent(t, b); e.desc != want || e.d.ExecutionID != e4 {
				t.Fatalf("second Run: %s of %s, want %s of %s", e.desc, e.d.ExecutionID, want, e4)
			}
		case <-time.After(10 * time.Second): // a guard against hanging, not a timing
			t.Fatal("second Run sends nothing")
		}
	}
	cancel()
	<-done
}

func TestRunStepStopsOnCancel(t *testing.T) {
	rt := startRunTest(t, RunOptions{Step: time.Hour}, nil, nil)
	rt.start("s1") // even its STARTED event waits a Step, as EventBridge lags
	rt.stop()      // fails if the hour is waited
	rt.quiet()
}

func TestRunShape(t *testing.T) {
	rt := startRunTest(t, RunOptions{}, func(c *CodePipeline) {
		c.SetStage("core-pipeline", StageState{Name: "Old", ExecutionID: "e0", Status: "Succeeded"})
		c.SetStage("core-pipeline", StageState{Name: "Deploy", ExecutionID: "e0", Status: "Failed",
			Actions: []ActionState{{Name: "Gone", Status: "Failed"}, {Name: "Push", Status: "Failed", Error: "boom"}}})
		c.SetShape("core-pipeline", []StageSpec{
			{Name: "Deploy", Actions: []ActionSpec{{Name: "Push", Category: "Deploy", Provider: "S3"}, {Name: "Notify", Category: "Invoke", Provider: "Lambda"}}},
			{Name: "Empty"},
		})
	}, nil)
	// The shape is the pipeline's structure: its stages and actions, what ran kept.
	st := rt.state()
	if len(st.StageStates) != 2 {
		t.Fatalf("stages %+v", st.StageStates)
	}
	deploy := findStage(t, st, "Deploy")
	if le := deploy.LatestExecution; le == nil || aws.ToString(le.PipelineExecutionId) != "e0" || len(deploy.ActionStates) != 2 ||
		deploy.ActionStates[0].LatestExecution == nil || deploy.ActionStates[1].LatestExecution != nil {
		t.Fatalf("Deploy before the run %+v", deploy)
	}

	id := rt.start("s1")
	checkSequence(t, rt.take(10), []string{
		"pipeline STARTED",
		"stage Deploy STARTED",
		"action Deploy/Push Deploy/S3 STARTED",
		"action Deploy/Push Deploy/S3 SUCCEEDED",
		"action Deploy/Notify Invoke/Lambda STARTED",
		"action Deploy/Notify Invoke/Lambda SUCCEEDED",
		"stage Deploy SUCCEEDED",
		"stage Empty STARTED",
		"stage Empty SUCCEEDED",
		"pipeline SUCCEEDED",
	})
	deploy = findStage(t, rt.state(), "Deploy")
	if a := deploy.ActionStates[0].LatestExecution; a == nil || a.Status != types.ActionExecutionStatusSucceeded || a.ErrorDetails != nil {
		t.Fatalf("Push after the run %+v", a)
	}
	if s := rt.statuses(); s[id] != types.PipelineExecutionStatusSucceeded {
		t.Fatalf("listed: %v", s)
	}
}

// TestRunDefaultShapeNamed: a pipeline without a shape gets DefaultShape with the
// default names; DefaultShape takes the names a routing file gives, and a stage
// named like an earlier one is that stage.
func TestRunDefaultShapeNamed(t *testing.T) {
	for _, tc := range []struct {
		source, staging, production, approval string
		want                                  []string
	}{
		{"Checkout", "QA", "Prod", "Approve", []string{
			"Source/Checkout Source/CodeStarSourceConnection", "Build/Build Build/CodeBuild", "QA/Deploy Deploy/ECS",
			"Prod/Approve Approval/Manual", "Prod/Deploy Deploy/ECS",
		}},
		{"Source", "Build", "Production", "ApproveProduction", []string{
			"Source/Source Source/CodeStarSourceConnection", "Build/Build Build/CodeBuild", "Build/Deploy Deploy/ECS",
			"Production/ApproveProduction Approval/Manual", "Production/Deploy Deploy/ECS",
		}},
	} {
		var got []string
		for _, s := range DefaultShape(tc.source, tc.staging, tc.production, tc.approval) {
			for _, a := range s.Actions {
				got = append(got, s.Name+"/"+a.Name+" "+a.Category+"/"+a.Provider)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("DefaultShape(%q, %q, %q, %q) %v, want %v", tc.source, tc.staging, tc.production, tc.approval, got, tc.want)
		}
	}
}
