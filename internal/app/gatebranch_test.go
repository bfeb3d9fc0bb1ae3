package app_test

import (
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/routing"
)

// Only merge requests merged into a branch the service deploys open its gate: the
// execution's branch when pipegate started it from a push, else one of the
// service's branches (main and release/* here). Others are not cited; alone they
// count as no merge request.
func TestGateCountsOnlyMergeRequestsIntoDeployBranch(t *testing.T) {
	into := func(branch string, iid int64, approvedBy ...string) emulator.MergeRequest {
		mr := mergedMR(approvedBy...)
		mr.IID, mr.TargetBranch = iid, branch
		return mr
	}
	for _, tc := range []struct {
		name    string
		routes  string                  // routing file; "" the world's
		console bool                    // started in the console: pipegate does not know its branch
		mrs     []emulator.MergeRequest // of headSHA in team/core
		verdict string
		// summary is what CodePipeline is told, else what the Production status says.
		says string
	}{
		{
			name: "approved merge request into feature/y",
			mrs:  []emulator.MergeRequest{into("feature/y", 12, "bob")},
			// as with no merge request: the gate waits, saying where the merge request goes
			verdict: "wait", says: "no merge request of da156088 is merged into main; !12 targets feature/y",
		},
		{
			name:    "approved into feature/y, unapproved into main",
			mrs:     []emulator.MergeRequest{into("feature/y", 12, "bob"), into("main", 13)},
			verdict: "wait", says: "needs 1 more approval on !13",
		},
		{
			name:    "approved into feature/y, approved into main",
			mrs:     []emulator.MergeRequest{into("feature/y", 12, "bob", "carol"), into("main", 13, "dave")},
			verdict: "approve", says: "!13",
		},
		{
			name:    "pushed to main: an approved merge request into release/2.0 is another branch",
			mrs:     []emulator.MergeRequest{into("release/2.0", 12, "bob")},
			verdict: "wait", says: "no merge request of da156088 is merged into main; !12 targets release/2.0",
		},
		{
			name:    "console run: a merge request into a branch the service deploys counts",
			console: true,
			mrs:     []emulator.MergeRequest{into("release/2.0", 12, "bob")},
			verdict: "approve", says: "!12",
		},
		{
			name:    "console run: a merge request into another branch does not",
			console: true,
			mrs:     []emulator.MergeRequest{into("feature/y", 12, "bob")},
			verdict: "wait", says: "no merge request of da156088 is merged into main or release/*; !12 targets feature/y",
		},
		{
			name:    "no_merge_request reject: only merge requests into other branches",
			routes:  "services:\n  - name: core\n    project: team/core\n    pipeline: core-pipeline\n    production: {no_merge_request: reject}\n",
			mrs:     []emulator.MergeRequest{into("feature/y", 12, "bob")},
			verdict: "reject", says: "Rejected by pipegate: no merge request of commit da156088 is merged into main (!12 targets feature/y)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, withClock)
			if tc.routes != "" {
				cfg, err := routing.Parse([]byte(tc.routes))
				if err != nil {
					t.Fatal(err)
				}
				w.app.Routes = cfg
			}
			for _, mr := range tc.mrs {
				w.gl.AddMergeRequest("team/core", mr)
			}
			var id string
			if tc.console {
				id = w.cp.AddExecution("core-pipeline", emulator.Execution{CommitSHA: headSHA, StartedAt: at(0)})
			} else {
				id = w.pushed()
			}
			w.waitAtGate(id, "tok-branch")
			ans := w.event(approvalStarted(id))
			if !gated(ans, gate.Verdict(tc.verdict)) {
				t.Fatalf("answer %+v, want gate %s", ans, tc.verdict)
			}
			got := w.approvals()
			switch tc.verdict {
			case "wait":
				if len(got) != 0 {
					t.Fatalf("approvals %+v while the gate waits", got)
				}
				if s := w.latest("core-pipeline/Production"); s.State != "pending" || !strings.Contains(s.Description, tc.says) {
					t.Errorf("Production status %+v, want pending saying %q", s, tc.says)
				}
			default:
				status := map[string]string{"approve": "Approved", "reject": "Rejected"}[tc.verdict]
				if len(got) != 1 || got[0].Status != status || !strings.Contains(got[0].Summary, tc.says) {
					t.Fatalf("approvals %+v, want one %s saying %q", got, status, tc.says)
				}
				// The merge requests into other branches are not cited.
				if tc.verdict == "approve" && strings.Contains(got[0].Summary, "!12") != (tc.says == "!12") {
					t.Errorf("summary %q cites the wrong merge request", got[0].Summary)
				}
			}
		})
	}
}
