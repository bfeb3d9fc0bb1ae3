package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// Answer is the JSON body of every webhook response: what was started, what was
// skipped and why. GitLab shows it under the hook's "Recent events".
type Answer struct {
	Result   Result         `json:"result"`
	Delivery string         `json:"delivery,omitempty"`
	Event    string         `json:"event,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Started  []Started      `json:"started,omitempty"`
	Skipped  []routing.Skip `json:"skipped,omitempty"`
	// Gates are the production gates a merge request event re-evaluated.
	Gates []GateResult `json:"gates,omitempty"`
	Error string       `json:"error,omitempty"`
}

// Result is what the webhook did with a delivery, in the words of its answer.
type Result string

const (
	ResultStarted   Result = "started"   // it started pipelines
	ResultEvaluated Result = "evaluated" // it evaluated production gates
	ResultIgnored   Result = "ignored"   // nothing to do
	ResultDuplicate Result = "duplicate" // another invocation has (had) this delivery
	ResultQueued    Result = "queued"    // to be finished from the retry queue
	ResultRefused   Result = "refused"   // not a delivery pipegate takes
	ResultFailed    Result = "failed"    // not finished, nor queued
)

// Claims make one delivery's work run once (store.Claim).
type Claims interface {
	Claim(ctx context.Context, key string, lease time.Duration) (store.Claim, error)
	Finish(ctx context.Context, key, owner string) error
	Release(ctx context.Context, key, owner string) error
}

// Pending are the deliveries whose work is not known to be finished (see
// store.Pending); the reconciler resumes them.
type Pending interface {
	PutPending(ctx context.Context, p store.Pending) error
	DeletePending(ctx context.Context, key string) error
	// GetPending is the record of one delivery: a push the reconciler found
	// and has not finished starting (missed.go).
	GetPending(ctx context.Context, key string) (store.Pending, bool, error)
	Pendings(ctx context.Context, before time.Time, limit int) ([]store.Pending, error)
}

// Response is an HTTP status and its JSON answer.
type Response struct {
	Status int
	Answer Answer
}

// JSON is the response body.
func (r Response) JSON() []byte {
	b, _ := json.Marshal(r.Answer) // Answer has only strings and slices of them
	return b
}

// Webhook handles one GitLab delivery, as the table of docs/webhook.md says. GitLab disables a hook after 4 failed deliveries in a row,
// so every authenticated, well-formed delivery gets a 2xx, even when it is ignored
// or its work has to be finished later from the retry queue.
func (a *App) Webhook(ctx context.Context, h http.Header, body []byte) Response {
	// With a signing secret the Standard Webhooks signature is required; the token is
	// checked as well whenever one is configured (docs/webhook.md, "Signed deliveries").
	if err := gitlabhook.Verify(h, body, a.Secret, a.SigningSecret, a.now()); err != nil {
		reason := err.Error() // gitlabhook's refusals are worded for the GitLab user
		logged := reason
		if a.Secret == "" && a.SigningSecret == "" {
			logged = "no webhook secret configured (WEBHOOK_SECRET or WEBHOOK_SECRET_ID): refusing every delivery"
		}
		a.Log.Warn("webhook refused", "status", http.StatusUnauthorized, "reason", logged)
		return Response{http.StatusUnauthorized, Answer{Result: ResultRefused, Reason: reason}}
	}
	ev, err := gitlabhook.Decode(h, body)
	ans := Answer{Delivery: ev.Key, Event: ev.Event}
	if err != nil {
		a.Log.Warn("webhook refused", "status", http.StatusBadRequest, "delivery", ev.Key, "event", ev.Event, "reason", err.Error())
		ans.Result, ans.Reason = ResultRefused, err.Error()
		return Response{http.StatusBadRequest, ans}
	}
	return a.dispatch(ctx, ev, ans)
}

func (a *App) dispatch(ctx context.Context, ev gitlabhook.Event, ans Answer) Response {
	plan := PlanWebhook(a.Routes, ev)
	switch ev.Kind {
	case gitlabhook.PushKind:
		resp := a.push(ctx, ev, plan, ans)
		a.noteDelivered(ctx, ev.Push, resp.Status) // missed.go
		return resp
	case gitlabhook.MergeRequestKind:
		if plan.Do == EvaluateGates {
			return a.mergeRequest(ctx, ev, plan, ans)
		}
	}
	ans.Result, ans.Reason = ResultIgnored, plan.Reason
	a.Log.Info("webhook ignored", "delivery", ev.Key, "event", ev.Event, "reason", ans.Reason)
	return Response{http.StatusOK, ans}
}

// push carries out the plan of a push: it records and claims the delivery, and
// runs it: started pipelines and pending statuses, or the retry queue for what
// AWS or GitLab would not do now.
func (a *App) push(ctx context.Context, ev gitlabhook.Event, plan WebhookPlan, ans Answer) Response {
	p, r := ev.Push, plan.Routing
	if plan.Do == Ignore {
		ans.Result, ans.Reason, ans.Skipped = ResultIgnored, plan.Reason, r.Skipped
		a.Log.Info("push ignored", "delivery", ev.Key, "project", p.Project, "ref", p.Ref,
			"reason", ans.Reason, skippedAttrs(r.Skipped))
		return Response{http.StatusOK, ans}
	}
	job := newJob(ev.Delivery, p, r)

	// The pending record comes first: whatever becomes of this invocation from
	// here on (a crash, a timeout, a write whose answer is lost), the reconciler
	// finds the work and finishes it, without GitLab's help. When the store
	// fails, the job goes to the retry queue, whose consumer claims it there.
	if err := a.putPending(ctx, job); err != nil {
		return a.toQueue(ctx, job, ans, nil, err)
	}
	// The claim makes concurrent and repeated deliveries of one event start
	// nothing twice.
	claim, err := a.Store.Claim(ctx, ev.Key, a.lease())
	if err != nil {
		return a.toQueue(ctx, job, ans, nil, inStore(fmt.Errorf("claim delivery: %w", err)))
	}
	switch claim.State {
	case store.Busy, store.Done:
		ans.Result = ResultDuplicate
		ans.Reason = "this delivery was already received"
		if claim.State == store.Busy {
			ans.Reason = "this delivery is being handled by another invocation"
		} else {
			a.dropPending(ctx, ev.Key) // the record this delivery wrote again
		}
		a.Log.Info("delivery duplicate", "delivery", ev.Key, "state", claim.State.String())
		return Response{http.StatusOK, ans}
	}

	wctx, cancel := context.WithTimeout(ctx, a.budget())
	out, err := a.run(wctx, job, r, claim.Retry)
	cancel()
	ans.Started, ans.Skipped, ans.Reason = out.Started, out.Skipped, out.Reason
	if err != nil {
		return a.toQueue(ctx, job, ans, &claim, err)
	}
	a.finish(ctx, ev.Key, claim.Owner)
	ans.Result = ResultStarted
	switch {
	case len(out.Started) == 0 && out.AsMissed > 0:
		ans.Result = ResultDuplicate
		ans.Reason = "pipegate had started this push already: GitLab had not delivered it, and pipegate's reconciler found it on the branch"
	case len(out.Started) == 0:
		ans.Result = ResultIgnored
	}
	a.Log.Info("push handled", "delivery", ev.Key, "project", p.Project, "ref", p.Ref,
		"commit", p.CommitSHA, "started", len(out.Started), skippedAttrs(out.Skipped))
	return Response{http.StatusOK, ans}
}

// mergeRequest re-evaluates the waiting production gates of the merge request's
// project. Evaluating twice is harmless (approving twice is not an error), so
// there is no claim; what fails goes to the retry queue, and the reconciler
// evaluates waiting gates every few minutes anyway.
func (a *App) mergeRequest(ctx context.Context, ev gitlabhook.Event, plan WebhookPlan, ans Answer) Response {
	m := ev.MergeRequest
	wctx, cancel := context.WithTimeout(ctx, a.budget())
	results, err := a.evaluateGates(wctx, plan.Gates, fmt.Sprintf("merge request !%d %s", m.IID, m.Action))
	cancel()
	ans.Gates = results
	if err != nil {
		return a.toQueue(ctx, &Job{Delivery: ev.Delivery, MergeRequest: m}, ans, nil, err)
	}
	ans.Result = ResultEvaluated
	if len(results) == 0 {
		ans.Result, ans.Reason = ResultIgnored, plan.Reason
	}
	a.Log.Info("merge request handled", "delivery", ev.Key, "project", m.Project, "merge_request", m.IID,
		"action", m.Action, "gates", len(results))
	return Response{http.StatusOK, ans}
}

// toQueue puts an unfinished job on the retry queue and answers 202. Without a
// queue, or when the queue fails too, it answers 503. Either way the claim is
// given back first, so that the consumer (or GitLab's "Resend request") can take
// it at once; nothing depends on that release, which may fail like anything
// else: the pending record keeps the work for the reconciler.
func (a *App) toQueue(ctx context.Context, job *Job, ans Answer, claim *store.Claim, cause error) Response {
	// What is left gets its own time: the work may have used up the budget.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.queueBudget())
	defer cancel()
	if claim != nil {
		a.release(qctx, job.Delivery.Key, claim.Owner)
	}
	what := "push"
	if job.MergeRequest != nil {
		what = "merge request"
	}
	ans.Error = troubleWords(cause)
	qerr := errors.New("no retry queue configured (RETRY_QUEUE_URL)")
	if a.Queue != nil {
		qerr = a.enqueue(qctx, job)
	}
	if qerr != nil {
		a.Log.Error(what+" failed", "status", http.StatusServiceUnavailable, "delivery", job.Delivery.Key,
			"error", cause.Error(), "queue_error", qerr.Error())
		ans.Result = ResultFailed
		ans.Error = troubleWords(errors.Join(cause, inQueue(qerr)))
		ans.Reason = fmt.Sprintf("pipegate could not finish delivery %s now, nor queue it for a retry; "+
			"it will finish it from its own record at its next reconcile (every 5 minutes), or when GitLab resends it", job.Delivery.Key)
		return Response{http.StatusServiceUnavailable, ans}
	}
	a.Log.Warn(what+" queued for retry", "status", http.StatusAccepted, "delivery", job.Delivery.Key, "error", cause.Error())
	ans.Result = ResultQueued
	ans.Reason = fmt.Sprintf("pipegate queued delivery %s and will finish it when %s answers again; there is no need to resend it",
		job.Delivery.Key, troubleSubject(cause))
	return Response{http.StatusAccepted, ans}
}

func (a *App) enqueue(ctx context.Context, job *Job) error {
	body, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	if err := a.Queue.Send(ctx, body); err != nil {
		return fmt.Errorf("queue job: %w", err)
	}
	return nil
}

// putPending records the job as not finished (see store.Pending).
func (a *App) putPending(ctx context.Context, job *Job) error {
	body, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	if err := a.Store.PutPending(ctx, store.Pending{Key: job.Delivery.Key, Job: body}); err != nil {
		return inStore(err)
	}
	return nil
}

// finish marks a delivery done and drops its pending record. A failure of
// either costs at most a later look by the reconciler, which finds the work done
// (start records, CodePipeline's request token) and drops the record then.
func (a *App) finish(ctx context.Context, key, owner string) {
	if err := a.Store.Finish(ctx, key, owner); err != nil {
		a.Log.Warn("delivery not marked done", "delivery", key, "error", err.Error())
		return
	}
	a.dropPending(ctx, key)
}

// dropPending deletes the pending record of a delivery that is done.
func (a *App) dropPending(ctx context.Context, key string) {
	if err := a.Store.DeletePending(ctx, key); err != nil {
		a.Log.Warn("pending record not dropped", "delivery", key, "error", err.Error())
	}
}

// release gives a claim back, on a deadline of its own inside ctx's.
func (a *App) release(ctx context.Context, key, owner string) {
	rctx, cancel := context.WithTimeout(ctx, a.callTimeout()/2)
	defer cancel()
	if err := a.Store.Release(rctx, key, owner); err != nil {
		a.Log.Warn("claim not released", "delivery", key, "error", err.Error(),
			"consequence", "the next attempt waits for the claim's lease to run out")
	}
}
