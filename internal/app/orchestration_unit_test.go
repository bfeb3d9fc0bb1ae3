package app

// Unit tests of the handlers' orchestration: the retry and resume paths (run,
// apply and post, resume, finishPending, the gate's evaluation) against small
// fakes of the roles the handlers declare, in milliseconds. The wire-level
// tests (world_test.go) run the same paths through the real clients.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/freeze"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

const unitSHA = "1111111111111111111111111111111111111111"

var errDown = errors.New("down")

// fakeCP is CodePipeline: it starts, reads and approves as told.
type fakeCP struct {
	startErr   map[string]error // by pipeline
	started    []string
	stages     []codepipeline.StageState
	stateErr   error
	exec       codepipeline.Execution
	approveErr error
	approved   []codepipeline.Approval
}

func (f *fakeCP) Start(_ context.Context, in codepipeline.StartInput) (string, error) {
	if err := f.startErr[in.Pipeline]; err != nil {
		return "", err
	}
	f.started = append(f.started, in.Pipeline)
	return "exec-" + in.Pipeline, nil
}
func (f *fakeCP) ExecutionURL(p, id string) string { return "https://console/" + p + "/" + id }
func (f *fakeCP) Execution(context.Context, string, string) (codepipeline.Execution, error) {
	return f.exec, nil
}
func (f *fakeCP) Recent(context.Context, string, int) ([]codepipeline.Summary, error) {
	return nil, nil
}
func (f *fakeCP) State(context.Context, string) ([]codepipeline.StageState, error) {
	return f.stages, f.stateErr
}
func (f *fakeCP) ActionExecutions(context.Context, string, string) ([]codepipeline.ActionExecution, error) {
	return nil, nil
}
func (f *fakeCP) Approve(_ context.Context, a codepipeline.Approval) error {
	if f.approveErr != nil {
		return f.approveErr
	}
	f.approved = append(f.approved, a)
	return nil
}

// fakeGitLab takes statuses, or fails them, and knows one merge request.
type fakeGitLab struct {
	Branches         // nil: these tests watch no branch's head
	DeploymentPoster // nil: these tests deploy nothing
	setErr           error
	statuses         []gitlab.Status
	mrs              []gitlab.MergeRequest
	reviews          int // calls of the merge request API
}

func (f *fakeGitLab) SetStatus(_ context.Context, _, _ string, s gitlab.Status) error {
	if f.setErr != nil {
		return f.setErr
	}
	f.statuses = append(f.statuses, s)
	return nil
}

// LatestStatus is the last status taken of name (no ref: these tests have one).
func (f *fakeGitLab) LatestStatus(_ context.Context, _, _, name, _ string) (gitlab.Status, bool, error) {
	for i := len(f.statuses) - 1; i >= 0; i-- {
		if f.statuses[i].Name == name {
			return f.statuses[i], true, nil
		}
	}
	return gitlab.Status{}, false, nil
}
func (f *fakeGitLab) ChangedPaths(context.Context, string, string, string) ([]string, error) {
	return nil, nil
}
func (f *fakeGitLab) MergeRequestsOfCommit(context.Context, string, string) ([]gitlab.MergeRequest, error) {
	f.reviews++
	return f.mrs, nil
}
func (f *fakeGitLab) GroupApprovers(context.Context, string) ([]string, error) {
	f.reviews++
	return nil, nil
}
func (f *fakeGitLab) FreezePeriods(context.Context, string) ([]freeze.Period, error) {
	f.reviews++
	return nil, nil
}
func (f *fakeGitLab) Approvals(context.Context, string, int64) (gitlab.Approvals, error) {
	f.reviews++
	return gitlab.Approvals{ApprovedBy: []string{"bob"}}, nil
}

// fakeStatuses are status records with versions; conflicts makes that many
// writes lose to another writer, putErr fails every write.
type fakeStatuses struct {
	recs      map[store.StatusKey]store.Status
	conflicts int
	putErr    error
}

func (f *fakeStatuses) GetStatus(_ context.Context, k store.StatusKey) (store.Status, bool, error) {
	s, ok := f.recs[k]
	if !ok {
		s.Key = k
	}
	return s, ok, nil
}
func (f *fakeStatuses) PutStatus(_ context.Context, s store.Status) (store.Status, error) {
	if f.putErr != nil {
		return s, f.putErr
	}
	if f.conflicts > 0 || s.Version != f.recs[s.Key].Version {
		f.conflicts--
		return s, store.ErrConflict
	}
	s.Version++
	if f.recs == nil {
		f.recs = map[store.StatusKey]store.Status{}
	}
	f.recs[s.Key] = s
	return s, nil
}

// fakeClaims answers every claim with state.
type fakeClaims struct {
	state              store.ClaimState
	released, finished int
}

func (f *fakeClaims) Claim(context.Context, string, time.Duration) (store.Claim, error) {
	return store.Claim{State: f.state, Owner: "me", Retry: true}, nil
}
func (f *fakeClaims) Finish(context.Context, string, string) error  { f.finished++; return nil }
func (f *fakeClaims) Release(context.Context, string, string) error { f.released++; return nil }

// fakePendings lists pending records and counts what is done with them.
type fakePendings struct {
	list         []store.Pending
	put, deleted []string
}

func (f *fakePendings) PutPending(_ context.Context, p store.Pending) error {
	f.put = append(f.put, p.Key)
	return nil
}
func (f *fakePendings) DeletePending(_ context.Context, k string) error {
	f.deleted = append(f.deleted, k)
	return nil
}
func (f *fakePendings) Pendings(context.Context, time.Time, int) ([]store.Pending, error) {
	return f.list, nil
}

// fakeDecisions keeps the gate's decisions, or fails to.
type fakeDecisions struct {
	err error
	got []store.GateDecision
}

func (f *fakeDecisions) RecordDecision(_ context.Context, d store.GateDecision) error {
	f.got = append(f.got, d)
	return f.err
}

// fakeStore plays each role with the fake given, the rest with store.Memory.
type fakeStore struct {
	Claims
	Pending
	Starts
	Executions
	Statuses
	GateLog
	BadgeResults
	Heads
	DeploymentRecords
}

type unit struct {
	app *App
	cp  *fakeCP
	gl  *fakeGitLab
	st  *fakeStore
	mem *store.Memory
}

func newUnit(t *testing.T) *unit {
	t.Helper()
	routes, err := routing.Parse([]byte(`
defaults:
  branches: ["main"]
services:
  - name: core
    project: team/core
    pipeline: core-pipeline
  - name: web
    project: team/core
    pipeline: web-pipeline
`))
	if err != nil {
		t.Fatal(err)
	}
	mem := store.NewMemory()
	u := &unit{cp: &fakeCP{}, gl: &fakeGitLab{}, mem: mem,
		st: &fakeStore{mem, mem, mem, mem, &fakeStatuses{}, &fakeDecisions{}, mem, mem, mem}}
	u.app = &App{Routes: routes, Secret: "s", Store: u.st, Pipelines: u.cp, GitLab: u.gl,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return u
}

func (u *unit) svc(name string) routing.Service {
	s, _ := u.app.Routes.Named(name)
	return s
}

func (u *unit) job(key string) *Job {
	p := &gitlabhook.Push{Project: "team/core", ProjectID: 42, Ref: "refs/heads/main", CommitSHA: unitSHA, After: unitSHA, PathsKnown: true}
	r := u.app.Routes.Match(p)
	return newJob(gitlabhook.Delivery{Key: key}, p, r)
}

// run starts what is routed, goes on past a failing target, and finds done
// what a resumed delivery did.
func TestUnitRun(t *testing.T) {
	for _, tc := range []struct {
		name        string
		setup       func(u *unit)
		resume      bool
		wantStarted []string // pipelines CodePipeline was asked to start
		wantStatus  map[string]string
		wantErr     string // the dependency the error names; "" none
	}{
		{"both start", nil, false, []string{"core-pipeline", "web-pipeline"},
			map[string]string{"core-pipeline": "posted", "web-pipeline": "posted"}, ""},
		{"one fails to start, the other starts", func(u *unit) {
			u.cp.startErr = map[string]error{"core-pipeline": errDown}
		}, false, []string{"web-pipeline"},
			map[string]string{"core-pipeline": "not started", "web-pipeline": "posted"}, depCodePipeline},
		{"GitLab down: started, status not posted", func(u *unit) { u.gl.setErr = errDown }, false,
			[]string{"core-pipeline", "web-pipeline"},
			map[string]string{"core-pipeline": "status not posted", "web-pipeline": "status not posted"}, depGitLab},
		{"resumed: the recorded start is not started again", func(u *unit) {
			_, _ = u.mem.PutStart(context.Background(), store.Start{Delivery: "d1", Pipeline: "core-pipeline", ExecutionID: "old", CommitSHA: unitSHA, Ref: "main"})
		}, true, []string{"web-pipeline"},
			map[string]string{"core-pipeline": "posted", "web-pipeline": "posted"}, ""},
		{"the pipeline's own events came first: no pending", func(u *unit) {
			st := u.st.Statuses.(*fakeStatuses)
			_, _ = st.PutStatus(context.Background(), store.Status{Key: statusKey(u.svc("core"), unitSHA, "refs/heads/main", ""), State: "SUCCEEDED"})
		}, false, []string{"core-pipeline", "web-pipeline"},
			map[string]string{"core-pipeline": "posted", "web-pipeline": "posted"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t)
			if tc.setup != nil {
				tc.setup(u)
			}
			job := u.job("d1")
			out, err := u.app.run(context.Background(), job, u.app.routing(job), tc.resume)
			if got := strings.Join(u.cp.started, ","); got != strings.Join(tc.wantStarted, ",") {
				t.Errorf("started %s, want %v", got, tc.wantStarted)
			}
			for _, s := range out.Started {
				if s.Status != tc.wantStatus[s.Pipeline] {
					t.Errorf("%s: status %q, want %q", s.Pipeline, s.Status, tc.wantStatus[s.Pipeline])
				}
			}
			if len(out.Started) != len(tc.wantStatus) {
				t.Errorf("answered %d pipelines, want %d", len(out.Started), len(tc.wantStatus))
			}
			if got := troubleSubject(err); (tc.wantErr == "") != (err == nil) || (err != nil && got != tc.wantErr) {
				t.Errorf("error %v (from %s), want from %q", err, got, tc.wantErr)
			}
			// A pending status is posted only where the pipeline's own events have not been.
			pending := 0
			for _, s := range u.gl.statuses {
				if s.State == "pending" {
					pending++
				}
			}
			if want := strings.Count(strings.Join(tc.wantStarted, ","), "pipeline"); tc.name == "the pipeline's own events came first: no pending" {
				if pending != 1 {
					t.Errorf("%d pending statuses, want 1 (web only)", pending)
				}
			} else if tc.wantErr == "" && pending != len(tc.wantStatus) && pending != want {
				t.Errorf("%d pending statuses", pending)
			}
		})
	}
}

// apply and post: the record is written before GitLab hears, a lost race is
// decided again, and a failed post leaves the record for the next attempt.
func TestUnitApplyPost(t *testing.T) {
	ex := store.Execution{Pipeline: "core-pipeline", ID: "e1", CommitSHA: unitSHA, Ref: "refs/heads/main", StartedAt: time.Unix(100, 0)}
	up := progress.Update{ExecutionID: "e1", ExecutionStart: ex.StartedAt, State: "STARTED", At: time.Unix(110, 0)}
	for _, tc := range []struct {
		name       string
		setup      func(u *unit, st *fakeStatuses)
		want       EventResult
		wantErr    bool
		wantPosted bool // the record is marked posted
		wantSent   int  // statuses GitLab got
	}{
		{"first event", nil, EventPosted, false, true, 1},
		{"a write lost to another event is decided again", func(_ *unit, st *fakeStatuses) { st.conflicts = 1 }, EventPosted, false, true, 1},
		{"contended for ever", func(_ *unit, st *fakeStatuses) { st.conflicts = 99 }, "", true, false, 0},
		{"GitLab down: recorded, not posted", func(u *unit, _ *fakeStatuses) { u.gl.setErr = errDown }, "", true, false, 0},
		{"the same event again is unchanged", func(u *unit, st *fakeStatuses) {
			rec := fromProgress(statusKey(u.svc("core"), unitSHA, ex.Ref, ""), progress.Status{ExecutionID: "e1", ExecutionStart: ex.StartedAt, State: "STARTED", At: up.At}, 0)
			rec.Posted = true
			_, _ = st.PutStatus(context.Background(), rec)
		}, EventUnchanged, false, true, 0},
		{"unchanged but never posted: posted now", func(u *unit, st *fakeStatuses) {
			rec := fromProgress(statusKey(u.svc("core"), unitSHA, ex.Ref, ""), progress.Status{ExecutionID: "e1", ExecutionStart: ex.StartedAt, State: "STARTED", At: up.At}, 0)
			_, _ = st.PutStatus(context.Background(), rec)
		}, EventPosted, false, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t)
			st := u.st.Statuses.(*fakeStatuses)
			if tc.setup != nil {
				tc.setup(u, st)
			}
			ans, err := u.app.apply(context.Background(), u.svc("core"), ex, "", up)
			if (err != nil) != tc.wantErr || (!tc.wantErr && ans.Result != tc.want) {
				t.Fatalf("apply = %+v, %v; want %q, error %v", ans, err, tc.want, tc.wantErr)
			}
			rec := st.recs[statusKey(u.svc("core"), unitSHA, ex.Ref, "")]
			if rec.Posted != tc.wantPosted || len(u.gl.statuses) != tc.wantSent {
				t.Errorf("record posted %v, GitLab got %d; want %v, %d", rec.Posted, len(u.gl.statuses), tc.wantPosted, tc.wantSent)
			}
			if tc.name == "GitLab down: recorded, not posted" && rec.State != "STARTED" {
				t.Errorf("record %+v: the decision was not kept for the retry", rec)
			}
		})
	}
}

// resume takes a delivery over once: done is dropped, busy is left alone, a
// failure gives the claim back.
func TestUnitResume(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		claim                      store.ClaimState
		startErr                   error
		wantErr                    error // errors.Is
		wantStarts, wantDropped    int
		wantReleased, wantFinished int
	}{
		{"claimed: runs and finishes", store.Claimed, nil, nil, 2, 1, 0, 1},
		{"done already: dropped, nothing started", store.Done, nil, nil, 0, 1, 0, 0},
		{"busy: left to its holder", store.Busy, nil, errBusy, 0, 0, 0, 0},
		{"fails: claim released for the next try", store.Claimed, errDown, errDown, 1, 0, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t)
			cl, pe := &fakeClaims{state: tc.claim}, &fakePendings{}
			u.st.Claims, u.st.Pending = cl, pe
			if tc.startErr != nil {
				u.cp.startErr = map[string]error{"core-pipeline": tc.startErr}
			}
			err := u.app.resume(context.Background(), u.job("d1"), "test")
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("resume: %v, want %v", err, tc.wantErr)
			}
			if len(u.cp.started) != tc.wantStarts || len(pe.deleted) != tc.wantDropped || cl.released != tc.wantReleased || cl.finished != tc.wantFinished {
				t.Errorf("started %d, dropped %d, released %d, finished %d; want %d, %d, %d, %d", len(u.cp.started), len(pe.deleted), cl.released, cl.finished,
					tc.wantStarts, tc.wantDropped, tc.wantReleased, tc.wantFinished)
			}
		})
	}
}

// finishPending resumes what no invocation finished: an unreadable record is
// dropped, a failing one goes to the back of the line, a busy one waits.
func TestUnitFinishPending(t *testing.T) {
	u := newUnit(t)
	body, _ := json.Marshal(u.job("d1"))
	for _, tc := range []struct {
		name        string
		rec         store.Pending
		claim       store.ClaimState
		startErr    error
		wantResumed int
		wantErr     bool
		wantPut     int // moved back
		wantDropped int
	}{
		{"resumed", store.Pending{Key: "d1", Job: body}, store.Claimed, nil, 1, false, 0, 1},
		{"unreadable: dropped", store.Pending{Key: "d2", Job: []byte("{")}, store.Claimed, nil, 0, false, 0, 1},
		{"names another delivery: dropped", store.Pending{Key: "d2", Job: body}, store.Claimed, nil, 0, false, 0, 1},
		{"fails: moved back", store.Pending{Key: "d1", Job: body}, store.Claimed, errDown, 0, true, 1, 0},
		{"busy: not counted, no error", store.Pending{Key: "d1", Job: body}, store.Busy, nil, 0, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t)
			pe := &fakePendings{list: []store.Pending{tc.rec}}
			u.st.Claims, u.st.Pending = &fakeClaims{state: tc.claim}, pe
			if tc.startErr != nil {
				u.cp.startErr = map[string]error{"core-pipeline": tc.startErr}
			}
			n, err := u.app.finishPending(context.Background())
			if n != tc.wantResumed || (err != nil) != tc.wantErr || len(pe.put) != tc.wantPut || len(pe.deleted) != tc.wantDropped {
				t.Errorf("resumed %d, %v, moved back %d, dropped %d; want %d, error %v, %d, %d",
					n, err, len(pe.put), len(pe.deleted), tc.wantResumed, tc.wantErr, tc.wantPut, tc.wantDropped)
			}
		})
	}
}

// The gate's evaluation: it answers only the execution that waits, records its
// decision before acting, and tells GitLab nothing CodePipeline did not take.
func TestUnitEvaluateGate(t *testing.T) {
	waiting := []codepipeline.StageState{{Name: "Production", ExecutionID: "e1", Status: "InProgress",
		Actions: []codepipeline.ActionState{{Name: "ApproveProduction", Status: "InProgress", Token: "tok"}}}}
	merged := []gitlab.MergeRequest{{IID: 7, State: "merged", TargetBranch: "main", Author: "alice"}}
	for _, tc := range []struct {
		name        string
		setup       func(u *unit)
		want        gate.Verdict
		wantErr     string // the dependency
		wantAnswers int    // PutApprovalResult taken
		wantReviews bool   // GitLab's merge requests read
		wantRecord  bool
	}{
		{"nothing waits", func(u *unit) { u.cp.stages = nil }, gate.NotWaiting, "", 0, false, false},
		{"merged and approved", nil, gate.Approve, "", 1, true, true},
		{"no merge request: waits, says so on the status", func(u *unit) { u.gl.mrs = nil }, gate.Wait, "", 0, true, true},
		{"the run the pipeline's creation started: rejected unread", func(u *unit) {
			_, _ = u.mem.PutExecution(context.Background(), store.Execution{Pipeline: "core-pipeline", ID: "e1", CommitSHA: unitSHA, Trigger: gate.CreationTrigger})
		}, gate.Reject, "", 1, false, true},
		{"audit write fails: nothing answered", func(u *unit) { u.st.GateLog = &fakeDecisions{err: errDown} }, gate.Approve, depStore, 0, true, true},
		{"answered already elsewhere", func(u *unit) { u.cp.approveErr = codepipeline.ErrApprovalGone }, gate.NotWaiting, "", 0, true, true},
		{"CodePipeline down", func(u *unit) { u.cp.approveErr = errDown }, gate.Approve, depCodePipeline, 0, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t)
			u.cp.stages, u.gl.mrs = waiting, merged
			_, _ = u.mem.PutExecution(context.Background(), store.Execution{Pipeline: "core-pipeline", ID: "e1", CommitSHA: unitSHA, Ref: "refs/heads/main"})
			if tc.setup != nil {
				tc.setup(u)
			}
			res, err := u.app.evaluateGate(context.Background(), u.svc("core"), "", "test", nil)
			if res.Verdict != tc.want || troubleSubject(err) != tc.wantErr && err != nil || (err == nil) != (tc.wantErr == "") {
				t.Fatalf("evaluateGate = %+v, %v; want %s, error from %q", res, err, tc.want, tc.wantErr)
			}
			if len(u.cp.approved) != tc.wantAnswers || (u.gl.reviews > 0) != tc.wantReviews {
				t.Errorf("answers %d, merge requests read %v; want %d, %v", len(u.cp.approved), u.gl.reviews > 0, tc.wantAnswers, tc.wantReviews)
			}
			if d, ok := u.st.GateLog.(*fakeDecisions); (len(d.got) > 0) != tc.wantRecord || ok && tc.wantRecord && d.got[0].Verdict != string(tc.want) && tc.want != gate.NotWaiting {
				t.Errorf("recorded %+v, want a record %v", d.got, tc.wantRecord)
			}
			// GitLab hears of an answer only once CodePipeline took it.
			for _, s := range u.gl.statuses {
				if s.State != "pending" && len(u.cp.approved) == 0 {
					t.Errorf("status %+v posted for an answer CodePipeline did not take", s)
				}
			}
		})
	}
}

// EventAnswer's JSON says a gate's verdict in its result, as it always did.
func TestUnitEventAnswerJSON(t *testing.T) {
	for _, tc := range []struct {
		ans  EventAnswer
		want string
	}{
		{EventAnswer{Result: EventGate, Gate: gate.Approve, Pipeline: "p"}, `{"result":"gate approve","pipeline":"p"}`},
		{EventAnswer{Result: EventGate, Gate: gate.NotWaiting}, `{"result":"gate not waiting"}`},
		{EventAnswer{Result: EventPosted, State: "success"}, `{"result":"posted","state":"success"}`},
		{EventAnswer{Result: EventReconciled, Repaired: 2}, `{"result":"reconciled","repaired":2}`},
	} {
		if b, err := json.Marshal(tc.ans); err != nil || string(b) != tc.want {
			t.Errorf("%+v in JSON = %s, %v; want %s", tc.ans, b, err, tc.want)
		}
	}
}

func (f *fakePendings) GetPending(context.Context, string) (store.Pending, bool, error) {
	return store.Pending{}, false, nil
}

// A delivery defers to the reconciler's unfinished start only for the services
// the reconciler's decided job names; while its routing waits for the compare
// the delivery starts under the reconciler's key; an unreadable job starts
// nothing, so the delivery does under its own.
func TestReconcilerStarts(t *testing.T) {
	job := func(j Job) store.Pending {
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		return store.Pending{Key: "k", Job: b}
	}
	for _, tc := range []struct {
		name          string
		p             store.Pending
		routed, names bool
	}{
		{"named", job(Job{Routed: true, Targets: []string{"billing", "search"}}), true, true},
		{"routed without it", job(Job{Routed: true, Targets: []string{"search"}}), true, false},
		{"routing waits for the compare", job(Job{}), false, false},
		{"unreadable", store.Pending{Key: "k", Job: []byte("{")}, true, false},
	} {
		if routed, names := reconcilerStarts(tc.p, "billing"); routed != tc.routed || names != tc.names {
			t.Errorf("%s: routed %v names %v, want %v %v", tc.name, routed, names, tc.routed, tc.names)
		}
	}
}
