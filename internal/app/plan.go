package app

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
)

// The plans say what a handler will do with one event, and why, decided from
// the event and the routing file alone: pure, before any call to AWS, GitLab or
// the store. The handlers carry them out; `pipegate explain` prints them. So a
// decision is made in one place, whoever reads it.

// Action is what a plan does.
type Action string

const (
	Ignore         Action = "ignore"          // nothing: Reason says why
	StartPipelines Action = "start pipelines" // a push: Routing says which, or asks for the changed files
	EvaluateGates  Action = "evaluate gates"  // a merge request: the waiting gates of Gates
	Reconcile      Action = "reconcile"       // the reconciler's schedule
	EvaluateGate   Action = "evaluate gate"   // the production approval started
	SetStatus      Action = "set status"      // a state change becomes a commit status (and a deployment's status)
	MoveDeployment Action = "move deployment" // the production approval was given: the deployment runs
)

// WebhookPlan is what the webhook does with one authenticated, decoded delivery.
type WebhookPlan struct {
	Do     Action
	Reason string // why nothing is done, as the answer says it
	// Routing is a push's routing from its payload: the pipelines it starts, or
	// NeedPaths when GitLab's list of changed files must decide; and why each
	// other service is skipped.
	Routing routing.Result
	// Gates are the services of a merge request's project, whose waiting
	// production gates it evaluates; none (with Reason) when the project has none.
	Gates []routing.Service
}

// PlanWebhook plans the webhook's work for ev: a push nobody routes and a merge
// request action that cannot open a gate cost no API call.
func PlanWebhook(routes *routing.Config, ev gitlabhook.Event) WebhookPlan {
	switch ev.Kind {
	case gitlabhook.PushKind:
		r := routes.Match(ev.Push)
		if len(r.Targets) == 0 && !r.NeedPaths {
			reason := r.Reason
			if reason == "" {
				reason = "no service is routed for this push"
			}
			return WebhookPlan{Do: Ignore, Reason: reason, Routing: r}
		}
		return WebhookPlan{Do: StartPipelines, Routing: r}
	case gitlabhook.MergeRequestKind:
		m := ev.MergeRequest
		if !m.OpensGate() {
			return WebhookPlan{Do: Ignore, Reason: fmt.Sprintf("merge request !%d %s: %s", m.IID, m.Action, gitlabhook.NoGateAction)}
		}
		plan := WebhookPlan{Do: EvaluateGates, Gates: gatesOf(routes, m)}
		if len(plan.Gates) == 0 {
			plan.Reason = "no service of project " + m.Project + " has a production gate"
		}
		return plan
	}
	return WebhookPlan{Do: Ignore, Reason: "pipegate does not act on " + ev.Event}
}

// gatesOf are the services whose production gates a merge request of m's
// project can open: the routed project's, as the routing file names it.
func gatesOf(routes *routing.Config, m *gitlabhook.MergeRequest) []routing.Service {
	var out []routing.Service
	for _, svc := range routes.Services {
		if svc.InProject(m.Project, m.ProjectID) {
			out = append(out, svc)
		}
	}
	return out
}

// EventPlan is what the pipeline-events function does with one EventBridge event.
type EventPlan struct {
	Do     Action
	Reason string // why nothing is done, as the answer says it
	// Unreadable says the event is a CodePipeline state change pipegate cannot
	// read (Reason says why).
	Unreadable bool
	// Change is the CodePipeline state change, when the event is one (IsChange).
	Change   progress.Event
	IsChange bool
	// Service is the one whose pipeline it is, when Routed.
	Service routing.Service
	Routed  bool
	// SetStatus: the commit status's name, the GitLab state the event's state
	// shows (unless a newer event set the status already), and whether the
	// production gate words that status while the stage runs.
	Status   string
	State    string
	GateOwns bool
	// Environment is the GitLab environment whose deployment the event moves
	// (SetStatus of a staging or production stage, MoveDeployment), and
	// Deployment the status it gives it unless a newer event moved it already.
	Environment string
	Deployment  string
}

// PlanEvent plans the pipeline-events function's work for raw. Events it cannot
// use are ignored: Lambda would only retry them.
func PlanEvent(routes *routing.Config, raw json.RawMessage) EventPlan {
	var env events.CloudWatchEvent
	if err := json.Unmarshal(raw, &env); err != nil {
		return EventPlan{Do: Ignore, Reason: "not an EventBridge event: " + err.Error(), Unreadable: true}
	}
	if progress.IsSchedule(env) {
		return EventPlan{Do: Reconcile}
	}
	ev, ok, err := progress.FromEventBridge(env)
	if err != nil {
		return EventPlan{Do: Ignore, Reason: err.Error(), Unreadable: true}
	}
	if !ok {
		return EventPlan{Do: Ignore, Reason: fmt.Sprintf("not a CodePipeline state change (source %q, detail-type %q)", env.Source, env.DetailType)}
	}
	plan := EventPlan{Do: Ignore, Change: ev, IsChange: true}
	if plan.Service, plan.Routed = routes.Service(ev.Pipeline); !plan.Routed {
		plan.Reason = "no service names this pipeline"
		return plan
	}
	prod := plan.Service.Production
	switch {
	case progress.IsGate(prod, ev):
		plan.Do = EvaluateGate
		return plan
	case ev.Level == progress.ActionLevel && plan.deployment():
		plan.Do = MoveDeployment
		return plan
	case ev.Level == progress.ActionLevel:
		plan.Reason = "action events set no status"
		return plan
	case ev.Level == progress.StageLevel && ev.Stage == "":
		plan.Reason = "stage event names no stage"
		return plan
	}
	state, ok := progress.GitLabState(ev.State)
	if !ok {
		plan.Reason = "state " + ev.State + " has no GitLab counterpart"
		return plan
	}
	plan.Do, plan.State = SetStatus, state
	plan.Status = progress.StatusName(plan.Service.Pipeline, ev.Stage)
	plan.GateOwns = progress.GateOwns(prod, ev.Stage, ev.State)
	plan.deployment()
	return plan
}

// deployment fills in the deployment the change moves, if any.
func (p *EventPlan) deployment() bool {
	env, u, approved, ok := progress.DeploymentEvent(p.Service, p.Change)
	if !ok {
		return false
	}
	d := progress.Deployment{Stage: progress.Status{ExecutionID: u.ExecutionID, State: progress.Normalize(u.State)}, Approved: approved}
	p.Environment, p.Deployment = env, d.Status(progress.Gated(p.Service, p.Change.Stage))
	return true
}
