package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// DeploymentRecords are the records of GitLab deployments, one per execution and
// environment (store.Deployment; writes are conditional on the version).
type DeploymentRecords interface {
	GetDeployment(ctx context.Context, key store.DeploymentKey) (store.Deployment, bool, error)
	PutDeployment(ctx context.Context, d store.Deployment) (store.Deployment, error)
	Deployments(ctx context.Context, project, environment, sha string) ([]store.Deployment, error)
}

// DeploymentPoster creates and moves GitLab deployments (gitlab.Client).
type DeploymentPoster interface {
	CreateDeployment(ctx context.Context, project string, d gitlab.NewDeployment) (int64, error)
	UpdateDeployment(ctx context.Context, project string, id int64, status string) error
	FindDeployments(ctx context.Context, project, environment, sha string) ([]gitlab.Deployment, error)
}

// adoptSkew is how much earlier than pipegate's record of a create GitLab may
// date the deployment it created (clocks differ).
const adoptSkew = time.Minute

// deploy decides what one observation of a staging or production stage means
// for the execution's deployment to env, records it, and tells GitLab. Like
// apply for statuses: the record first (conditional on its version), then
// GitLab; what GitLab did not take stays in the record (Want differs from
// Posted) for Lambda's retry of the event, a later event or the reconciler.
func (a *App) deploy(ctx context.Context, svc routing.Service, ex store.Execution, stage, env string, u progress.Update, approved bool) (store.Deployment, error) {
	key := store.DeploymentKey{Project: svc.Project, Environment: env, CommitSHA: ex.CommitSHA, Pipeline: svc.Pipeline, ExecutionID: u.ExecutionID}
	gated := progress.Gated(svc, stage)
	for range statusWriteAttempts {
		cur, _, err := a.Store.GetDeployment(ctx, key)
		if err != nil {
			return cur, inStore(fmt.Errorf("read deployment %s: %w", key, err))
		}
		next, changed, why := progress.NextDeployment(deploymentOf(cur), u, approved)
		if !changed {
			a.Log.Info("deployment unchanged", "pipeline", svc.Pipeline, "environment", env, "commit", key.CommitSHA,
				"execution_id", u.ExecutionID, "event_state", u.State, "status", cur.Want, "reason", why)
			if cur.Version > 0 {
				return a.moveDeployment(ctx, svc, cur)
			}
			return cur, nil
		}
		rec := cur
		rec.Ref, rec.Tag = deployRef(svc, ex)
		rec.ExecutionStart, rec.State, rec.At, rec.Began = next.Stage.ExecutionStart, next.Stage.State, next.Stage.At, next.Stage.Began
		rec.Approved, rec.Want = next.Approved, next.Status(gated)
		stored, err := a.Store.PutDeployment(ctx, rec)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return cur, inStore(fmt.Errorf("record deployment %s: %w", key, err))
		}
		a.Log.Info("deployment decided", "pipeline", svc.Pipeline, "environment", env, "commit", key.CommitSHA,
			"execution_id", u.ExecutionID, "state", rec.State, "status", rec.Want, "reason", why)
		if progress.DeployFinal(stored.Want) {
			a.putResult(ctx, svc, stage, stored.Want, key.CommitSHA, stored.At)
		}
		return a.moveDeployment(ctx, svc, stored)
	}
	return store.Deployment{}, fmt.Errorf("record deployment %s: still contended after %d attempts", key, statusWriteAttempts)
}

// deploymentOf is a record as the decision reads it.
func deploymentOf(d store.Deployment) progress.Deployment {
	return progress.Deployment{
		Stage:    progress.Status{ExecutionID: ifSet(d.State, d.Key.ExecutionID), ExecutionStart: d.ExecutionStart, State: d.State, At: d.At, Began: d.Began},
		Approved: d.Approved,
	}
}

func ifSet(cond, v string) string {
	if cond == "" {
		return ""
	}
	return v
}

// deployRef is the ref GitLab files the deployment under: the branch or tag
// pipegate started the execution on; for an execution started elsewhere (the
// ref is not known) the service's first branch named literally, else the
// commit itself, which GitLab takes as a ref too.
func deployRef(svc routing.Service, ex store.Execution) (ref string, tag bool) {
	if ex.Ref != "" {
		return gitlabhook.RefName(ex.Ref), strings.HasPrefix(ex.Ref, "refs/tags/")
	}
	for _, b := range svc.Branches {
		if routing.Literal(b) {
			return b, false
		}
	}
	return ex.CommitSHA, false
}

// moveDeployment brings GitLab to what rec says: creates the deployment when
// it has no id (adopting one a crash left unrecorded), else moves it. Each
// step is recorded with a conditional write; when another writer changed the
// record meanwhile, its newer Want is taken to GitLab too.
func (a *App) moveDeployment(ctx context.Context, svc routing.Service, rec store.Deployment) (store.Deployment, error) {
	key := rec.Key
	for range statusWriteAttempts {
		if rec.Want == "" || rec.Want == rec.Posted || rec.Want == rec.Refused {
			return rec, nil
		}
		now := a.now()
		if rec.ID == 0 {
			if !rec.Creating.IsZero() && now.Sub(rec.Creating) < a.lease() {
				// Another invocation is creating it; it moves it to the newest Want after.
				a.Log.Info("deployment being created elsewhere", "environment", key.Environment, "commit", key.CommitSHA, "execution_id", key.ExecutionID)
				return rec, nil
			}
			if !rec.Creating.IsZero() {
				id, status, err := a.adopt(ctx, rec)
				if err != nil {
					return rec, err
				}
				if id != 0 {
					a.Log.Info("deployment adopted", "environment", key.Environment, "commit", key.CommitSHA,
						"execution_id", key.ExecutionID, "deployment_id", id, "status", status)
					var werr error
					if rec, werr = a.saveDeployment(ctx, rec, func(d *store.Deployment) { d.ID, d.Posted, d.Creating = id, status, time.Time{} }); werr != nil {
						return rec, werr
					}
					continue
				}
			}
			// The intent first: a crash after GitLab's answer leaves a record that says to look.
			claimed := rec
			claimed.Creating = now
			stored, err := a.Store.PutDeployment(ctx, claimed)
			if errors.Is(err, store.ErrConflict) {
				if rec, err = a.rereadDeployment(ctx, key); err != nil {
					return rec, err
				}
				continue
			}
			if err != nil {
				return rec, inStore(fmt.Errorf("record creating deployment %s: %w", key, err))
			}
			rec = stored
			want := rec.Want
			cctx, cancel := a.call(ctx)
			id, err := a.GitLab.CreateDeployment(cctx, key.Project, gitlab.NewDeployment{
				Environment: key.Environment, SHA: key.CommitSHA, Ref: rec.Ref, Tag: rec.Tag, Status: want,
			})
			cancel()
			if errors.Is(err, gitlab.ErrRefused) {
				return a.refuseDeployment(ctx, rec, want, err)
			}
			if err != nil {
				return rec, inGitLab(fmt.Errorf("create deployment %s: %w", key, err))
			}
			a.Log.Info("deployment created", "environment", key.Environment, "commit", key.CommitSHA,
				"execution_id", key.ExecutionID, "deployment_id", id, "status", want, "ref", rec.Ref)
			if rec, err = a.saveDeployment(ctx, rec, func(d *store.Deployment) { d.ID, d.Posted, d.Creating = id, want, time.Time{} }); err != nil {
				return rec, err
			}
			continue
		}
		want := rec.Want
		cctx, cancel := a.call(ctx)
		err := a.GitLab.UpdateDeployment(cctx, key.Project, rec.ID, want)
		cancel()
		if errors.Is(err, gitlab.ErrRefused) {
			return a.refuseDeployment(ctx, rec, want, err)
		}
		if err != nil {
			return rec, inGitLab(fmt.Errorf("move deployment %s: %w", key, err))
		}
		a.Log.Info("deployment moved", "environment", key.Environment, "commit", key.CommitSHA,
			"execution_id", key.ExecutionID, "deployment_id", rec.ID, "status", want)
		var werr error
		if rec, werr = a.saveDeployment(ctx, rec, func(d *store.Deployment) { d.Posted = want }); werr != nil {
			return rec, werr
		}
	}
	return rec, fmt.Errorf("deployment %s: still contended after %d attempts", key, statusWriteAttempts)
}

// refuseDeployment records GitLab's 400: asking again for the same status
// cannot help, so it is not retried; a later status is tried.
func (a *App) refuseDeployment(ctx context.Context, rec store.Deployment, want string, cause error) (store.Deployment, error) {
	a.Log.Warn("deployment refused by GitLab", "environment", rec.Key.Environment, "commit", rec.Key.CommitSHA,
		"execution_id", rec.Key.ExecutionID, "deployment_id", rec.ID, "status", want, "error", cause.Error())
	return a.saveDeployment(ctx, rec, func(d *store.Deployment) {
		d.Refused = want
		if d.ID == 0 {
			d.Creating = time.Time{} // nothing was created
		}
	})
}

// saveDeployment applies change to rec and writes it; on a conflict it
// applies change to the record as it is now, so what GitLab did is never lost.
func (a *App) saveDeployment(ctx context.Context, rec store.Deployment, change func(*store.Deployment)) (store.Deployment, error) {
	for range statusWriteAttempts {
		next := rec
		change(&next)
		stored, err := a.Store.PutDeployment(ctx, next)
		if err == nil {
			return stored, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return rec, inStore(fmt.Errorf("record deployment %s: %w", rec.Key, err))
		}
		if rec, err = a.rereadDeployment(ctx, rec.Key); err != nil {
			return rec, err
		}
	}
	return rec, fmt.Errorf("record deployment %s: still contended after %d attempts", rec.Key, statusWriteAttempts)
}

func (a *App) rereadDeployment(ctx context.Context, key store.DeploymentKey) (store.Deployment, error) {
	cur, _, err := a.Store.GetDeployment(ctx, key)
	if err != nil {
		return cur, inStore(fmt.Errorf("read deployment %s: %w", key, err))
	}
	return cur, nil
}

// adopt finds the deployment an interrupted create left at GitLab: of the
// environment's deployments on the commit, with the record's ref, created
// since the create began and recorded by no other execution, the earliest.
// id is 0 when there is none (GitLab never got the create).
func (a *App) adopt(ctx context.Context, rec store.Deployment) (id int64, status string, err error) {
	key := rec.Key
	cctx, cancel := a.call(ctx)
	found, err := a.GitLab.FindDeployments(cctx, key.Project, key.Environment, key.CommitSHA)
	cancel()
	if err != nil {
		return 0, "", inGitLab(fmt.Errorf("look for deployment %s: %w", key, err))
	}
	others, err := a.Store.Deployments(ctx, key.Project, key.Environment, key.CommitSHA)
	if err != nil {
		return 0, "", inStore(fmt.Errorf("read deployments of %s: %w", key, err))
	}
	taken := map[int64]bool{}
	for _, o := range others {
		if o.Key != key && o.ID != 0 {
			taken[o.ID] = true
		}
	}
	var best gitlab.Deployment
	for _, d := range found {
		if taken[d.ID] || d.Ref != rec.Ref || d.CreatedAt.Before(rec.Creating.Add(-adoptSkew)) {
			continue
		}
		if best.ID == 0 || d.CreatedAt.Before(best.CreatedAt) || (d.CreatedAt.Equal(best.CreatedAt) && d.ID < best.ID) {
			best = d
		}
	}
	return best.ID, best.Status, nil
}

// deployEvent carries a stage's or the approval's event to its deployment.
func (a *App) deployEvent(ctx context.Context, svc routing.Service, ex store.Execution, ev progress.Event) (store.Deployment, bool, error) {
	env, u, approved, ok := progress.DeploymentEvent(svc, ev)
	if !ok {
		return store.Deployment{}, false, nil
	}
	u.ExecutionStart = ex.StartedAt
	d, err := a.deploy(ctx, svc, ex, ev.Stage, env, u, approved)
	return d, true, err
}
