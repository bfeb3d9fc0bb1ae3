package gate_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/text"
)

const sha = "9c1e4b7d3a52f0e8b6c4d2a1f0e9d8c7b6a5f4e3"

// decodeFile decodes a GitLab response body from testdata into v with client-go's types,
// as the real client does.
func decodeFile(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

// fromGitLab is what the caller does with GitLab's two answers: the MR from the
// commit's list, its approval state from the approvals endpoint.
func fromGitLab(mr *gitlab.BasicMergeRequest, a *gitlab.MergeRequestApprovals) gate.MergeRequest {
	out := gate.MergeRequest{
		IID:               mr.IID,
		Title:             mr.Title,
		WebURL:            mr.WebURL,
		State:             mr.State,
		TargetBranch:      mr.TargetBranch,
		ApprovalsRequired: a.ApprovalsRequired,
		ApprovalsLeft:     a.ApprovalsLeft,
	}
	if mr.Author != nil {
		out.Author = mr.Author.Username
	}
	for _, u := range a.ApprovedBy {
		if u != nil && u.User != nil {
			out.ApprovedBy = append(out.ApprovedBy, u.User.Username)
		}
	}
	return out
}

// load reads a GET /projects/:id/repository/commits/:sha/merge_requests body and,
// for each MR, the GET /projects/:id/merge_requests/:iid/approvals body named by approvals[iid].
func load(t *testing.T, mrsFile string, approvals map[int64]string) []gate.MergeRequest {
	t.Helper()
	var list []*gitlab.BasicMergeRequest
	decodeFile(t, mrsFile, &list)
	var out []gate.MergeRequest
	for _, mr := range list {
		name, ok := approvals[mr.IID]
		if !ok {
			t.Fatalf("no approvals body for !%d", mr.IID)
		}
		var a gitlab.MergeRequestApprovals
		decodeFile(t, name, &a)
		out = append(out, fromGitLab(mr, &a))
	}
	return out
}

const (
	url1  = "https://gitlab.example.com/root/test-project/merge_requests/1"
	url42 = "https://gitlab.example.com/ic/core/-/merge_requests/42"
	url43 = "https://gitlab.example.com/ic/core/-/merge_requests/43"
)

// mainOnly is the deploy branch of a case whose policy names none (Branch "" and
// Branches nil): the service deploys main, the target of the testdata's MRs. A
// case that means "no branches" sets Branches to an empty, non-nil slice.
var mainOnly = []string{"main"}

func TestDecide(t *testing.T) {
	tests := []struct {
		name      string
		policy    gate.Policy      // Branch "" and Branches nil: Branches mainOnly
		mrs       string           // commit's merge requests
		approvals map[int64]string // approvals body per IID
		edit      func([]gate.MergeRequest)

		verdict   gate.Verdict
		iid       int64 // the Decision's MR; 0: none
		approvers []string
		summary   string
		missing   string
	}{
		{
			name:   "Free: merged, two approvals, min 1",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_bob_carol.json"},
			verdict: gate.Approve, iid: 42, approvers: []string{"bob", "carol"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by bob, carol`,
		},
		{
			name:   "Free: merged, two approvals, min 2",
			policy: gate.Policy{MinApprovals: 2},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_bob_carol.json"},
			verdict: gate.Approve, iid: 42, approvers: []string{"bob", "carol"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by bob, carol`,
		},
		{
			name:   "Free: merged, two approvals, min 3",
			policy: gate.Policy{MinApprovals: 3},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_bob_carol.json"},
			verdict: gate.Wait, iid: 42, approvers: []string{"bob", "carol"},
			missing: "needs 1 more approval on !42",
		},
		{
			name:   "Free: merged, no approvals, min 1",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_none.json"},
			verdict: gate.Wait, iid: 42,
			missing: "needs 1 more approval on !42",
		},
		{
			name:   "Free: merged, no approvals, min 2",
			policy: gate.Policy{MinApprovals: 2},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_none.json"},
			verdict: gate.Wait, iid: 42,
			missing: "needs 2 more approvals on !42",
		},
		{
			name:   "gitlab-foss answer (approved_by only): merged, one approval",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_foss_erin.json"},
			verdict: gate.Approve, iid: 42, approvers: []string{"erin"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by erin`,
		},
		{
			name:   "Premium: approvals_left 1 keeps it shut though min_approvals is met",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_premium_left1.json"},
			verdict: gate.Wait, iid: 42, approvers: []string{"bob"},
			missing: "GitLab requires 1 more approval on !42",
		},
		{
			name:   "Premium: pipegate's shortfall is the larger",
			policy: gate.Policy{MinApprovals: 3},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_premium_left1.json"},
			verdict: gate.Wait, iid: 42, approvers: []string{"bob"},
			missing: "needs 2 more approvals on !42",
		},
		{
			name:   "Premium: no approvals left, min met",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_premium_done.json"},
			verdict: gate.Approve, iid: 42, approvers: []string{"bob", "carol"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by bob, carol`,
		},
		{
			name:   "Premium, GitLab's documented example: open MR, 1 of 2 approvals",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_doc.json", approvals: map[int64]string{1: "approvals_premium_doc.json"},
			verdict: gate.Wait, iid: 1, approvers: []string{"root"},
			missing: "!1 is not merged yet and needs 1 more approval",
		},
		{
			name:   "author's own approval does not count by default",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_author.json"},
			verdict: gate.Wait, iid: 42,
			missing: "needs 1 more approval on !42 (the author's own does not count)",
		},
		{
			name:   "author's own approval counts with AuthorCanApprove",
			policy: gate.Policy{MinApprovals: 1, AuthorCanApprove: true},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_author.json"},
			verdict: gate.Approve, iid: 42, approvers: []string{"alice"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by alice`,
		},
		{
			name:   "author and bob, min 2: only bob counts",
			policy: gate.Policy{MinApprovals: 2},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_author_bob.json"},
			verdict: gate.Wait, iid: 42, approvers: []string{"bob"},
			missing: "needs 1 more approval on !42 (the author's own does not count)",
		},
		{
			name:   "author and bob, min 2, AuthorCanApprove",
			policy: gate.Policy{MinApprovals: 2, AuthorCanApprove: true},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_author_bob.json"},
			verdict: gate.Approve, iid: 42, approvers: []string{"alice", "bob"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by alice, bob`,
		},
		{
			name:   "author and bob, min 1: bob is enough, the author is not listed",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_author_bob.json"},
			verdict: gate.Approve, iid: 42, approvers: []string{"bob"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by bob`,
		},
		{
			name:   "several MRs: the merged, approved one opens it",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_several.json",
			approvals: map[int64]string{
				44: "approvals_free_bob_carol.json", // open backport: approved, not merged
				42: "approvals_free_none.json",
				43: "approvals_foss_erin.json",
			},
			verdict: gate.Approve, iid: 43, approvers: []string{"erin"},
			summary: `Approved by pipegate: !43 "Rate-limit calls, part 2: retries" (` + url43 + `), approved by erin`,
		},
		{
			name:   "several MRs that open it: the most approvals wins",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_several.json",
			approvals: map[int64]string{
				44: "approvals_free_none.json",
				42: "approvals_foss_erin.json",
				43: "approvals_free_bob_carol.json",
			},
			verdict: gate.Approve, iid: 43, approvers: []string{"bob", "carol"},
			summary: `Approved by pipegate: !43 "Rate-limit calls, part 2: retries" (` + url43 + `), approved by bob, carol`,
		},
		{
			name:   "several MRs that open it equally: the lowest IID",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_several.json",
			approvals: map[int64]string{
				44: "approvals_free_bob_carol.json",
				42: "approvals_free_bob_carol.json",
				43: "approvals_free_bob_carol.json",
			},
			verdict: gate.Approve, iid: 42, approvers: []string{"bob", "carol"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by bob, carol`,
		},
		{
			name:   "several MRs, none opens it: a merged one is closer than an approved open one",
			policy: gate.Policy{MinApprovals: 1, Branches: []string{"main", "release/*"}},
			mrs:    "commit_merge_requests_several.json",
			approvals: map[int64]string{
				44: "approvals_free_bob_carol.json",
				42: "approvals_free_none.json",
				43: "approvals_free_none.json",
			},
			verdict: gate.Wait, iid: 42,
			missing: "needs 1 more approval on !42",
		},
		{
			name:   "several MRs, none opens it: fewest approvals missing",
			policy: gate.Policy{MinApprovals: 3},
			mrs:    "commit_merge_requests_several.json",
			approvals: map[int64]string{
				44: "approvals_free_none.json",
				42: "approvals_foss_erin.json",
				43: "approvals_free_bob_carol.json",
			},
			verdict: gate.Wait, iid: 43, approvers: []string{"bob", "carol"},
			missing: "needs 1 more approval on !43",
		},
		{
			name:   "unmerged but approved MR",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_doc.json", approvals: map[int64]string{1: "approvals_free_bob_carol.json"},
			verdict: gate.Wait, iid: 1, approvers: []string{"bob", "carol"},
			missing: "!1 is not merged yet",
		},
		{
			name:   "unmerged MR with min_approvals 0",
			policy: gate.Policy{MinApprovals: 0},
			mrs:    "commit_merge_requests_doc.json", approvals: map[int64]string{1: "approvals_free_none.json"},
			verdict: gate.Wait, iid: 1,
			missing: "!1 is not merged yet",
		},
		{
			name:   "locked (GitLab is merging it) is not merged yet",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_doc.json", approvals: map[int64]string{1: "approvals_free_bob_carol.json"},
			edit:    func(m []gate.MergeRequest) { m[0].State = "locked" },
			verdict: gate.Wait, iid: 1, approvers: []string{"bob", "carol"},
			missing: "!1 is not merged yet",
		},
		{
			name:   "closed MR",
			policy: gate.Policy{MinApprovals: 1},
			mrs:    "commit_merge_requests_doc.json", approvals: map[int64]string{1: "approvals_free_bob_carol.json"},
			edit:    func(m []gate.MergeRequest) { m[0].State = "closed" },
			verdict: gate.Wait, iid: 1, approvers: []string{"bob", "carol"},
			missing: "!1 was closed without merging",
		},
		{
			name:    "no MR, default policy: wait",
			policy:  gate.Policy{MinApprovals: 1},
			mrs:     "commit_merge_requests_none.json",
			verdict: gate.Wait,
			missing: "no merge request for this commit",
		},
		{
			name:    "no MR, no_merge_request wait",
			policy:  gate.Policy{MinApprovals: 1, NoMergeRequest: "wait"},
			mrs:     "commit_merge_requests_none.json",
			verdict: gate.Wait,
			missing: "no merge request for this commit",
		},
		{
			name:    "no MR, no_merge_request reject",
			policy:  gate.Policy{MinApprovals: 1, NoMergeRequest: "reject"},
			mrs:     "commit_merge_requests_none.json",
			verdict: gate.Reject,
			summary: "Rejected by pipegate: commit 9c1e4b7d has no merge request; production takes only reviewed changes",
		},
		{
			name:    "no MR, min_approvals 0, reject: a merge request is still needed",
			policy:  gate.Policy{MinApprovals: 0, NoMergeRequest: "reject"},
			mrs:     "commit_merge_requests_none.json",
			verdict: gate.Reject,
			summary: "Rejected by pipegate: commit 9c1e4b7d has no merge request; production takes only reviewed changes",
		},
		{
			name:   "reject policy does not reject an MR that lacks approvals",
			policy: gate.Policy{MinApprovals: 1, NoMergeRequest: "reject"},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_none.json"},
			verdict: gate.Wait, iid: 42,
			missing: "needs 1 more approval on !42",
		},
		{
			name:   "min_approvals 0, merged MR without approvals",
			policy: gate.Policy{MinApprovals: 0},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_none.json"},
			verdict: gate.Approve, iid: 42,
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), no approval required`,
		},
		{
			name:   "min_approvals 0 still honours GitLab's approvals_left",
			policy: gate.Policy{MinApprovals: 0},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_premium_left1.json"},
			verdict: gate.Wait, iid: 42, approvers: []string{"bob"},
			missing: "GitLab requires 1 more approval on !42",
		},
		// Only MRs merged into a branch the service deploys count (docs/gate.md,
		// Production gate, 2): the execution's branch when known, else one matching
		// the service's branches. The others are not cited, and alone they are as
		// good as no MR.
		{
			name:   "approved MR merged into another branch does not open it",
			policy: gate.Policy{MinApprovals: 1, Branch: "main"},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_bob_carol.json"},
			edit:    target(42, "feature/y"),
			verdict: gate.Wait,
			missing: "no merge request of 9c1e4b7d is merged into main; !42 targets feature/y",
		},
		{
			name:   "only MRs into other branches, no_merge_request reject",
			policy: gate.Policy{MinApprovals: 1, Branch: "main", NoMergeRequest: "reject"},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_bob_carol.json"},
			edit:    target(42, "feature/y"),
			verdict: gate.Reject,
			summary: "Rejected by pipegate: no merge request of commit 9c1e4b7d is merged into main (!42 targets feature/y); production takes only reviewed changes",
		},
		{
			name:   "two MRs, the approved one into feature/y: waits citing the one into main",
			policy: gate.Policy{MinApprovals: 1, Branch: "main"},
			mrs:    "commit_merge_requests_several.json",
			approvals: map[int64]string{
				44: "approvals_free_none.json",
				42: "approvals_free_none.json",
				43: "approvals_free_bob_carol.json",
			},
			edit:    target(43, "feature/y"),
			verdict: gate.Wait, iid: 42,
			missing: "needs 1 more approval on !42",
		},
		{
			name:   "execution's branch unknown: a target matching the service's globs counts",
			policy: gate.Policy{MinApprovals: 1, Branches: []string{"main", "release/*"}},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_bob_carol.json"},
			edit:    target(42, "release/2.4"),
			verdict: gate.Approve, iid: 42, approvers: []string{"bob", "carol"},
			summary: `Approved by pipegate: !42 "Rate-limit calls to the billing API" (` + url42 + `), approved by bob, carol`,
		},
		{
			name:   "execution's branch known: another branch the service deploys does not count",
			policy: gate.Policy{MinApprovals: 1, Branch: "main", Branches: []string{"main", "release/*"}},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_bob_carol.json"},
			edit:    target(42, "release/2.4"),
			verdict: gate.Wait,
			missing: "no merge request of 9c1e4b7d is merged into main; !42 targets release/2.4",
		},
		{
			name:   "the routing file's glob rule: * stays within one segment",
			policy: gate.Policy{MinApprovals: 1, Branches: []string{"release/*"}},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_bob_carol.json"},
			edit:    target(42, "release/2.4/hotfix"),
			verdict: gate.Wait,
			missing: "no merge request of 9c1e4b7d is merged into release/*; !42 targets release/2.4/hotfix",
		},
		{
			name:   "several deploy globs are named in the message",
			policy: gate.Policy{MinApprovals: 1, Branches: []string{"main", "release/*"}},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_bob_carol.json"},
			edit:    target(42, "feature/y"),
			verdict: gate.Wait,
			missing: "no merge request of 9c1e4b7d is merged into main or release/*; !42 targets feature/y",
		},
		{
			name:   "branch unknown and no branches named: nothing counts",
			policy: gate.Policy{MinApprovals: 1, Branches: []string{}},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_bob_carol.json"},
			verdict: gate.Wait,
			missing: "no merge request of 9c1e4b7d is merged into a branch the service deploys (it names no branches and this run's branch is unknown); !42 targets main",
		},
		{
			name:   "an MR without a target branch does not count",
			policy: gate.Policy{MinApprovals: 1, Branch: "main"},
			mrs:    "commit_merge_requests_merged.json", approvals: map[int64]string{42: "approvals_free_bob_carol.json"},
			edit:    target(42, ""),
			verdict: gate.Wait,
			missing: "no merge request of 9c1e4b7d is merged into main; !42 names no target branch",
		},
		{
			name:   "GitLab's backport into release/2.4 is the only one that counts for release/2.4",
			policy: gate.Policy{MinApprovals: 1, Branch: "release/2.4"},
			mrs:    "commit_merge_requests_several.json",
			approvals: map[int64]string{
				44: "approvals_free_bob_carol.json",
				42: "approvals_free_bob_carol.json",
				43: "approvals_free_bob_carol.json",
			},
			verdict: gate.Wait, iid: 44, approvers: []string{"bob"}, // carol wrote it
			missing: "!44 is not merged yet",
		},
		{
			name:   "several MRs, all into other branches: each is named",
			policy: gate.Policy{MinApprovals: 1, Branch: "develop"},
			mrs:    "commit_merge_requests_several.json",
			approvals: map[int64]string{
				44: "approvals_free_bob_carol.json",
				42: "approvals_free_bob_carol.json",
				43: "approvals_free_bob_carol.json",
			},
			verdict: gate.Wait,
			missing: "no merge request of 9c1e4b7d is merged into develop; !42 targets main, !43 targets main, !44 targets release/2.4",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mrs := load(t, tt.mrs, tt.approvals)
			if tt.edit != nil {
				tt.edit(mrs)
			}
			if tt.policy.Branch == "" && tt.policy.Branches == nil {
				tt.policy.Branches = mainOnly
			}
			d := gate.Decide(tt.policy, sha, mrs)
			if d.Verdict != tt.verdict {
				t.Errorf("verdict %v, want %v (%+v)", d.Verdict, tt.verdict, d)
			}
			switch {
			case tt.iid == 0 && d.MergeRequest != nil:
				t.Errorf("merge request !%d, want none", d.MergeRequest.IID)
			case tt.iid != 0 && d.MergeRequest == nil:
				t.Errorf("no merge request, want !%d", tt.iid)
			case tt.iid != 0 && d.MergeRequest.IID != tt.iid:
				t.Errorf("merge request !%d, want !%d", d.MergeRequest.IID, tt.iid)
			}
			if !slices.Equal(d.Approvers, tt.approvers) {
				t.Errorf("approvers %q, want %q", d.Approvers, tt.approvers)
			}
			if d.Summary != tt.summary {
				t.Errorf("summary\n got %q\nwant %q", d.Summary, tt.summary)
			}
			if d.Missing != tt.missing {
				t.Errorf("missing %q, want %q", d.Missing, tt.missing)
			}
			if len(d.Summary) > text.MaxApprovalSummary || len(d.Missing) > text.MaxDescription {
				t.Errorf("summary %d bytes, missing %d bytes", len(d.Summary), len(d.Missing))
			}

			// GitLab's order is not a tie-breaker: the reversed list decides the same.
			rev := slices.Clone(mrs)
			slices.Reverse(rev)
			if r := gate.Decide(tt.policy, sha, rev); !reflect.DeepEqual(r, d) {
				t.Errorf("reversed list decides\n%+v\nnot\n%+v", r, d)
			}
		})
	}
}

// target sets the target branch of MR iid.
func target(iid int64, branch string) func([]gate.MergeRequest) {
	return func(mrs []gate.MergeRequest) {
		for i := range mrs {
			if mrs[i].IID == iid {
				mrs[i].TargetBranch = branch
			}
		}
	}
}

// TestDecideKeepsInput checks that the Decision shares nothing with the caller's slice,
// which the caller may reuse.
func TestDecideKeepsInput(t *testing.T) {
	mrs := load(t, "commit_merge_requests_merged.json", map[int64]string{42: "approvals_free_bob_carol.json"})
	before := slices.Clone(mrs[0].ApprovedBy)
	d := gate.Decide(gate.Policy{MinApprovals: 1, Branches: mainOnly}, sha, mrs)
	d.MergeRequest.Title = "changed"
	d.MergeRequest.ApprovedBy[0] = "mallory"
	d.Approvers[0] = "mallory"
	if mrs[0].Title != "Rate-limit calls to the billing API" || !slices.Equal(mrs[0].ApprovedBy, before) {
		t.Fatalf("Decide's answer aliases its input: %+v", mrs[0])
	}
}

func TestSummaryLimit(t *testing.T) {
	mrs := load(t, "commit_merge_requests_merged.json", map[int64]string{42: "approvals_free_bob_carol.json"})

	// A long title with multi-byte characters gives way; the MR, URL and approvers stay.
	mrs[0].Title = strings.Repeat("Ünïcödé title ", 60)
	d := gate.Decide(gate.Policy{MinApprovals: 1, Branches: mainOnly}, sha, mrs)
	if d.Verdict != gate.Approve {
		t.Fatalf("verdict %v", d.Verdict)
	}
	if len(d.Summary) > text.MaxApprovalSummary || !utf8.ValidString(d.Summary) {
		t.Fatalf("summary is %d bytes (valid UTF-8: %v)", len(d.Summary), utf8.ValidString(d.Summary))
	}
	for _, want := range []string{"Approved by pipegate: !42 \"Ünïcödé title", "…\" (" + url42 + "), approved by bob, carol"} {
		if !strings.Contains(d.Summary, want) {
			t.Errorf("summary %q does not say %q", d.Summary, want)
		}
	}
	if !strings.HasSuffix(d.Summary, "approved by bob, carol") {
		t.Errorf("summary %q lost its approvers", d.Summary)
	}

	// Very many approvers: the list gives way, the title and the count stay.
	mrs[0].Title = "Rate-limit calls"
	mrs[0].ApprovedBy = nil
	for i := range 200 {
		mrs[0].ApprovedBy = append(mrs[0].ApprovedBy, fmt.Sprintf("reviewér-%03d", i))
	}
	d = gate.Decide(gate.Policy{MinApprovals: 1, Branches: mainOnly}, sha, mrs)
	if d.Verdict != gate.Approve || len(d.Summary) > text.MaxApprovalSummary || !utf8.ValidString(d.Summary) ||
		!strings.HasPrefix(d.Summary, `Approved by pipegate: !42 "Rate-limit calls" (`+url42+`), approved by reviewér-000, reviewér-001, `) ||
		!regexp.MustCompile(`, reviewér-\d{3} and \d+ more$`).MatchString(d.Summary) {
		t.Errorf("verdict %v, summary (%d bytes) %q", d.Verdict, len(d.Summary), d.Summary)
	}
	// Both long: the title keeps its first bytes.
	mrs[0].Title = strings.Repeat("Ünïcödé title ", 60)
	d = gate.Decide(gate.Policy{MinApprovals: 1, Branches: mainOnly}, sha, mrs)
	if len(d.Summary) > text.MaxApprovalSummary || !utf8.ValidString(d.Summary) ||
		!regexp.MustCompile(`^Approved by pipegate: !42 "Ünïcödé title .{30,}…" \(`+regexp.QuoteMeta(url42)+`\), approved by reviewér-000, .* and \d+ more$`).MatchString(d.Summary) {
		t.Errorf("summary (%d bytes) %q", len(d.Summary), d.Summary)
	}
	if len(d.Approvers) != 200 {
		t.Errorf("%d approvers, want all 200 in Approvers", len(d.Approvers))
	}
}

func TestDecideShortSHA(t *testing.T) {
	for sha, want := range map[string]string{
		"":        "Rejected by pipegate: the commit has no merge request",
		"9c1e4b7": "Rejected by pipegate: commit 9c1e4b7 has no merge request",
	} {
		d := gate.Decide(gate.Policy{NoMergeRequest: "reject"}, sha, nil)
		if !strings.HasPrefix(d.Summary, want) {
			t.Errorf("sha %q: summary %q, want prefix %q", sha, d.Summary, want)
		}
	}
}

// The verdicts' words are what answers and audit records carry, in JSON too.
func TestVerdictWords(t *testing.T) {
	for v, want := range map[gate.Verdict]string{gate.Wait: "wait", gate.Approve: "approve", gate.Reject: "reject", gate.NotWaiting: "not waiting"} {
		if got := v.String(); got != want {
			t.Errorf("%q.String() = %q, want %q", string(v), got, want)
		}
		if b, err := json.Marshal(struct{ V gate.Verdict }{v}); err != nil || string(b) != `{"V":"`+want+`"}` {
			t.Errorf("%q in JSON = %s, %v", want, b, err)
		}
	}
}

func TestVerdictStates(t *testing.T) {
	for _, tc := range []struct {
		v          gate.Verdict
		cp, gitlab string
	}{
		{gate.Wait, "", "pending"},           // CodePipeline's stage runs; pipegate words it pending
		{gate.Approve, "STARTED", "running"}, // the stage runs on
		{gate.Reject, "FAILED", "failed"},    // CodePipeline fails the stage
		{gate.NotWaiting, "", ""},            // nothing to show
	} {
		if cp, gl := tc.v.States(); cp != tc.cp || gl != tc.gitlab {
			t.Errorf("%s.States() = %q, %q; want %q, %q", tc.v, cp, gl, tc.cp, tc.gitlab)
		}
	}
}

func TestByTrigger(t *testing.T) {
	for _, tc := range []struct {
		trigger string
		ok      bool
	}{
		{"CreatePipeline", true},
		{"StartPipelineExecution", false}, // pipegate's own start, or the console's
		{"Webhook", false},
		{"", false}, // unknown: the merge requests decide
		{"createpipeline", false},
	} {
		d, ok := gate.ByTrigger(tc.trigger)
		if ok != tc.ok {
			t.Errorf("ByTrigger(%q) ok = %v, want %v", tc.trigger, ok, tc.ok)
			continue
		}
		if !ok {
			if d.Verdict != "" || d.Summary != "" {
				t.Errorf("ByTrigger(%q) = %+v, want no decision", tc.trigger, d)
			}
			continue
		}
		const want = "Rejected by pipegate: this run was started by the pipeline's creation, not by a push; push or release the commit to deploy it"
		if d.Verdict != gate.Reject || d.Summary != want || d.MergeRequest != nil || len(d.Summary) > text.MaxApprovalSummary {
			t.Errorf("ByTrigger(%q) = %+v, want reject with %q", tc.trigger, d, want)
		}
	}
}
