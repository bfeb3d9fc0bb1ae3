package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/store"
)

// forgeID makes a payload's numeric ids (project_id and project.id) name team/core
// (42) while its path names another routed project: a payload whose fields disagree.
func forgeID(m map[string]any) {
	m["project_id"] = 42
	m["project"].(map[string]any)["id"] = 42
}

// waitAt puts execution id of pipeline at its production approval, waiting with token.
func (w *world) waitAt(pipeline, id, token string) {
	w.cp.SetStage(pipeline, emulator.StageState{Name: "Production", ExecutionID: id, Status: "InProgress",
		Actions: []emulator.ActionState{
			{Name: "ApproveProduction", Status: "InProgress", Token: token, Updated: at(300)},
			{Name: "Deploy"},
		}})
}

// noCallTo fails the test for each GitLab request that named project, but the
// reconciler's read of each routed branch's head, which it makes for every
// routed project whatever a delivery says.
func (w *world) noCallTo(t *testing.T, project string) {
	t.Helper()
	for _, r := range w.gl.Requests() {
		if r.Project == project && r.Route != "branch" {
			t.Errorf("GitLab %s request to %s, which the delivery's routed project is not", r.Route, project)
		}
	}
}

// One project identity: a push whose path is team/auth (or team/platform) but whose
// numeric ids are team/core's acts on the routed project only. Compare, pending
// status, the records and the production gate all go to it, and team/core's
// approved merge request of the same commit never opens the routed project's gate,
// whichever way the gate comes to be evaluated.
func TestOneProjectIdentity(t *testing.T) {
	const before = "95790bf891e76fee5e1747ab589903a6a1f80f22"
	for _, tc := range []struct {
		name string
		// gate evaluates auth-pipeline's gate for execution id and returns the verdict.
		gate func(t *testing.T, w *world, id string) string
	}{
		{"approval action event", func(t *testing.T, w *world, id string) string {
			ans := w.event(emulator.ActionEvent("auth-pipeline", id, "Production", "ApproveProduction", "Approval", "Manual", "STARTED", at(300)))
			return verdictOf(ans)
		}},
		{"merge request webhook with the same forged ids", func(t *testing.T, w *world, id string) string {
			code, ans := w.deliver(delivery{event: "Merge Request Hook", body: payload(t, "webhook_merge_request.json", func(m map[string]any) {
				project(m, 43, "team/auth")
				forgeID(m)
				oa := m["object_attributes"].(map[string]any)
				oa["action"], oa["iid"], oa["target_project_id"] = "approved", 118, 42
			})})
			if code != http.StatusOK || len(ans.Gates) != 1 || ans.Gates[0].Pipeline != "auth-pipeline" {
				t.Fatalf("merge request hook: %d %+v, want auth-pipeline's gate evaluated", code, ans)
			}
			return string(ans.Gates[0].Verdict)
		}},
		{"reconciler", func(t *testing.T, w *world, id string) string {
			if _, err := w.app.Reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			ds, err := w.store.(interface {
				Decisions(context.Context, string, string) ([]store.GateDecision, error)
			}).Decisions(context.Background(), "auth-pipeline", id)
			if err != nil || len(ds) != 1 {
				t.Fatalf("decisions %+v %v, want one", ds, err)
			}
			return ds[0].Verdict
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, withClock)
			// team/core has an approved, merged merge request of the very commit pushed.
			w.gl.AddMergeRequest("team/core", mergedMR("bob", "carol"))

			code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 43, "team/auth", "main", forgeID)})
			if code != http.StatusOK || ans.Result != "started" || len(ans.Started) != 1 || ans.Started[0].Pipeline != "auth-pipeline" {
				t.Fatalf("push: %d %+v, want auth-pipeline started", code, ans)
			}
			id := ans.Started[0].ExecutionID
			if s, ok := w.gl.Latest("team/auth", headSHA, "auth-pipeline"); !ok || s.State != "pending" {
				t.Errorf("team/auth shows %+v (found %v), want the pending status", s, ok)
			}
			ex, found, err := w.store.GetExecution(context.Background(), "auth-pipeline", id)
			if err != nil || !found || ex.Project != "team/auth" {
				t.Errorf("execution record %+v (found %v, %v), want project team/auth", ex, found, err)
			}

			w.waitAt("auth-pipeline", id, "tok-auth")
			if v := tc.gate(t, w, id); v != "wait" {
				t.Errorf("verdict %q, want wait: team/auth has no merge request of %s", v, headSHA)
			}
			if got := w.approvals(); len(got) != 0 {
				t.Errorf("approved %+v with another project's merge request", got)
			}
			s, ok := w.gl.Latest("team/auth", headSHA, "auth-pipeline/Production")
			if !ok || s.State != "pending" || !strings.Contains(s.Description, "no merge request") {
				t.Errorf("team/auth's Production status %+v (found %v), want pending for want of a merge request", s, ok)
			}
			w.noCallTo(t, "team/core")
		})
	}

	// A monorepo push that needs the compare API compares in the routed project:
	// team/core's comparison of the same commits would start billing, team/platform's
	// starts search.
	t.Run("compare", func(t *testing.T) {
		w := newWorld(t)
		w.gl.SetCompare("team/core", before, headSHA, []string{"services/billing/x.go"})
		w.gl.SetCompare("team/platform", before, headSHA, []string{"services/search/index.go"})
		code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 44, "team/platform", "main", forgeID,
			func(m map[string]any) { m["total_commits_count"] = 25 })})
		if code != http.StatusOK || ans.Result != "started" || len(ans.Started) != 1 || ans.Started[0].Pipeline != "search-pipeline" {
			t.Fatalf("push: %d %+v, want search-pipeline started from team/platform's comparison", code, ans)
		}
		if s, ok := w.gl.Latest("team/platform", headSHA, "search-pipeline"); !ok || s.State != "pending" {
			t.Errorf("team/platform shows %+v (found %v), want the pending status", s, ok)
		}
		w.noCallTo(t, "team/core")
	})

	// A record written by an earlier version, or by anything else, that names
	// another project does not redirect the gate: it reads the routed project.
	t.Run("stored execution names another project", func(t *testing.T) {
		w := newWorld(t, withClock)
		w.gl.AddMergeRequest("team/core", mergedMR("bob", "carol"))
		id := w.cp.AddExecution("auth-pipeline", emulator.Execution{CommitSHA: headSHA, StartedAt: at(0)})
		if _, err := w.store.PutExecution(context.Background(), store.Execution{
			Pipeline: "auth-pipeline", ID: id, Project: "42", CommitSHA: headSHA, Ref: "refs/heads/main", StartedAt: at(0),
		}); err != nil {
			t.Fatal(err)
		}
		w.waitAt("auth-pipeline", id, "tok-auth")
		ans := w.event(emulator.ActionEvent("auth-pipeline", id, "Production", "ApproveProduction", "Approval", "Manual", "STARTED", at(300)))
		if !gated(ans, gate.Wait) {
			t.Errorf("answer %+v, want gate wait", ans)
		}
		if got := w.approvals(); len(got) != 0 {
			t.Errorf("approved %+v with another project's merge request", got)
		}
		w.noCallTo(t, "team/core")
	})
}
