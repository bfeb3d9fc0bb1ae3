package progress

import (
	"github.com/pipegate/pipegate/internal/routing"
)

// Deployment statuses GitLab's deployments API takes (docs/environments.md).
const (
	DeployCreated  = "created" // the production stage waits at the approval pipegate gates
	DeployRunning  = "running"
	DeploySuccess  = "success"
	DeployFailed   = "failed"
	DeployCanceled = "canceled"
)

// DeploymentState maps a stage's CodePipeline state (either vocabulary) to a
// deployment status, per INTERFACE.md's table: STARTED, RESUMED -> running,
// SUCCEEDED -> success, FAILED -> failed, CANCELED, STOPPED, SUPERSEDED,
// ABANDONED -> canceled; STOPPING is still running. ok is false for anything
// else: a SKIPPED stage deployed nothing, so it creates no deployment.
func DeploymentState(state string) (status string, ok bool) {
	gl, ok := GitLabState(state)
	if !ok || gl == "skipped" {
		return "", false
	}
	// The commit status states and the deployment statuses share their words.
	return gl, true
}

// Deployment is what pipegate last accepted for one execution's deployment to
// one environment: the stage's state, ordered by the commit statuses' rule
// (Next), and whether the production approval was given.
type Deployment struct {
	Stage    Status
	Approved bool
}

// NextDeployment applies one observation of an execution's stage to cur (zero:
// nothing known yet). u is the stage's state; approved says the observation is
// the stage's approval action succeeding, which also means the stage runs
// (u.State STARTED at the approval's time). changed says the record changed and
// must be written; whether GitLab must be told is Status's to say.
//
// The stage's state follows Next, so a late, repeated or out-of-order event
// never moves it back, and a final state never goes back to running; Approved
// only ever turns true. So the status derived from the two never goes back
// either: created, running, then a final one.
func NextDeployment(cur Deployment, u Update, approved bool) (next Deployment, changed bool, why string) {
	if _, ok := DeploymentState(u.State); !ok {
		return cur, false, "no deployment state"
	}
	if cur.Stage.ExecutionID != "" && u.ExecutionID != cur.Stage.ExecutionID {
		// One record per execution: another execution's state is not this deployment's.
		return cur, false, "other execution"
	}
	st, stageChanged, why := Next(cur.Stage, u)
	next = Deployment{Stage: st, Approved: cur.Approved || approved}
	if next.Approved != cur.Approved {
		if !stageChanged {
			why = "approved"
		}
		return next, true, why
	}
	return next, stageChanged, why
}

// Status is the deployment status d shows: "" when nothing is known; created
// while gated (the stage has a manual approval pipegate gates) and running but
// not approved; else the stage's state as DeploymentState maps it.
func (d Deployment) Status(gated bool) string {
	s, ok := DeploymentState(d.Stage.State)
	if !ok || d.Stage.ExecutionID == "" {
		return ""
	}
	if s == DeployRunning && gated && !d.Approved {
		return DeployCreated
	}
	return s
}

// DeployFinal reports whether a deployment status is final.
func DeployFinal(status string) bool {
	return status != DeployCreated && status != DeployRunning && status != ""
}

// DeployRank orders deployment statuses as a deployment goes through them:
// "" (none), created, running, then the final ones (equal: a retried stage
// may end differently, as Next allows). A status never moves to a lower rank.
func DeployRank(status string) int {
	switch status {
	case "":
		return 0
	case DeployCreated:
		return 1
	case DeployRunning:
		return 2
	}
	return 3
}

// DeploymentEvent is what an event says of a deployment: the environment, the
// stage's state as an Update and whether it is the approval. ok is false when
// the event moves no deployment: not the staging or the production stage, the
// pipeline's own state, an action other than the production approval
// succeeding, or a state with no deployment counterpart.
//
// Only the approval's success counts among action events: its start is the
// stage's start (already "created"), and its failure (a rejection) fails the
// stage, whose own event says so.
func DeploymentEvent(svc routing.Service, ev Event) (env string, u Update, approved, ok bool) {
	env, deploys := svc.Environment(ev.Stage)
	if !deploys {
		return "", Update{}, false, false
	}
	u = Update{ExecutionID: ev.ExecutionID, State: ev.State, At: ev.Time}
	switch ev.Level {
	case StageLevel:
	case ActionLevel:
		if !Gated(svc, ev.Stage) || ev.Action != svc.Production.ApprovalAction || Normalize(ev.State) != "SUCCEEDED" {
			return "", Update{}, false, false
		}
		u.State, approved = "STARTED", true
	default:
		return "", Update{}, false, false
	}
	if _, known := DeploymentState(u.State); !known {
		return "", Update{}, false, false
	}
	return env, u, approved, true
}

// Gated reports whether the deployments of stage wait for pipegate's
// production gate: the production stage, when it names an approval action.
func Gated(svc routing.Service, stage string) bool {
	return stage != "" && stage == svc.Production.Stage && svc.Production.ApprovalAction != ""
}
