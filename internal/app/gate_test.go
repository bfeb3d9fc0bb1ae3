package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// waitAtGate puts execution id of core-pipeline at its production approval,
// waiting with token, as GetPipelineState then reports it.
func (w *world) waitAtGate(id, token string) {
	w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Production", ExecutionID: id, Status: "InProgress",
		Actions: []emulator.ActionState{
			{Name: "ApproveProduction", Status: "InProgress", Token: token, Updated: at(300)},
			{Name: "Deploy"},
		}})
}

// approvalStarted is the event CodePipeline sends when the approval action starts.
func approvalStarted(id string) []byte {
	return emulator.ActionEvent("core-pipeline", id, "Production", "ApproveProduction", "Approval", "Manual", "STARTED", at(300))
}

// mergedMR is merge request !118 of team/core, merged as headSHA, by ada.
func mergedMR(approvedBy ...string) emulator.MergeRequest {
	return emulator.MergeRequest{IID: 118, Title: "Rate-limit calls to the files service", State: "merged",
		SourceBranch: "files-rate-limit", TargetBranch: "main", SHA: "e4a7c2f9b1d6e3a8c5f0b7d2e9a4c1f6b3d8e5a2",
		MergeCommitSHA: headSHA, Author: "ada", ApprovedBy: approvedBy}
}

// mrHook is GitLab's merge request webhook for !118 of team/core with action.
func mrHook(t testing.TB, action string) delivery {
	return delivery{event: "Merge Request Hook", body: payload(t, "webhook_merge_request.json", func(m map[string]any) {
		project(m, 42, "team/core")
		oa := m["object_attributes"].(map[string]any)
		oa["action"], oa["iid"], oa["target_project_id"] = action, 118, 42
	}), headers: map[string]string{"x-gitlab-event-uuid": "mr-" + action}}
}

func (w *world) approvals() []emulator.Approval { return w.cp.Approvals() }

// The gate opens on the approval action's event when the commit's merge request
// is merged and approved, naming it and its approvers; the author's own approval
// does not count.
func TestGateOpensOnApprovalAction(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	w.gl.AddMergeRequest("team/core", mergedMR("ada", "bob"))
	w.waitAtGate(id, "tok-1")
	ans := w.event(approvalStarted(id))
	if !gated(ans, gate.Approve) {
		t.Fatalf("answer %+v, want gate approve", ans)
	}
	got := w.approvals()
	if len(got) != 1 || got[0].Token != "tok-1" || got[0].Status != "Approved" || got[0].Stage != "Production" || got[0].Action != "ApproveProduction" {
		t.Fatalf("approvals %+v, want one Approved with tok-1 at Production/ApproveProduction", got)
	}
	for _, want := range []string{"!118", "Rate-limit calls to the files service", "merge_requests/118", "bob"} {
		if !strings.Contains(got[0].Summary, want) {
			t.Errorf("summary %q lacks %q", got[0].Summary, want)
		}
	}
	if strings.Contains(got[0].Summary, "ada") {
		t.Errorf("summary %q counts the author's own approval", got[0].Summary)
	}
	if s := w.latest("core-pipeline/Production"); s.State != "running" || !strings.Contains(s.Description, "!118") {
		t.Errorf("Production status %+v, want running naming !118", s)
	}
	// Audit: the decision is kept.
	ds, err := w.store.(interface {
		Decisions(context.Context, string, string) ([]store.GateDecision, error)
	}).Decisions(context.Background(), "core-pipeline", id)
	if err != nil || len(ds) != 1 || ds[0].Verdict != "approve" || ds[0].MergeRequest != 118 || ds[0].Commit != headSHA {
		t.Errorf("decisions %+v %v, want one approve of !118 at %s", ds, err, headSHA)
	}
}

// Without enough approvals the gate stays shut and the stage's status says what is
// missing; the merge request's approval webhook then opens it.
func TestGateWaitsThenOpensOnMergeRequestWebhook(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	w.gl.AddMergeRequest("team/core", mergedMR("ada")) // only the author
	w.waitAtGate(id, "tok-2")
	w.event(emulator.StageEvent("core-pipeline", id, "Production", "STARTED", at(299)))
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Wait) {
		t.Fatalf("answer %+v, want gate wait", ans)
	}
	if n := len(w.approvals()); n != 0 {
		t.Fatalf("%d approvals while the merge request lacks one", n)
	}
	s := w.latest("core-pipeline/Production")
	if s.State != "pending" || !strings.Contains(s.Description, "needs 1 more approval on !118") {
		t.Errorf("Production status %+v, want pending saying it needs 1 more approval on !118", s)
	}

	// A webhook that cannot open a gate costs nothing.
	calls := w.cp.Calls("GetPipelineState")
	if code, ans := w.deliver(mrHook(t, "update")); code != http.StatusOK || ans.Result != "ignored" || w.cp.Calls("GetPipelineState") != calls {
		t.Errorf("update hook: %d %+v", code, ans)
	}

	w.gl.AddMergeRequest("team/core", mergedMR("ada", "carol"))
	code, ans := w.deliver(mrHook(t, "approved"))
	if code != http.StatusOK || ans.Result != "evaluated" || len(ans.Gates) != 1 || ans.Gates[0].Verdict != "approve" {
		t.Fatalf("approved hook: %d %+v", code, ans)
	}
	got := w.approvals()
	if len(got) != 1 || got[0].Token != "tok-2" || !strings.Contains(got[0].Summary, "carol") {
		t.Fatalf("approvals %+v, want one with tok-2 naming carol", got)
	}
	// Approving twice is harmless: CodePipeline answers that it is done already.
	if code, ans := w.deliver(mrHook(t, "merge")); code != http.StatusOK || ans.Result != "evaluated" {
		t.Errorf("second evaluation: %d %+v", code, ans)
	}
	if n := len(w.approvals()); n != 1 {
		t.Errorf("%d approvals, want still 1", n)
	}
}

// With two executions of one pipeline, the gate judges and approves only the one
// that waits: a late approval event of the other approves nothing.
func TestGateNeverApprovesTheWrongExecution(t *testing.T) {
	w := newWorld(t, withClock)
	reviewed := w.pushed() // at headSHA, whose merge request is approved
	w.gl.AddMergeRequest("team/core", mergedMR("bob"))
	const other = "99999999-0000-4000-8000-000000000009"
	const direct = "1111111111111111111111111111111111111111" // pushed without a merge request
	w.cp.AddExecution("core-pipeline", emulator.Execution{ID: other, CommitSHA: direct, StartedAt: at(60)})
	w.waitAtGate(other, "tok-other")

	if ans := w.event(approvalStarted(reviewed)); !gated(ans, gate.NotWaiting) {
		t.Errorf("the reviewed execution's late event: %+v, want gate not waiting", ans)
	}
	if ans := w.event(approvalStarted(other)); !gated(ans, gate.Wait) || !strings.Contains(ans.Reason, "no merge request") {
		t.Errorf("the unreviewed execution: %+v, want gate wait for want of a merge request", ans)
	}
	if code, ans := w.deliver(mrHook(t, "approved")); code != http.StatusOK || len(ans.Gates) != 1 || ans.Gates[0].ExecutionID != other || ans.Gates[0].Verdict != "wait" {
		t.Errorf("approved hook: %d %+v, want the waiting execution judged and kept waiting", code, ans)
	}
	if got := w.approvals(); len(got) != 0 {
		t.Fatalf("approved %+v; no execution qualifies", got)
	}
}

// The reconciler re-evaluates a waiting gate, so a lost merge request webhook only
// delays production.
func TestReconcileOpensWaitingGate(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	w.gl.AddMergeRequest("team/core", mergedMR("bob"))
	w.waitAtGate(id, "tok-3")
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.approvals(); len(got) != 1 || got[0].Token != "tok-3" {
		t.Fatalf("approvals %+v, want the waiting gate approved", got)
	}
}

// A squash-merged merge request counts like a merged one: GitLab lists it for
// its squash commit.
func TestGateOpensForSquashCommit(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	mr := mergedMR("bob")
	mr.MergeCommitSHA, mr.SquashCommitSHA = "", headSHA
	w.gl.AddMergeRequest("team/core", mr)
	w.waitAtGate(id, "tok-squash")
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Approve) {
		t.Fatalf("answer %+v, want gate approve", ans)
	}
	if got := w.approvals(); len(got) != 1 || got[0].Status != "Approved" {
		t.Fatalf("approvals %+v", got)
	}
}

// With no_merge_request: reject, a commit that reached production without a merge
// request is rejected, and CodePipeline is told why.
func TestGateRejectsCommitWithoutMergeRequest(t *testing.T) {
	w := newWorld(t, withClock)
	cfg, err := routing.Parse([]byte("services:\n  - name: core\n    project: team/core\n    pipeline: core-pipeline\n    production: {no_merge_request: reject}\n"))
	if err != nil {
		t.Fatal(err)
	}
	w.app.Routes = cfg
	id := w.pushed()
	w.waitAtGate(id, "tok-direct")
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Reject) {
		t.Fatalf("answer %+v, want gate reject", ans)
	}
	got := w.approvals()
	if len(got) != 1 || got[0].Status != "Rejected" || got[0].Token != "tok-direct" || !strings.Contains(got[0].Summary, "no merge request") {
		t.Fatalf("approvals %+v, want one Rejected saying there is no merge request", got)
	}
}

// creationSummary is what the gate tells CodePipeline about a run the pipeline's
// creation started.
const creationSummary = "Rejected by pipegate: this run was started by the pipeline's creation, not by a push; push or release the commit to deploy it"

// CodePipeline runs a new pipeline once by itself (trigger CreatePipeline), at
// the head of main. Nobody pushed it, so the gate rejects it even when the
// commit's merge request is merged and approved, and says why; that frees the
// stage for the commits after it. It does so whichever way it comes to look,
// also when the reconciler recorded the execution before it waited.
func TestGateRejectsPipelineCreationRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		evaluate func(w *world, id string) string // the verdict
	}{
		{"approval action event", func(w *world, id string) string {
			return verdictOf(w.event(approvalStarted(id)))
		}},
		{"merge request webhook after the reconciler", func(w *world, id string) string {
			w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Production"})
			if _, err := w.app.Reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			w.waitAtGate(id, "tok-created")
			code, ans := w.deliver(mrHook(t, "approved"))
			if code != http.StatusOK || len(ans.Gates) != 1 {
				t.Fatalf("approved hook: %d %+v", code, ans)
			}
			// The reconciler kept the trigger ListPipelineExecutions gave it.
			if n := w.cp.Calls("GetPipelineExecution"); n != 0 {
				t.Errorf("GetPipelineExecution called %d times after the reconciler recorded the execution", n)
			}
			return string(ans.Gates[0].Verdict)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, withClock)
			w.gl.AddMergeRequest("team/core", mergedMR("bob"))
			id := w.cp.AddExecution("core-pipeline", emulator.Execution{CommitSHA: headSHA, Trigger: "CreatePipeline"})
			w.waitAtGate(id, "tok-created")
			if v := tc.evaluate(w, id); v != "reject" {
				t.Fatalf("verdict %q, want reject", v)
			}
			got := w.approvals()
			if len(got) != 1 || got[0].Status != "Rejected" || got[0].Token != "tok-created" || got[0].Summary != creationSummary {
				t.Fatalf("approvals %+v, want one Rejected with tok-created saying %q", got, creationSummary)
			}
			if s := w.latest("core-pipeline/Production"); s.State != "failed" || s.Description != creationSummary {
				t.Errorf("Production status %+v, want failed saying why", s)
			}
			ds, err := w.store.(interface {
				Decisions(context.Context, string, string) ([]store.GateDecision, error)
			}).Decisions(context.Background(), "core-pipeline", id)
			if err != nil || len(ds) != 1 || ds[0].Verdict != "reject" || ds[0].Commit != headSHA || ds[0].Reason != creationSummary {
				t.Errorf("decisions %+v %v, want one reject of %s", ds, err, headSHA)
			}
		})
	}
}

// An execution started in the console with "Release change" (trigger
// StartPipelineExecution) is someone's request: the gate judges its commit as
// ever.
func TestGateJudgesReleaseChange(t *testing.T) {
	w := newWorld(t, withClock)
	w.gl.AddMergeRequest("team/core", mergedMR("bob"))
	id := w.cp.AddExecution("core-pipeline", emulator.Execution{CommitSHA: headSHA, Trigger: "StartPipelineExecution"})
	w.waitAtGate(id, "tok-release")
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Approve) {
		t.Fatalf("answer %+v, want gate approve", ans)
	}
	if got := w.approvals(); len(got) != 1 || got[0].Status != "Approved" || got[0].Token != "tok-release" || !strings.Contains(got[0].Summary, "!118") {
		t.Fatalf("approvals %+v, want one Approved naming !118", got)
	}
}
