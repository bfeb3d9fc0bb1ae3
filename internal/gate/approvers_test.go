package gate_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/text"
)

// leads are the members of platform/leads as the caller resolves them from
// GitLab's members/all: dave is a direct member, erin one inherited from the
// parent group platform (members/all lists both alike).
var leads = map[string][]string{"platform/leads": {"dave", "erin"}}

// TestDecideApprovers checks production.approvers: only listed users' and
// listed groups' members' approvals count, the author's own still follows
// AuthorCanApprove, usernames compare regardless of case, and the status says
// whose approval is missing and which did not count. The MR is !42 (testdata:
// merged into main, author alice).
func TestDecideApprovers(t *testing.T) {
	ap := func(users, groups []string) *routing.Approvers {
		return &routing.Approvers{Users: users, Groups: groups}
	}
	tests := []struct {
		name       string
		policy     gate.Policy
		approvedBy []string

		verdict      gate.Verdict
		approvers    []string
		notApprovers []string
		summary      string
		missing      string
	}{
		{
			name:   "no approvers set: every approval counts, as before",
			policy: gate.Policy{MinApprovals: 2}, approvedBy: []string{"bob", "carol"},
			verdict: gate.Approve, approvers: []string{"bob", "carol"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by bob, carol`,
		},
		{
			name:   "a non-approver's approval does not count",
			policy: gate.Policy{MinApprovals: 1, Approvers: ap([]string{"bob", "frank"}, []string{"platform/leads"}), Members: leads}, approvedBy: []string{"carol"},
			verdict: gate.Wait, notApprovers: []string{"carol"},
			missing: "needs 1 more approval on !42 from @bob, @frank or a member of platform/leads; @carol's approval does not count: not an approver",
		},
		{
			name:   "a listed user opens it; the summary names only counting approvers",
			policy: gate.Policy{MinApprovals: 1, Approvers: ap([]string{"bob"}, []string{"platform/leads"}), Members: leads}, approvedBy: []string{"carol", "bob"},
			verdict: gate.Approve, approvers: []string{"bob"}, notApprovers: []string{"carol"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by bob`,
		},
		{
			name:   "a direct group member opens it",
			policy: gate.Policy{MinApprovals: 1, Approvers: ap(nil, []string{"platform/leads"}), Members: leads}, approvedBy: []string{"dave"},
			verdict: gate.Approve, approvers: []string{"dave"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by dave`,
		},
		{
			name:   "an inherited group member opens it",
			policy: gate.Policy{MinApprovals: 1, Approvers: ap(nil, []string{"platform/leads"}), Members: leads}, approvedBy: []string{"erin"},
			verdict: gate.Approve, approvers: []string{"erin"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by erin`,
		},
		{
			name:   "a group whose members are unknown counts nobody",
			policy: gate.Policy{MinApprovals: 1, Approvers: ap(nil, []string{"platform/leads"})}, approvedBy: []string{"dave"},
			verdict: gate.Wait, notApprovers: []string{"dave"},
			missing: "needs 1 more approval on !42 from a member of platform/leads; @dave's approval does not count: not an approver",
		},
		{
			name:   "the author's approval does not count even when listed",
			policy: gate.Policy{MinApprovals: 1, Approvers: ap([]string{"alice", "bob"}, nil)}, approvedBy: []string{"alice"},
			verdict: gate.Wait,
			missing: "needs 1 more approval on !42 from @bob (the author's own does not count)",
		},
		{
			name:   "the author's approval counts when allowed and listed",
			policy: gate.Policy{MinApprovals: 1, AuthorCanApprove: true, Approvers: ap([]string{"alice"}, nil)}, approvedBy: []string{"alice"},
			verdict: gate.Approve, approvers: []string{"alice"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by alice`,
		},
		{
			name:   "the author allowed to approve but not listed",
			policy: gate.Policy{MinApprovals: 1, AuthorCanApprove: true, Approvers: ap([]string{"bob"}, nil)}, approvedBy: []string{"alice"},
			verdict: gate.Wait, notApprovers: []string{"alice"},
			missing: "needs 1 more approval on !42 from @bob; @alice's approval does not count: not an approver",
		},
		{
			name:   "a user both listed and in a group counts once",
			policy: gate.Policy{MinApprovals: 2, Approvers: ap([]string{"dave", "bob"}, []string{"platform/leads"}), Members: leads}, approvedBy: []string{"dave"},
			verdict: gate.Wait, approvers: []string{"dave"},
			missing: "needs 1 more approval on !42 from @bob or a member of platform/leads",
		},
		{
			name:   "usernames compare regardless of case",
			policy: gate.Policy{MinApprovals: 2, Approvers: ap([]string{"Bob"}, []string{"platform/leads"}), Members: map[string][]string{"platform/leads": {"Erin"}}}, approvedBy: []string{"bob", "erin"},
			verdict: gate.Approve, approvers: []string{"bob", "erin"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by bob, erin`,
		},
		{
			name:   "the author's listing in any case is still the author",
			policy: gate.Policy{MinApprovals: 1, Approvers: ap([]string{"Alice"}, nil)}, approvedBy: []string{"ALICE"},
			verdict: gate.Wait,
			missing: "needs 1 more approval on !42: every listed approver has approved or is the author (the author's own does not count)",
		},
		{
			name:   "several non-approvers",
			policy: gate.Policy{MinApprovals: 1, Approvers: ap([]string{"bob"}, nil)}, approvedBy: []string{"zoe", "carol"},
			verdict: gate.Wait, notApprovers: []string{"carol", "zoe"},
			missing: "needs 1 more approval on !42 from @bob; approvals of @carol, @zoe do not count: not approvers",
		},
		{
			name:    "many listed users are counted, not all named",
			policy:  gate.Policy{MinApprovals: 1, Approvers: ap([]string{"u1", "u2", "u3", "u4", "u5", "u6"}, []string{"platform/leads", "ic/sre"}), Members: leads},
			verdict: gate.Wait,
			missing: "needs 1 more approval on !42 from @u1, @u2, @u3, @u4, 2 other listed users or a member of platform/leads or ic/sre",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mrs := load(t, "commit_merge_requests_merged.json", map[int64]string{42: "approvals_free_none.json"})
			mrs[0].ApprovedBy = tt.approvedBy
			tt.policy.Branches = mainOnly
			d := gate.Decide(tt.policy, sha, mrs)
			if d.Verdict != tt.verdict {
				t.Errorf("verdict %s, want %s (%+v)", d.Verdict, tt.verdict, d)
			}
			if !slices.Equal(d.Approvers, tt.approvers) || !slices.Equal(d.NotApprovers, tt.notApprovers) {
				t.Errorf("approvers %q, not approvers %q; want %q, %q", d.Approvers, d.NotApprovers, tt.approvers, tt.notApprovers)
			}
			if d.Summary != tt.summary {
				t.Errorf("summary %q, want %q", d.Summary, tt.summary)
			}
			if d.Missing != tt.missing {
				t.Errorf("missing %q\n   want %q", d.Missing, tt.missing)
			}
			if len(d.Missing) > text.MaxDescription {
				t.Errorf("missing is %d bytes", len(d.Missing))
			}
		})
	}
}

// TestMembersNeeded checks that group membership is read only when an approval
// could count through a group: not without approvals, not for the author's own
// (unless it counts), not for a listed user, not for MRs into other branches.
func TestMembersNeeded(t *testing.T) {
	groups := []string{"platform/leads", "ic/sre"}
	tests := []struct {
		name       string
		policy     gate.Policy
		target     string
		approvedBy []string
		want       []string
	}{
		{"no approvers set", gate.Policy{}, "main", []string{"carol"}, nil},
		{"users only", gate.Policy{Approvers: &routing.Approvers{Users: []string{"bob"}}}, "main", []string{"carol"}, nil},
		{"no approvals yet", gate.Policy{Approvers: &routing.Approvers{Groups: groups}}, "main", nil, nil},
		{"only the author approved", gate.Policy{Approvers: &routing.Approvers{Groups: groups}}, "main", []string{"alice"}, nil},
		{"the author approved and it counts", gate.Policy{AuthorCanApprove: true, Approvers: &routing.Approvers{Groups: groups}}, "main", []string{"alice"}, groups},
		{"a listed user approved", gate.Policy{Approvers: &routing.Approvers{Users: []string{"Bob"}, Groups: groups}}, "main", []string{"bob"}, nil},
		{"someone else approved", gate.Policy{Approvers: &routing.Approvers{Users: []string{"bob"}, Groups: groups}}, "main", []string{"bob", "dave"}, groups},
		{"an MR into another branch", gate.Policy{Approvers: &routing.Approvers{Groups: groups}}, "feature/x", []string{"dave"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mrs := load(t, "commit_merge_requests_merged.json", map[int64]string{42: "approvals_free_none.json"})
			mrs[0].ApprovedBy, mrs[0].TargetBranch = tt.approvedBy, tt.target
			tt.policy.Branches = mainOnly
			if got := gate.MembersNeeded(tt.policy, mrs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MembersNeeded = %q, want %q", got, tt.want)
			}
		})
	}
}
