package app_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/routing"
)

// withApprovers routes core with production.approvers (bob, platform/leads),
// and makes GitLab know the groups: dave is a direct member of platform/leads,
// erin one inherited from platform, carol no member.
func withApprovers(w *world) {
	data, err := os.ReadFile("testdata/routing_approvers.yaml")
	if err != nil {
		w.t.Fatal(err)
	}
	cfg, err := routing.Parse(data)
	if err != nil {
		w.t.Fatal(err)
	}
	w.app.Routes = cfg
	w.gl.AddGroup(200, "platform")
	w.gl.AddGroup(201, "platform/leads")
	w.gl.AddGroupMember("platform", emulator.GroupMember{Username: "erin", AccessLevel: 30})
	w.gl.AddGroupMember("platform/leads", emulator.GroupMember{Username: "dave", AccessLevel: 40})
}

// An approval by someone who is not an approver keeps the gate shut, and the
// stage's status says whose approval is missing and whose did not count; an
// approval by a member inherited from the parent group opens it, once.
func TestGateApproverPolicy(t *testing.T) {
	w := newWorld(t, withClock, withApprovers)
	id := w.pushed()
	w.gl.AddMergeRequest("team/core", mergedMR("ada", "carol")) // the author and a non-approver
	w.waitAtGate(id, "tok-ap")
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Wait) {
		t.Fatalf("answer %+v, want gate wait", ans)
	}
	if n := len(w.approvals()); n != 0 {
		t.Fatalf("%d approvals from a non-approver", n)
	}
	s := w.latest(prodStatus)
	const want = "needs 1 more approval on !118 from @bob or a member of platform/leads (the author's own does not count); @carol's approval does not count: not an approver"
	if s.State != "pending" || !strings.Contains(s.Description, want) {
		t.Errorf("Production status %+v\nwant pending saying %q", s, want)
	}
	if n := w.gl.Calls("group_members"); n != 1 {
		t.Errorf("members read %d times, want once (platform/leads)", n)
	}

	w.gl.AddMergeRequest("team/core", mergedMR("ada", "carol", "erin"))
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Approve) {
		t.Fatalf("answer %+v, want gate approve", ans)
	}
	got := w.approvals()
	if len(got) != 1 || got[0].Token != "tok-ap" || !strings.Contains(got[0].Summary, "approved by erin") || strings.Contains(got[0].Summary, "carol") {
		t.Fatalf("approvals %+v, want one naming erin alone", got)
	}
	// Evaluating again approves nothing more.
	w.event(approvalStarted(id))
	if n := len(w.approvals()); n != 1 {
		t.Errorf("%d approvals, want 1", n)
	}
}

// No group is read while nothing needs it: no approvals yet, or only a listed
// user's.
func TestGateApproverPolicyReadsGroupsOnlyWhenNeeded(t *testing.T) {
	w := newWorld(t, withClock, withApprovers)
	id := w.pushed()
	w.gl.AddMergeRequest("team/core", mergedMR())
	w.waitAtGate(id, "tok-ap")
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Wait) {
		t.Fatalf("answer %+v, want gate wait", ans)
	}
	w.gl.AddMergeRequest("team/core", mergedMR("bob"))
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Approve) {
		t.Fatalf("answer %+v, want gate approve", ans)
	}
	if n := w.gl.Calls("group_members"); n != 0 {
		t.Errorf("members read %d times, want none", n)
	}
}

// A failed membership read fails closed: nothing is approved and the error
// goes back so that a retry (or the reconciler) evaluates again, which opens
// the gate once GitLab answers.
func TestGateApproverPolicyMembershipReadFails(t *testing.T) {
	w := newWorld(t, withClock, withApprovers)
	id := w.pushed()
	w.gl.AddMergeRequest("team/core", mergedMR("ada", "dave"))
	w.waitAtGate(id, "tok-ap")
	w.gl.FailNext("group_members", 10, emulator.Fault{Status: 500, Message: "500 Internal Server Error"})
	if _, err := w.app.PipelineEvent(context.Background(), approvalStarted(id)); err == nil || !strings.Contains(err.Error(), "platform/leads") {
		t.Fatalf("event: %v, want an error naming platform/leads", err)
	}
	if got := w.approvals(); len(got) != 0 {
		t.Fatalf("approved %+v while membership was unknown", got)
	}
	w.gl.Recover("group_members")
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.approvals(); len(got) != 1 || got[0].Token != "tok-ap" || !strings.Contains(got[0].Summary, "approved by dave") {
		t.Fatalf("approvals %+v, want one naming dave", got)
	}
}
