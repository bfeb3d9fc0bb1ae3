package app_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

const (
	prodStatus = "core-pipeline/Production"
	// The summaries pipegate gives CodePipeline begin so; GitLab must show them
	// only for an answer CodePipeline accepted.
	approvedBy = "Approved by pipegate"
	rejectedBy = "Rejected by pipegate"
)

// gateStatuses are the statuses of core-pipeline/Production that claim an answer
// of the gate's (its approval or rejection), in the order GitLab accepted them.
func (w *world) gateStatuses() []emulator.CommitStatus {
	var out []emulator.CommitStatus
	for _, s := range w.gl.Statuses() {
		if s.Name == prodStatus && (strings.HasPrefix(s.Description, approvedBy) || strings.HasPrefix(s.Description, rejectedBy)) {
			out = append(out, s)
		}
	}
	return out
}

// rejectRoutes make the gate reject a commit without a merge request.
const rejectRoutes = "services:\n  - name: core\n    project: team/core\n    pipeline: core-pipeline\n    production: {no_merge_request: reject}\n"

// No "approved" before CodePipeline accepted it. Between the gate's
// GetPipelineState and its PutApprovalResult, the approval it read may be
// answered in the console, time out, or be asked again with a new token.
// CodePipeline then refuses pipegate's answer: GitLab must not show it, and the
// answer says that CodePipeline no longer waits for it. When CodePipeline
// accepts it, GitLab shows it, but only after CodePipeline accepted it.
func TestGateClaimsOnlyWhatCodePipelineAccepted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reject bool // the gate rejects (no merge request, no_merge_request: reject), else it approves
		// meanwhile changes CodePipeline between the gate's read of the state and
		// its answer; nil: nothing happens meanwhile.
		meanwhile func(w *world, id string)
		fault     *emulator.Fault // PutApprovalResult's answer instead
		accepted  bool            // CodePipeline takes pipegate's answer
	}{
		{name: "approve accepted", accepted: true},
		{name: "reject accepted", reject: true, accepted: true},
		{name: "approval asked again with a new token", meanwhile: func(w *world, id string) { w.waitAtGate(id, "tok-new") }},
		{name: "approved in the console", meanwhile: answered("Succeeded", "Approved by ada: hotfix")},
		{name: "rejected in the console", meanwhile: answered("Failed", "Rejected by ada: not today")},
		{name: "timed out", meanwhile: answered("Failed", "")},
		{name: "reject: approved in the console", reject: true, meanwhile: answered("Succeeded", "Approved by ada: hotfix")},
		{name: "reject: asked again with a new token", reject: true, meanwhile: func(w *world, id string) { w.waitAtGate(id, "tok-new") }},
		{name: "CodePipeline says the token is invalid", fault: &emulator.Fault{Status: 400, Code: "InvalidApprovalTokenException",
			Message: "The approval token tok-gate is not valid for action ApproveProduction"}},
		{name: "CodePipeline says the approval is completed", fault: &emulator.Fault{Status: 400, Code: "ApprovalAlreadyCompletedException",
			Message: "Approval for action ApproveProduction in stage Production of pipeline core-pipeline has already been completed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, withClock)
			if tc.reject {
				cfg, err := routing.Parse([]byte(rejectRoutes))
				if err != nil {
					t.Fatal(err)
				}
				w.app.Routes = cfg
			} else {
				w.gl.AddMergeRequest("team/core", mergedMR("ada", "bob"))
			}
			id := w.pushed()
			w.event(emulator.StageEvent("core-pipeline", id, "Production", "STARTED", at(299)))
			w.waitAtGate(id, "tok-gate")
			if tc.fault != nil {
				w.cp.FailNext("PutApprovalResult", 1, *tc.fault)
			}
			var once sync.Once
			w.cp.Before = func(op string) {
				if op == "PutApprovalResult" && tc.meanwhile != nil {
					once.Do(func() { tc.meanwhile(w, id) })
				}
			}
			claimedAtApproval := -1
			w.cp.OnApproval = func(emulator.Approval) { claimedAtApproval = len(w.gateStatuses()) }

			ans := w.event(approvalStarted(id))
			claims := w.gateStatuses()
			if tc.accepted {
				verdict := map[bool]string{false: "approve", true: "reject"}[tc.reject]
				if !gated(ans, gate.Verdict(verdict)) {
					t.Fatalf("answer %+v, want gate %s", ans, verdict)
				}
				if claimedAtApproval != 0 {
					t.Errorf("GitLab showed %d of the gate's answers before CodePipeline accepted it", claimedAtApproval)
				}
				state := map[bool]string{false: "running", true: "failed"}[tc.reject]
				if len(claims) != 1 || claims[0].State != state {
					t.Errorf("GitLab shows %+v, want the gate's answer once, %s", claims, state)
				}
				return
			}
			if !gated(ans, gate.NotWaiting) || !strings.Contains(ans.Reason, "CodePipeline no longer waits for this approval") {
				t.Errorf("answer %+v, want gate not waiting, saying CodePipeline no longer waits for this approval", ans)
			}
			if got := w.approvals(); len(got) != 0 {
				t.Errorf("CodePipeline accepted %+v", got)
			}
			if len(claims) != 0 {
				t.Errorf("GitLab shows %+v: an answer CodePipeline did not accept", claims)
			}
		})
	}

	// The merge request webhook's answer, which GitLab shows under "Recent
	// events", says the same.
	t.Run("merge request webhook", func(t *testing.T) {
		w := newWorld(t, withClock)
		id := w.pushed()
		w.waitAtGate(id, "tok-gate")
		w.gl.AddMergeRequest("team/core", mergedMR("ada", "bob"))
		w.cp.Before = func(op string) {
			if op == "PutApprovalResult" {
				answered("Succeeded", "Approved by ada: hotfix")(w, id)
			}
		}
		code, ans := w.deliver(mrHook(t, "approved"))
		if code != http.StatusOK || len(ans.Gates) != 1 || ans.Gates[0].Verdict != "not waiting" ||
			!strings.Contains(ans.Gates[0].Reason, "CodePipeline no longer waits for this approval") {
			t.Errorf("answer %d %+v, want the gate not waiting, saying CodePipeline no longer waits for this approval", code, ans)
		}
		if claims := w.gateStatuses(); len(claims) != 0 {
			t.Errorf("GitLab shows %+v: an approval CodePipeline did not accept", claims)
		}
	})
}

// answered makes the approval the gate read answered (or timed out) in
// CodePipeline: the action is no longer InProgress, and has no token.
func answered(status, summary string) func(w *world, id string) {
	return func(w *world, id string) {
		w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Production", ExecutionID: id, Status: "InProgress",
			Actions: []emulator.ActionState{{Name: "ApproveProduction", Status: status, Summary: summary}, {Name: "Deploy"}}})
	}
}

// hookStore is a store that calls afterPut after each status write it took.
type hookStore struct {
	app.Store
	afterPut func(store.Status)
}

func (s *hookStore) PutStatus(ctx context.Context, st store.Status) (store.Status, error) {
	out, err := s.Store.PutStatus(ctx, st)
	if err == nil && s.afterPut != nil {
		s.afterPut(out)
	}
	return out, err
}

// Once CodePipeline accepts the approval, the stage may end, and its SUCCEEDED
// be handled, before the gate's "approved" reaches GitLab. Whenever it comes in
// between, GitLab shows success last: the gate's status never reopens the stage.
func TestGateStatusNeverFollowsTheStageEnd(t *testing.T) {
	type hooks struct {
		w     *world
		store *hookStore
	}
	for _, tc := range []struct {
		name string
		// between arranges for stageEnd to run at one point of the gate's work.
		between func(h hooks, stageEnd func())
	}{
		{"after CodePipeline accepted, before pipegate hears of it", func(h hooks, stageEnd func()) {
			h.w.cp.OnApproval = func(emulator.Approval) { stageEnd() }
		}},
		{"after the gate recorded its status, before it posts it", func(h hooks, stageEnd func()) {
			h.store.afterPut = func(s store.Status) {
				if s.Key.Name == prodStatus && strings.HasPrefix(s.Description, approvedBy) && !s.Posted {
					stageEnd()
				}
			}
		}},
		{"after GitLab took the gate's status, before the gate marked it posted", func(h hooks, stageEnd func()) {
			h.w.gl.OnStatus = func(s emulator.CommitStatus) {
				if s.Name == prodStatus && strings.HasPrefix(s.Description, approvedBy) {
					stageEnd()
				}
			}
		}},
	} {
		for _, db := range []string{"memory", "dynamodb"} {
			t.Run(tc.name+"/"+db, func(t *testing.T) {
				var inner app.Store = store.NewMemory()
				if db == "dynamodb" {
					inner = dynamoStore(t)
				}
				hs := &hookStore{Store: inner}
				w := newWorld(t, withClock, withStore(hs))
				w.gl.AddMergeRequest("team/core", mergedMR("ada", "bob"))
				id := w.pushed()
				w.event(emulator.StageEvent("core-pipeline", id, "Production", "STARTED", at(299)))
				w.waitAtGate(id, "tok-gate")

				var once sync.Once
				ran := false
				stageEnd := func() {
					once.Do(func() {
						ran = true
						if _, err := w.app.PipelineEvent(context.Background(),
							emulator.StageEvent("core-pipeline", id, "Production", "SUCCEEDED", at(400))); err != nil {
							t.Errorf("stage SUCCEEDED: %v", err)
						}
					})
				}
				tc.between(hooks{w, hs}, stageEnd)

				if ans := w.event(approvalStarted(id)); !gated(ans, gate.Approve) {
					t.Fatalf("answer %+v, want gate approve", ans)
				}
				if !ran {
					t.Fatal("the stage's end never came in between: the gate did not go that way")
				}
				var last emulator.CommitStatus
				for _, s := range w.gl.Statuses() {
					if s.Name == prodStatus {
						last = s
					}
				}
				if last.State != "success" || last.Description != "Production succeeded in 1m 41s" {
					t.Errorf("GitLab shows %+v last, want Production's success", last)
				}
				if got := w.approvals(); len(got) != 1 || got[0].Status != "Approved" {
					t.Errorf("approvals %+v, want one", got)
				}
			})
		}
	}
}

// CodePipeline takes the gate's answer but its answer is lost (a 500 after the
// write); the SDK asks again and hears ApprovalAlreadyCompletedException. The
// answer was pipegate's own: the gate says what it did and GitLab shows it,
// once, as when the first answer arrives.
func TestGateAnswerWhoseReplyIsLost(t *testing.T) {
	for _, reject := range []bool{false, true} {
		t.Run(map[bool]string{false: "approve", true: "reject"}[reject], func(t *testing.T) {
			w := newWorld(t, withClock)
			proxy, err := emulator.NewProxy(serve(t, w.cp))
			if err != nil {
				t.Fatal(err)
			}
			w.app.Pipelines = codepipeline.New(testenv.AWSStandIn(t, proxy))
			if reject {
				cfg, err := routing.Parse([]byte(rejectRoutes))
				if err != nil {
					t.Fatal(err)
				}
				w.app.Routes = cfg
			} else {
				w.gl.AddMergeRequest("team/core", mergedMR("ada", "bob"))
			}
			id := w.pushed()
			w.event(emulator.StageEvent("core-pipeline", id, "Production", "STARTED", at(299)))
			w.waitAtGate(id, "tok-gate")
			proxy.LoseNext("PutApprovalResult", 1, emulator.ServerError)

			ans := w.event(approvalStarted(id))
			if n := proxy.Calls("PutApprovalResult"); n < 2 {
				t.Fatalf("PutApprovalResult asked %d times: the SDK did not ask again", n)
			}
			verdict := map[bool]string{false: "approve", true: "reject"}[reject]
			if !gated(ans, gate.Verdict(verdict)) {
				t.Errorf("answer %+v, want gate %s: CodePipeline took pipegate's answer", ans, verdict)
			}
			if got := w.approvals(); len(got) != 1 {
				t.Errorf("approvals %+v, want one", got)
			}
			state := map[bool]string{false: "running", true: "failed"}[reject]
			if claims := w.gateStatuses(); len(claims) != 1 || claims[0].State != state {
				t.Errorf("GitLab shows %+v, want the gate's answer once, %s", claims, state)
			}
		})
	}
}
