package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// What the reconciler looks at. EventBridge documents CodePipeline events as best
// effort, so a lost event must not leave a status at "running" for ever; the
// reconciler runs every few minutes (template.yaml), so a day of history is far
// more than it ever needs, and ten executions per pipeline cover every execution
// that can still be moving.
const (
	ReconcileDepth  = 10
	ReconcileWindow = 24 * time.Hour
)

// Reconcile compares what CodePipeline reports of the configured pipelines' recent
// executions with the statuses pipegate last posted, and posts what lost events
// left behind. It feeds what it reads through the same decision as the events, so
// it never overrides a newer state, and it costs two CodePipeline calls and a few
// store reads per pipeline when nothing changed. It also re-evaluates production
// gates that wait, so that a lost merge request webhook delays production by
// minutes, not for ever.
func (a *App) Reconcile(ctx context.Context) (EventAnswer, error) {
	ans := EventAnswer{Result: EventReconciled}
	var errs []error
	// First the deliveries no invocation finished: they are pushes not yet started.
	n, err := a.finishPending(ctx)
	ans.Resumed = n
	if err != nil {
		errs = append(errs, err)
	}
	a.checkHooks(ctx)                          // GitLab may have disabled pipegate's webhooks
	if err := a.startMissed(ctx); err != nil { // pushes GitLab did not deliver (missed.go)
		errs = append(errs, err)
	}
	for _, svc := range a.Routes.Services {
		n, err := a.reconcile(ctx, svc)
		ans.Repaired += n
		if err != nil {
			errs = append(errs, fmt.Errorf("reconcile %s: %w", svc.Pipeline, err))
		}
	}
	a.Log.Info("reconciled", "pipelines", len(a.Routes.Services), "repaired", ans.Repaired, "resumed", ans.Resumed, "failures", len(errs))
	return ans, errors.Join(errs...)
}

func (a *App) reconcile(ctx context.Context, svc routing.Service) (repaired int, err error) {
	cctx, cancel := a.call(ctx)
	recent, err := a.Pipelines.Recent(cctx, svc.Pipeline, ReconcileDepth)
	cancel()
	if err != nil {
		return 0, err
	}
	horizon := a.now().Add(-ReconcileWindow)
	known := make(map[string]store.Execution, len(recent))
	var errs []error
	count := func(ans EventAnswer, err error) {
		if err != nil {
			errs = append(errs, err)
		} else if ans.Result == EventPosted {
			repaired++
		}
	}
	for _, s := range recent {
		if s.LastUpdate.Before(horizon) || s.CommitSHA == "" {
			continue
		}
		ex, err := a.recentExecution(ctx, svc, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		known[s.ID] = ex
		count(a.apply(ctx, svc, ex, "", progress.Update{
			ExecutionID: s.ID, ExecutionStart: ex.StartedAt, State: s.Status, At: s.LastUpdate, Began: s.StartTime,
		}))
	}
	cctx, cancel = a.call(ctx)
	stages, err := a.Pipelines.State(cctx, svc.Pipeline)
	cancel()
	if err != nil {
		return repaired, errors.Join(append(errs, err)...)
	}
	// A gate waits until it is told; the merge request's webhook may have been lost.
	if _, _, ok := codepipeline.Waiting(stages, svc.Production.Stage, svc.Production.ApprovalAction); ok {
		if _, err := a.evaluateGate(ctx, svc, "", "reconciler", stages); err != nil {
			errs = append(errs, err)
		}
	}
	for _, st := range stages {
		ex, ok := known[st.ExecutionID]
		if !ok || st.Status == "" || st.Updated.IsZero() {
			continue
		}
		count(a.apply(ctx, svc, ex, st.Name, progress.Update{
			ExecutionID: st.ExecutionID, ExecutionStart: ex.StartedAt, State: st.Status, At: st.Updated,
		}))
		if n, err := a.reconcileDeployment(ctx, svc, ex, st); err != nil {
			errs = append(errs, err)
		} else {
			repaired += n
		}
	}
	return repaired, errors.Join(errs...)
}

// reconcileDeployment feeds a staging or production stage's state through the
// deployments' decision, as the events would: a missed deployment is created,
// a missed move made, and what GitLab did not take is sent again. It returns
// 1 when GitLab was told something.
func (a *App) reconcileDeployment(ctx context.Context, svc routing.Service, ex store.Execution, st codepipeline.StageState) (int, error) {
	env, deploys := svc.Environment(st.Name)
	if !deploys {
		return 0, nil
	}
	if _, ok := progress.DeploymentState(st.Status); !ok {
		return 0, nil
	}
	before, _, err := a.Store.GetDeployment(ctx, store.DeploymentKey{Project: svc.Project, Environment: env, CommitSHA: ex.CommitSHA, Pipeline: svc.Pipeline, ExecutionID: st.ExecutionID})
	if err != nil {
		return 0, inStore(fmt.Errorf("read deployment to %s of %s: %w", env, svc.Pipeline, err))
	}
	u := progress.Update{ExecutionID: st.ExecutionID, ExecutionStart: ex.StartedAt, State: st.Status, At: st.Updated}
	// The approval was given when the running stage's approval action succeeded
	// (the stage's actions are this execution's while it runs).
	approved := false
	if progress.Gated(svc, st.Name) && progress.Normalize(st.Status) == "STARTED" {
		for _, act := range st.Actions {
			approved = approved || (act.Name == svc.Production.ApprovalAction && progress.Normalize(act.Status) == "SUCCEEDED")
		}
	}
	after, err := a.deploy(ctx, svc, ex, st.Name, env, u, approved)
	if err != nil {
		return 0, err
	}
	if after.Posted != before.Posted || after.ID != before.ID {
		return 1, nil
	}
	return 0, nil
}

// recentExecution is execution for the reconciler, which already has the commit,
// the exact start time and the trigger from ListPipelineExecutions (so the gate
// need not ask GetPipelineExecution for the trigger later).
func (a *App) recentExecution(ctx context.Context, svc routing.Service, s codepipeline.Summary) (store.Execution, error) {
	id, started := s.ID, s.StartTime
	ex, found, err := a.Store.GetExecution(ctx, svc.Pipeline, id)
	if err != nil {
		return ex, fmt.Errorf("look up execution %s of %s in the store: %w", id, svc.Pipeline, err)
	}
	// The list in hand has the commit, the exact start and the trigger.
	if found && progress.Enough(known(ex), progress.Known{Commit: s.CommitSHA, Trigger: s.Trigger, Started: started}) {
		return ex, nil
	}
	ex, err = a.Store.PutExecution(ctx, store.Execution{
		Pipeline: svc.Pipeline, ID: id, Project: svc.Project, CommitSHA: s.CommitSHA, StartedAt: started, Trigger: s.Trigger,
	})
	if err != nil {
		return ex, fmt.Errorf("record execution %s of %s: %w", id, svc.Pipeline, err)
	}
	return ex, nil
}

// MaxPendingPerRun bounds the deliveries one reconciler run resumes; the rest
// wait for the next run, five minutes later.
const MaxPendingPerRun = 20

// finishPending resumes the deliveries whose work no invocation finished: the
// webhook died (or its last writes failed) after recording the delivery, and
// neither the retry queue nor GitLab brought it back. It only takes records
// older than a lease, so that it does not race an invocation still at work.
func (a *App) finishPending(ctx context.Context) (resumed int, err error) {
	list, err := a.Store.Pendings(ctx, a.now().Add(-a.lease()), MaxPendingPerRun)
	if err != nil {
		return 0, fmt.Errorf("read pending deliveries: %w", err)
	}
	var errs []error
	for _, p := range list {
		if d, ok := ctx.Deadline(); ok && time.Until(d) < a.budget() {
			break // the next run takes the rest
		}
		var job Job
		if err := json.Unmarshal(p.Job, &job); err != nil || job.Delivery.Key != p.Key {
			// Nothing can ever run it; keeping it would fail every run.
			a.Log.Error("pending delivery unreadable, dropped", "delivery", p.Key, "error", fmt.Sprint(err))
			a.dropPending(ctx, p.Key)
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, a.budget())
		err := a.resume(wctx, &job, "reconciler")
		cancel()
		switch {
		case errors.Is(err, errBusy):
		case err != nil:
			errs = append(errs, err)
			// To the back of the line: records that fail every time (a pipeline
			// deleted in CodePipeline, say) are the oldest, and must not keep the
			// newer ones from their turn.
			if err := a.Store.PutPending(ctx, store.Pending{Key: p.Key, Job: p.Job}); err != nil {
				a.Log.Warn("pending delivery not moved back", "delivery", p.Key, "error", err.Error())
			}
		default:
			resumed++
		}
	}
	return resumed, errors.Join(errs...)
}
