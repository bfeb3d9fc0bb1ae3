package gitlab

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/emulator"
)

// The deployments adapter through client-go against the stand-in: created,
// moved, a repeat whose first answer was lost is success, an invalid move is
// ErrRefused, and a crash's deployment is found by environment and commit.
func TestDeployments(t *testing.T) {
	g, c := start(t)
	ctx := ctxTimeout(t, 10*time.Second)
	id, err := c.CreateDeployment(ctx, "team/core", NewDeployment{Environment: "production", SHA: "abc", Ref: "main", Status: "created"})
	if err != nil || id == 0 {
		t.Fatalf("create: %d %v", id, err)
	}
	if _, err := c.CreateDeployment(ctx, "42", NewDeployment{Environment: "staging", SHA: "abc", Ref: "v1.0.0", Tag: true, Status: "running"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"running", "running", "success"} { // the second: a retry after a lost answer
		if err := c.UpdateDeployment(ctx, "team/core", id, s); err != nil {
			t.Fatalf("move to %s: %v", s, err)
		}
	}
	if err := c.UpdateDeployment(ctx, "team/core", id, "running"); !errors.Is(err, ErrRefused) {
		t.Fatalf("success -> running: %v, want ErrRefused", err)
	}
	deps := g.Deployments("team/core")
	if len(deps) != 2 || !slices.Equal(deps[0].History, []string{"created", "running", "success"}) ||
		deps[1].Environment != "staging" || !deps[1].Tag || deps[1].Ref != "v1.0.0" {
		t.Fatalf("deployments %+v", deps)
	}
	found, err := c.FindDeployments(ctx, "team/core", "production", "abc")
	if err != nil || len(found) != 1 || found[0].ID != id || found[0].Status != "success" || found[0].CreatedAt.IsZero() {
		t.Fatalf("find: %+v %v", found, err)
	}
	if found, _ := c.FindDeployments(ctx, "team/core", "production", "other"); len(found) != 0 {
		t.Fatalf("another commit's: %+v", found)
	}
	// A 5xx may come after GitLab created it: the create is not sent again (the caller adopts).
	g.FailNext("add_deployment", 1, emulator.Fault{Status: 502, Message: "502 Bad Gateway"})
	before := g.Calls("add_deployment")
	if _, err := c.CreateDeployment(ctx, "team/core", NewDeployment{Environment: "production", SHA: "abd", Ref: "main", Status: "running"}); err == nil || g.Calls("add_deployment")-before != 1 {
		t.Fatalf("create after a 502: %v, %d calls, want an error after 1", err, g.Calls("add_deployment")-before)
	}
	g.FailNext("add_deployment", 1, emulator.Fault{Status: 400, Message: "400 Bad request - sha is invalid"})
	if _, err := c.CreateDeployment(ctx, "team/core", NewDeployment{Environment: "production", SHA: "zzz", Ref: "main", Status: "running"}); !errors.Is(err, ErrRefused) {
		t.Fatalf("refused create: %v", err)
	}
}
