package progress_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
)

func TestDeploymentState(t *testing.T) {
	for state, want := range map[string]string{
		"STARTED": "running", "RESUMED": "running", "InProgress": "running", "STOPPING": "running",
		"SUCCEEDED": "success", "Succeeded": "success",
		"FAILED":   "failed",
		"CANCELED": "canceled", "Cancelled": "canceled", "STOPPED": "canceled", "SUPERSEDED": "canceled", "ABANDONED": "canceled",
		"SKIPPED": "", "Skipped": "", "": "", "WEIRD": "",
	} {
		got, ok := progress.DeploymentState(state)
		if got != want || ok != (want != "") {
			t.Errorf("DeploymentState(%q) = %q, %v; want %q", state, got, ok, want)
		}
	}
}

var svcDeploy = routing.Service{
	Name: "core", Pipeline: "core-pipeline", StagingStage: "Staging",
	Production:   routing.Production{Stage: "Production", ApprovalAction: "ApproveProduction"},
	Environments: routing.Environments{Staging: "staging", Production: "production"},
}

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func TestNextDeployment(t *testing.T) {
	up := func(state string, sec int) progress.Update {
		return progress.Update{ExecutionID: "e1", State: state, At: at(sec)}
	}
	type step struct {
		u        progress.Update
		approved bool
	}
	tests := []struct {
		name        string
		gated       bool
		steps       []step
		want        string // the status after the last step
		lastChanged bool
		lastWhy     string
	}{
		{"staging starts", false, []step{{up("STARTED", 0), false}}, "running", true, "first"},
		{"staging succeeds", false, []step{{up("STARTED", 0), false}, {up("SUCCEEDED", 9), false}}, "success", true, "newer"},
		{"final first, start late", false, []step{{up("SUCCEEDED", 9), false}, {up("STARTED", 0), false}}, "success", false, "older event"},
		{"duplicate", false, []step{{up("STARTED", 0), false}, {up("STARTED", 0), false}}, "running", false, "duplicate"},
		{"failed never runs again", false, []step{{up("FAILED", 9), false}, {up("RESUMED", 9), false}}, "failed", false, "final state kept"},
		{"a retried stage that succeeds", false, []step{{up("FAILED", 9), false}, {up("SUCCEEDED", 20), false}}, "success", true, "newer"},
		{"superseded", false, []step{{up("STARTED", 0), false}, {up("SUPERSEDED", 5), false}}, "canceled", true, "newer"},
		{"skipped: none", false, []step{{up("SKIPPED", 0), false}}, "", false, "no deployment state"},
		{"production waits at the gate", true, []step{{up("STARTED", 0), false}}, "created", true, "first"},
		{"approved: runs", true, []step{{up("STARTED", 0), false}, {up("STARTED", 30), true}}, "running", true, "approved"},
		{"approval seen before the stage's start", true, []step{{up("STARTED", 30), true}, {up("STARTED", 0), false}}, "running", false, "older event"},
		{"approval after the end", true, []step{{up("SUCCEEDED", 60), false}, {up("STARTED", 30), true}}, "success", true, "approved"},
		{"rejected", true, []step{{up("STARTED", 0), false}, {up("FAILED", 30), false}}, "failed", true, "newer"},
		{"not gated: runs at once", false, []step{{up("STARTED", 0), false}}, "running", true, "first"},
		{"another execution", false, []step{{up("STARTED", 0), false}, {progress.Update{ExecutionID: "e2", State: "FAILED", At: at(5)}, false}}, "running", false, "other execution"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d progress.Deployment
			var changed bool
			var why string
			for _, s := range tt.steps {
				d, changed, why = progress.NextDeployment(d, s.u, s.approved)
			}
			if got := d.Status(tt.gated); got != tt.want || changed != tt.lastChanged || why != tt.lastWhy {
				t.Errorf("status %q, changed %v, why %q; want %q, %v, %q", got, changed, why, tt.want, tt.lastChanged, tt.lastWhy)
			}
		})
	}
}

// The deployments' property, as for statuses: whatever the order and however
// often the events of an execution's production stage arrive, its deployment
// ends where ordered delivery ends, and never moves back (created, running,
// final).
func TestNextDeploymentAnyOrder(t *testing.T) {
	ev := func(level progress.Level, action, category, state string, sec int) progress.Event {
		return progress.Event{Level: level, Pipeline: "core-pipeline", ExecutionID: "e1", Stage: "Production",
			Action: action, Category: category, State: state, Time: at(sec)}
	}
	endings := map[string][]progress.Event{
		"success": {
			ev(progress.StageLevel, "", "", "STARTED", 0),
			ev(progress.ActionLevel, "ApproveProduction", "Approval", "STARTED", 0),
			ev(progress.ActionLevel, "ApproveProduction", "Approval", "SUCCEEDED", 40),
			ev(progress.ActionLevel, "Deploy", "Deploy", "STARTED", 40),
			ev(progress.ActionLevel, "Deploy", "Deploy", "SUCCEEDED", 80),
			ev(progress.StageLevel, "", "", "SUCCEEDED", 80),
		},
		"failed": {
			ev(progress.StageLevel, "", "", "STARTED", 0),
			ev(progress.ActionLevel, "ApproveProduction", "Approval", "STARTED", 0),
			ev(progress.ActionLevel, "ApproveProduction", "Approval", "FAILED", 40),
			ev(progress.StageLevel, "", "", "FAILED", 40),
		},
	}
	rng := rand.New(rand.NewPCG(14, 1))
	for want, events := range endings {
		for round := range 200 {
			list := append([]progress.Event(nil), events...)
			for range rng.IntN(4) { // duplicates
				list = append(list, list[rng.IntN(len(list))])
			}
			rng.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
			var d progress.Deployment
			last := ""
			for _, e := range list {
				env, u, approved, ok := progress.DeploymentEvent(svcDeploy, e)
				if !ok {
					continue
				}
				if env != "production" {
					t.Fatalf("environment %q", env)
				}
				d, _, _ = progress.NextDeployment(d, u, approved)
				now := d.Status(true)
				if progress.DeployRank(now) < progress.DeployRank(last) || (progress.DeployFinal(last) && now != last) {
					t.Fatalf("%s round %d: moved back from %q to %q (order %v)", want, round, last, now, list)
				}
				last = now
			}
			if last != want {
				t.Fatalf("%s round %d: ends %q (order %v)", want, round, last, list)
			}
		}
	}
}

func TestDeploymentEvent(t *testing.T) {
	ev := func(level progress.Level, stage, action, category, state string) progress.Event {
		return progress.Event{Level: level, ExecutionID: "e1", Stage: stage, Action: action, Category: category, State: state, Time: at(3)}
	}
	tests := []struct {
		name     string
		ev       progress.Event
		env      string
		state    string
		approved bool
	}{
		{"staging starts", ev(progress.StageLevel, "Staging", "", "", "STARTED"), "staging", "STARTED", false},
		{"production fails", ev(progress.StageLevel, "Production", "", "", "FAILED"), "production", "FAILED", false},
		{"approval succeeds", ev(progress.ActionLevel, "Production", "ApproveProduction", "Approval", "SUCCEEDED"), "production", "STARTED", true},
		{"approval starts", ev(progress.ActionLevel, "Production", "ApproveProduction", "Approval", "STARTED"), "", "", false},
		{"approval rejected", ev(progress.ActionLevel, "Production", "ApproveProduction", "Approval", "FAILED"), "", "", false},
		{"a deploy action", ev(progress.ActionLevel, "Production", "Deploy", "Deploy", "SUCCEEDED"), "", "", false},
		{"another stage", ev(progress.StageLevel, "Build", "", "", "STARTED"), "", "", false},
		{"the pipeline", ev(progress.PipelineLevel, "", "", "", "SUCCEEDED"), "", "", false},
		{"staging skipped", ev(progress.StageLevel, "Staging", "", "", "SKIPPED"), "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, u, approved, ok := progress.DeploymentEvent(svcDeploy, tt.ev)
			if env != tt.env || u.State != tt.state || approved != tt.approved || ok != (tt.env != "") {
				t.Errorf("got %q %q %v %v; want %q %q %v", env, u.State, approved, ok, tt.env, tt.state, tt.approved)
			}
			if ok && (u.ExecutionID != "e1" || !u.At.Equal(at(3))) {
				t.Errorf("update %+v", u)
			}
		})
	}
}
