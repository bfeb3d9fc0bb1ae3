package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// EventAnswer is what handling one EventBridge event did. Lambda keeps it as the
// invocation's result; the log has the same in its decision lines.
type EventAnswer struct {
	Result EventResult `json:"result"`
	// Gate is the gate's verdict, when Result is EventGate. In JSON it is part
	// of the result ("gate approve"), as it always was.
	Gate     gate.Verdict `json:"-"`
	Reason   string       `json:"reason,omitempty"`
	Pipeline string       `json:"pipeline,omitempty"`
	Status   string       `json:"status,omitempty"` // the commit status's name
	State    string       `json:"state,omitempty"`  // the GitLab state it shows
	Commit   string       `json:"commit,omitempty"`
	// Repaired counts the statuses a reconciler run posted.
	Repaired int `json:"repaired,omitempty"`
	// Resumed counts the deliveries a reconciler run finished for the webhook.
	Resumed int `json:"resumed,omitempty"`
	// Environment and Deployment: the GitLab deployment the event moved, and the
	// status pipegate wants it to show.
	Environment string `json:"environment,omitempty"`
	Deployment  string `json:"deployment,omitempty"`
}

// EventResult is what handling an event did, in the words of its answer.
type EventResult string

const (
	EventPosted     EventResult = "posted"     // a commit status went to GitLab
	EventUnchanged  EventResult = "unchanged"  // the status stands as it is
	EventIgnored    EventResult = "ignored"    // nothing to do
	EventReconciled EventResult = "reconciled" // a reconciler run
	EventGate       EventResult = "gate"       // the production gate was evaluated: see Gate
)

// MarshalJSON writes a gate's result as "gate <verdict>".
func (a EventAnswer) MarshalJSON() ([]byte, error) {
	type plain EventAnswer // without this method
	p := plain(a)
	if a.Result == EventGate {
		p.Result = EventGate + " " + EventResult(a.Gate)
	}
	return json.Marshal(p)
}

// Executions are what pipegate knows of the executions it has seen: the commit
// each runs and its ref and start (store.Execution).
type Executions interface {
	PutExecution(ctx context.Context, e store.Execution) (store.Execution, error)
	GetExecution(ctx context.Context, pipeline, id string) (store.Execution, bool, error)
}

// Statuses are the last state of each commit status, which orders CodePipeline's
// events (store.Status; writes are conditional on the record's version).
type Statuses interface {
	GetStatus(ctx context.Context, key store.StatusKey) (store.Status, bool, error)
	PutStatus(ctx context.Context, s store.Status) (store.Status, error)
}

// Runs reads CodePipeline's executions and their progress.
type Runs interface {
	ExecutionURL(pipeline, executionID string) string
	Execution(ctx context.Context, pipeline, id string) (codepipeline.Execution, error)
	Recent(ctx context.Context, pipeline string, n int) ([]codepipeline.Summary, error)
	State(ctx context.Context, pipeline string) ([]codepipeline.StageState, error)
	ActionExecutions(ctx context.Context, pipeline, executionID string) ([]codepipeline.ActionExecution, error)
}

// StatusPoster sets commit statuses in GitLab.
type StatusPoster interface {
	SetStatus(ctx context.Context, project, sha string, s gitlab.Status) error
}

// statusWriteAttempts bounds the read-decide-write loop on one status record: each
// conflict means another event for the same status was written in between, which
// settles quickly.
const statusWriteAttempts = 5

// PipelineEvent handles one event of the EventBridge rule (functions/pipeline-events):
// it carries out PlanEvent's plan: a CodePipeline state change becomes a commit
// status or a gate evaluation, a Scheduled Event runs the reconciler. Events it
// cannot use are answered without error: Lambda would only retry them. An error
// means AWS, GitLab or the store failed and a retry can help.
func (a *App) PipelineEvent(ctx context.Context, raw json.RawMessage) (EventAnswer, error) {
	plan := PlanEvent(a.Routes, raw)
	ans := EventAnswer{Pipeline: plan.Change.Pipeline}
	switch plan.Do {
	case Reconcile:
		return a.Reconcile(ctx)
	case EvaluateGate:
		res, err := a.evaluateGate(ctx, plan.Service, plan.Change.ExecutionID, "approval action started", nil)
		ans.Result, ans.Gate, ans.Reason, ans.Commit = EventGate, res.Verdict, res.Reason, res.Commit
		return ans, err
	case SetStatus, MoveDeployment:
		return a.stateChange(ctx, plan.Service, plan.Change, ans, plan.Do == SetStatus)
	}
	return a.ignore(ans, plan.Reason), nil
}

// stateChange carries a stage's or the pipeline's state to its commit status
// (when status) and to the stage's deployment, when it has one.
func (a *App) stateChange(ctx context.Context, svc routing.Service, ev progress.Event, ans EventAnswer, status bool) (EventAnswer, error) {
	// The execution's start orders it against others on the same commit: the event
	// says it when it carries start-time, else the event's own time stands for it.
	seen := ev.Started
	if seen.IsZero() {
		seen = ev.Time
	}
	ex, err := a.execution(ctx, svc, ev.ExecutionID, seen)
	if errors.Is(err, codepipeline.ErrNotFound) {
		return a.ignore(ans, err.Error()), nil
	}
	if err != nil {
		return ans, err
	}
	var serr error
	if status {
		ans, serr = a.apply(ctx, svc, ex, ev.Stage, progress.Update{
			ExecutionID:    ev.ExecutionID,
			ExecutionStart: ex.StartedAt,
			State:          ev.State,
			At:             ev.Time,
			Began:          knownStart(ev, ex),
		})
	} else {
		ans.Result, ans.Commit = EventUnchanged, ex.CommitSHA
	}
	// The deployment whatever the status did: each has its own record, and an
	// error in one must not keep the other from GitLab.
	d, moved, derr := a.deployEvent(ctx, svc, ex, ev)
	if moved {
		ans.Environment, ans.Deployment = d.Key.Environment, d.Want
		if !status && derr == nil && d.Posted == d.Want {
			ans.Result = EventPosted
		}
	}
	return ans, errors.Join(serr, derr)
}

// statusKey names the record that orders the commit status of stage ("" for the
// pipeline's own) on sha: per ref for a tag, shared by a commit's branch
// executions (progress.StatusRef).
func statusKey(svc routing.Service, sha, ref, stage string) store.StatusKey {
	return store.StatusKey{Project: svc.Project, CommitSHA: sha, Name: progress.StatusName(svc.Pipeline, stage), Ref: progress.StatusRef(ref)}
}

// ignore logs an event pipegate has no use for.
func (a *App) ignore(ans EventAnswer, reason string) EventAnswer {
	ans.Result, ans.Reason = EventIgnored, reason
	a.Log.Info("event ignored", "pipeline", ans.Pipeline, "reason", reason)
	return ans
}

// execution finds the commit an execution runs, and what started it: from the
// store when pipegate started it or has looked it up before, else from
// CodePipeline (an execution started in the console, by a retry, by another
// tool, or by the pipeline's creation), which is then kept. seen is when the
// caller saw the execution; it stands for the start time until a better one is
// known.
func (a *App) execution(ctx context.Context, svc routing.Service, id string, seen time.Time) (store.Execution, error) {
	ex, found, err := a.Store.GetExecution(ctx, svc.Pipeline, id)
	if err != nil {
		return ex, inStore(fmt.Errorf("look up execution %s of %s in the store: %w", id, svc.Pipeline, err))
	}
	// Nothing is in hand: completing the record means asking CodePipeline.
	if found && progress.Enough(known(ex), progress.Known{}) {
		if !seen.IsZero() && (ex.StartedAt.IsZero() || seen.Before(ex.StartedAt)) {
			// Events come out of order: the earliest seen is the best guess of the start.
			ex.StartedAt = seen
			if ex, err = a.Store.PutExecution(ctx, ex); err != nil {
				return ex, fmt.Errorf("record start of execution %s of %s: %w", id, svc.Pipeline, err)
			}
		}
		return ex, nil
	}
	cctx, cancel := a.call(ctx)
	got, err := a.Pipelines.Execution(cctx, svc.Pipeline, id)
	cancel()
	if err != nil {
		return ex, inCodePipeline(err)
	}
	if got.CommitSHA == "" {
		// The source action has not produced its revision yet; Lambda retries the
		// event in a minute or two, by when it has.
		return ex, fmt.Errorf("execution %s of %s has no source revision yet", id, svc.Pipeline)
	}
	ex, err = a.Store.PutExecution(ctx, store.Execution{
		Pipeline: svc.Pipeline, ID: id, Project: svc.Project, CommitSHA: got.CommitSHA, StartedAt: seen,
		Trigger: got.Trigger,
	})
	if err != nil {
		return ex, fmt.Errorf("record execution %s of %s: %w", id, svc.Pipeline, err)
	}
	a.Log.Info("execution looked up", "pipeline", svc.Pipeline, "execution_id", id, "commit", ex.CommitSHA, "trigger", ex.Trigger)
	return ex, nil
}

// apply decides what one update means for the status of stage ("" for the
// pipeline's own) on the execution's commit, records the decision, and posts it.
//
// The record is written before GitLab is told, with a conditional write on its
// version, so of two events racing for one status only the newer is ever posted
// last: see post.
func (a *App) apply(ctx context.Context, svc routing.Service, ex store.Execution, stage string, u progress.Update) (EventAnswer, error) {
	key := statusKey(svc, ex.CommitSHA, ex.Ref, stage)
	ans := EventAnswer{Pipeline: svc.Pipeline, Status: key.Name, Commit: key.CommitSHA}
	asked := false
	for range statusWriteAttempts {
		cur, _, err := a.Store.GetStatus(ctx, key)
		if err != nil {
			return ans, fmt.Errorf("read status %s of %s: %w", key.Name, key.CommitSHA, err)
		}
		next, changed, why := progress.Next(toProgress(cur), u)
		if changed && !asked && progress.NeedsStart(next) {
			// A success whose start pipegate never saw (events out of order). GitLab
			// keeps a description when the same state is posted again, so the
			// duration must be known now: CodePipeline is asked, once.
			asked = true
			if u.Began = a.began(ctx, svc, u.ExecutionID, stage); !u.Began.IsZero() {
				next, changed, why = progress.Next(toProgress(cur), u)
			}
		}
		if !changed {
			if cur.Version > 0 && !cur.Posted {
				// Written but never posted (GitLab failed, or that invocation died).
				return a.post(ctx, svc, cur, ans)
			}
			ans.Result, ans.Reason, ans.State = EventUnchanged, why, glState(cur.State)
			a.Log.Info("status unchanged", "pipeline", svc.Pipeline, "status", key.Name, "commit", key.CommitSHA,
				"execution_id", u.ExecutionID, "event_state", u.State, "kept_state", cur.State, "reason", why)
			return ans, nil
		}
		rec := fromProgress(key, next, cur.Version)
		rec.Ref = gitlabhook.RefName(ex.Ref)
		subject := stage
		if subject == "" {
			subject = svc.Pipeline
		}
		rec.Description = progress.Describe(subject, next, a.failure(ctx, svc.Pipeline, next, stage))
		deferred := progress.GateOwns(svc.Production, stage, next.State)
		if deferred {
			rec.Posted, rec.Description = true, stage+" waits for the production gate"
		}
		stored, err := a.Store.PutStatus(ctx, rec)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return ans, fmt.Errorf("record status %s of %s: %w", key.Name, key.CommitSHA, err)
		}
		a.recordResult(ctx, svc, stage, stored)
		a.Log.Info("status decided", "pipeline", svc.Pipeline, "status", key.Name, "commit", key.CommitSHA,
			"execution_id", rec.ExecutionID, "state", rec.State, "reason", why, "left_to_gate", deferred)
		if deferred {
			ans.Result, ans.Reason = EventUnchanged, "the production gate posts this status while it waits"
			return ans, nil
		}
		return a.post(ctx, svc, stored, ans)
	}
	return ans, fmt.Errorf("record status %s of %s: still contended after %d attempts", key.Name, key.CommitSHA, statusWriteAttempts)
}

// failure asks CodePipeline why a failed execution or stage failed, for the
// status's description. It is best effort: the status matters more than its words.
func (a *App) failure(ctx context.Context, pipeline string, s progress.Status, stage string) string {
	if gl, _ := progress.GitLabState(s.State); gl != "failed" {
		return ""
	}
	cctx, cancel := a.call(ctx)
	defer cancel()
	stages, err := a.Pipelines.State(cctx, pipeline)
	if err != nil {
		a.Log.Warn("failure summary unavailable", "pipeline", pipeline, "execution_id", s.ExecutionID, "error", err.Error())
		return ""
	}
	return codepipeline.FailureSummary(stages, s.ExecutionID, stage)
}

// post tells GitLab what rec says, then marks rec posted with a write conditional
// on its version. When that write loses to a different decision, the two may have
// reached GitLab in either order; so the newer one is posted again, until a post
// is followed by a successful mark or by the same decision marked by someone else.
// A repeated state is harmless: GitLab answers it with "Cannot transition status".
func (a *App) post(ctx context.Context, svc routing.Service, rec store.Status, ans EventAnswer) (EventAnswer, error) {
	posted := false
	for range statusWriteAttempts {
		if posted {
			if err := a.markPosted(ctx, rec); !errors.Is(err, store.ErrConflict) {
				return ans, err
			}
			cur, _, err := a.Store.GetStatus(ctx, rec.Key)
			if err != nil {
				return ans, fmt.Errorf("read status %s of %s: %w", rec.Key.Name, rec.Key.CommitSHA, err)
			}
			if sameDecision(cur, rec) {
				if cur.Posted {
					return ans, nil
				}
				rec = cur // a rewrite of the same decision: GitLab has it, mark again
				continue
			}
			rec = cur
		}
		state := glState(rec.State)
		cctx, cancel := a.call(ctx)
		err := a.GitLab.SetStatus(cctx, rec.Key.Project, rec.Key.CommitSHA, gitlab.Status{
			State:       state,
			Name:        rec.Key.Name,
			Ref:         rec.Ref,
			TargetURL:   a.Pipelines.ExecutionURL(svc.Pipeline, rec.ExecutionID),
			Description: rec.Description,
		})
		cancel()
		if err != nil {
			// The record stays unposted: Lambda's retry of this event, a later event or
			// the reconciler posts it.
			return ans, fmt.Errorf("post status %s of %s: %w", rec.Key.Name, rec.Key.CommitSHA, err)
		}
		a.Log.Info("status posted", "pipeline", svc.Pipeline, "status", rec.Key.Name, "commit", rec.Key.CommitSHA,
			"execution_id", rec.ExecutionID, "state", state, "description", rec.Description)
		ans.Result, ans.State, ans.Reason = EventPosted, state, ""
		posted = true
	}
	return ans, fmt.Errorf("post status %s of %s: still contended after %d attempts", rec.Key.Name, rec.Key.CommitSHA, statusWriteAttempts)
}

// markPosted records that GitLab has rec. Only ErrConflict matters to the caller:
// any other failure leaves a record that the next event or the reconciler posts
// again, harmlessly.
func (a *App) markPosted(ctx context.Context, rec store.Status) error {
	rec.Posted = true
	_, err := a.Store.PutStatus(ctx, rec)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		a.Log.Warn("status posted but not recorded", "status", rec.Key.Name, "commit", rec.Key.CommitSHA, "error", err.Error())
		return nil
	}
	return err
}

// sameDecision reports whether two records say the same thing to GitLab.
func sameDecision(a, b store.Status) bool {
	return a.ExecutionID == b.ExecutionID && a.State == b.State && a.At.Equal(b.At)
}

func glState(cpState string) string {
	s, _ := progress.GitLabState(cpState)
	return s
}

// known is what a record says of its execution, as progress.Enough weighs it.
func known(ex store.Execution) progress.Known {
	return progress.Known{Commit: ex.CommitSHA, Ref: ex.Ref, Trigger: ex.Trigger, Started: ex.StartedAt}
}

func toProgress(s store.Status) progress.Status {
	return progress.Status{
		ExecutionID:    s.ExecutionID,
		ExecutionStart: s.ExecutionStart,
		State:          s.State,
		At:             s.At,
		Began:          s.Began,
	}
}

func fromProgress(key store.StatusKey, s progress.Status, version int64) store.Status {
	return store.Status{
		Key:            key,
		ExecutionID:    s.ExecutionID,
		ExecutionStart: s.ExecutionStart,
		State:          s.State,
		At:             s.At,
		Began:          s.Began,
		Version:        version,
	}
}
