package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/freeze"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/text"
)

// GateLog keeps the production gate's decisions, for audit.
type GateLog interface {
	RecordDecision(ctx context.Context, d store.GateDecision) error
}

// StatusReader reads the status GitLab shows, so that the gate's words change
// when its reason does (showWait).
type StatusReader interface {
	LatestStatus(ctx context.Context, project, sha, name, ref string) (gitlab.Status, bool, error)
}

// Approver gives CodePipeline the gate's answer.
type Approver interface {
	Approve(ctx context.Context, a codepipeline.Approval) error
}

// Reviews are what GitLab says of a commit's merge requests and their approvals.
type Reviews interface {
	MergeRequestsOfCommit(ctx context.Context, project, sha string) ([]gitlab.MergeRequest, error)
	Approvals(ctx context.Context, project string, iid int64) (gitlab.Approvals, error)
	// GroupApprovers are the members of group whose approvals count
	// (production.approvers).
	GroupApprovers(ctx context.Context, group string) ([]string, error)
	// FreezePeriods are the project's deploy freeze periods (internal/freeze).
	FreezePeriods(ctx context.Context, project string) ([]freeze.Period, error)
}

// GateResult is one evaluation of a service's production gate.
type GateResult struct {
	Service     string `json:"service"`
	Pipeline    string `json:"pipeline"`
	ExecutionID string `json:"execution_id,omitempty"`
	Commit      string `json:"commit,omitempty"`
	// Verdict is wait, approve or reject (taken by CodePipeline); not waiting
	// when no execution waits at the approval action (any more), also when
	// CodePipeline refused the gate's answer because the approval it read no
	// longer waited for one.
	Verdict gate.Verdict `json:"verdict"`
	Reason  string       `json:"reason,omitempty"`
	Error   string       `json:"error,omitempty"`
}

// evaluateGate decides svc's production gate for the execution that waits at its
// approval action, and acts: approve or reject it in CodePipeline, or say on the
// stage's commit status what is missing. executionID names the execution the
// caller means; "" means whichever waits. stages is GetPipelineState's answer if
// the caller has just read it, else nil and it is read here: either way the gate
// knows which execution waits, with which token, right before deciding, so it
// never approves an execution other than the one whose commit it judged. trigger
// says what made it look, for the log and the audit record.
func (a *App) evaluateGate(ctx context.Context, svc routing.Service, executionID, trigger string, stages []codepipeline.StageState) (GateResult, error) {
	res := GateResult{Service: svc.Name, Pipeline: svc.Pipeline, ExecutionID: executionID}
	if stages == nil {
		cctx, cancel := a.call(ctx)
		var err error
		stages, err = a.Pipelines.State(cctx, svc.Pipeline)
		cancel()
		if err != nil {
			return res, inCodePipeline(fmt.Errorf("read state of %s: %w", svc.Pipeline, err))
		}
	}
	waiting, token, ok := codepipeline.Waiting(stages, svc.Production.Stage, svc.Production.ApprovalAction)
	if executionID == "" {
		executionID, res.ExecutionID = waiting, waiting
	}
	if !ok || waiting != executionID {
		res.Verdict, res.Reason = gate.NotWaiting, fmt.Sprintf("no execution waits at %s/%s", svc.Production.Stage, svc.Production.ApprovalAction)
		if ok {
			res.Reason = fmt.Sprintf("execution %s waits at %s/%s, not %s", waiting, svc.Production.Stage, svc.Production.ApprovalAction, executionID)
		}
		a.Log.Info("gate not waiting", "pipeline", svc.Pipeline, "execution_id", executionID, "waiting", waiting, "trigger", trigger)
		return res, nil
	}
	ex, err := a.execution(ctx, svc, executionID, time.Time{})
	if err != nil {
		return res, err
	}
	res.Commit = ex.CommitSHA
	p := svc.Production
	d, decided := gate.ByTrigger(ex.Trigger)
	if !decided {
		// The routed project's merge requests only: neither a payload nor a stored
		// record names the project whose reviews open this gate.
		mrs, err := a.mergeRequests(ctx, svc.Project, ex.CommitSHA)
		if err != nil {
			return res, err
		}
		policy := gate.Policy{
			MinApprovals: p.MinApprovals, AuthorCanApprove: p.AuthorCanApprove, NoMergeRequest: p.NoMergeRequest,
			Branch: branchOf(ex.Ref), Branches: svc.Branches, Approvers: p.Approvers,
		}
		if policy.Members, err = a.groupApprovers(ctx, gate.MembersNeeded(policy, mrs)); err != nil {
			return res, err // fails closed: nothing approved, the next evaluation reads again
		}
		d = gate.Decide(policy, ex.CommitSHA, mrs)
	}
	held := "waits for approval: "
	if d.Verdict == gate.Approve {
		// A freeze holds only what would deploy: a rejection still goes out.
		until, frozen, err := a.frozenUntil(ctx, svc.Project)
		if err != nil {
			return res, err // fails closed: nothing approved, the next evaluation reads again
		}
		if frozen != "" {
			d = gate.Decision{Verdict: gate.Wait, MergeRequest: d.MergeRequest, Missing: frozen}
			held = "held: "
			a.Log.Info("gate held by a deploy freeze", "pipeline", svc.Pipeline, "execution_id", executionID, "until", until.Format(time.RFC3339))
		}
	}
	res.Verdict = d.Verdict
	res.Reason = d.Missing
	if d.Verdict != gate.Wait {
		res.Reason = d.Summary
	}
	var iid int64
	if d.MergeRequest != nil {
		iid = d.MergeRequest.IID
	}
	a.Log.Info("gate decided", "pipeline", svc.Pipeline, "execution_id", executionID, "commit", ex.CommitSHA,
		"verdict", string(res.Verdict), "merge_request", iid, "approvers", strings.Join(d.Approvers, ","), "not_approvers", strings.Join(d.NotApprovers, ","), "reason", res.Reason, "trigger", trigger)
	if err := a.Store.RecordDecision(ctx, store.GateDecision{
		Pipeline: svc.Pipeline, ExecutionID: executionID, At: a.now(), Commit: ex.CommitSHA,
		MergeRequest: iid, Approvers: d.Approvers, Reason: res.Reason, Trigger: trigger, Verdict: string(res.Verdict),
	}); err != nil {
		// The audit trail must not lose a decision that acts: stop before acting.
		return res, inStore(fmt.Errorf("record gate decision for %s %s: %w", svc.Pipeline, executionID, err))
	}

	if d.Verdict == gate.Wait {
		_, state := d.Verdict.States()
		status := gitlab.Status{
			State:       state,
			Name:        progress.StatusName(svc.Pipeline, p.Stage),
			Ref:         gitlabhook.RefName(ex.Ref),
			TargetURL:   a.Pipelines.ExecutionURL(svc.Pipeline, executionID),
			Description: p.Stage + " " + held + d.Missing,
		}
		return res, a.showWait(ctx, svc, executionID, ex.CommitSHA, status)
	}

	// CodePipeline first: GitLab hears of an answer only once CodePipeline has
	// taken it (a token read a moment ago may be stale by now).
	answer := codepipeline.Approval{
		Pipeline: svc.Pipeline, Stage: p.Stage, Action: p.ApprovalAction, Token: token,
		Approved: d.Verdict == gate.Approve, Summary: d.Summary,
	}
	cctx, cancel := a.call(ctx)
	err = a.Pipelines.Approve(cctx, answer)
	cancel()
	if errors.Is(err, codepipeline.ErrApprovalGone) && a.tookOurs(ctx, svc, executionID, answer) {
		// The SDK asked again after a reply was lost; the first request landed.
		a.Log.Info("gate answer taken, its reply lost", "pipeline", svc.Pipeline, "execution_id", executionID, "error", err.Error())
		err = nil
	}
	if errors.Is(err, codepipeline.ErrApprovalGone) {
		// Answered already (by an earlier evaluation or a person in the console),
		// or timed out: what pipegate decided did not happen, so GitLab is told
		// nothing; the stage's own events say what did.
		res.Verdict, res.Reason = gate.NotWaiting, notTaken(d.Verdict)
		a.Log.Info("gate answer not taken", "pipeline", svc.Pipeline, "execution_id", executionID,
			"decided", d.Verdict.String(), "reason", res.Reason, "error", err.Error())
		return res, nil
	}
	if err != nil {
		return res, inCodePipeline(err)
	}
	a.Log.Info("gate answer taken", "pipeline", svc.Pipeline, "execution_id", executionID, "verdict", string(res.Verdict))
	a.postGateAnswer(ctx, svc, ex, executionID, d, approvalAsked(stages, p.Stage, p.ApprovalAction))
	return res, nil
}

// waitReplaced are the words of a wait status pipegate cancels to change them
// (showWait): GitLab shows them on the retried status, and a later evaluation
// knows its own cancel by them when the pending after it did not land.
const waitReplaced = "Replaced by the production gate's current reason"

// waitStep is what showing a wait takes, given what GitLab shows.
type waitStep int

const (
	waitShown   waitStep = iota // nothing to post
	waitPost                    // post the pending status
	waitReplace                 // cancel the pending status shown, then post
)

// nextWaitStep decides how to show want, the gate's wait status of an
// execution, over cur, the latest status of its name and ref that GitLab shows
// (found says there is one). GitLab keeps a pending status's words and refuses
// pending over pending or running (FACTS.md), and opens a new status over a
// finished one. So: pending with want's link and words, shown already; pending
// otherwise (other words, or another execution of the commit waiting before
// this one), replace; running or finished with want's link, the gate was
// answered meanwhile (another evaluation, the console) and this wait is stale;
// another execution's running stage holds the status until it finishes, and the
// reconciler's next evaluation shows the wait then; pipegate's own cancel whose
// pending did not land, another execution's finished status, or none: post.
// why says it for the log when nothing is posted.
func nextWaitStep(cur gitlab.Status, found bool, want gitlab.Status) (step waitStep, why string) {
	same := found && cur.TargetURL == want.TargetURL
	switch {
	case !found, cur.State == "canceled" && cur.Description == waitReplaced:
		return waitPost, ""
	case cur.State == "pending" && same && cur.Description == text.Truncate(want.Description, text.MaxDescription):
		return waitShown, "shown already"
	case cur.State == "pending":
		return waitReplace, ""
	case same:
		return waitShown, "the stage's status moved on: " + cur.State
	case cur.State == "running":
		return waitShown, "another execution of the commit runs the stage"
	}
	return waitPost, ""
}

// showWait makes the stage's status say why the gate waits, reading what
// GitLab shows first (nextWaitStep). A failed read, cancel or post is an error:
// retried, the next evaluation reads GitLab again, so the words are never left
// stale for good.
func (a *App) showWait(ctx context.Context, svc routing.Service, executionID, sha string, want gitlab.Status) error {
	cctx, cancel := a.call(ctx)
	cur, found, err := a.GitLab.LatestStatus(cctx, svc.Project, sha, want.Name, want.Ref)
	cancel()
	if err != nil {
		return inGitLab(err)
	}
	step, why := nextWaitStep(cur, found, want)
	switch step {
	case waitShown:
		if why != "shown already" {
			a.Log.Info("gate wait not shown", "pipeline", svc.Pipeline, "execution_id", executionID, "reason", why)
		}
		return nil
	case waitReplace:
		canceled := want
		canceled.State, canceled.Description, canceled.TargetURL = "canceled", waitReplaced, cur.TargetURL
		cctx, cancel := a.call(ctx)
		err := a.GitLab.SetStatus(cctx, svc.Project, sha, canceled)
		cancel()
		if err != nil {
			return inGitLab(fmt.Errorf("replace the words of %s: %w", want.Name, err))
		}
	}
	cctx, cancel = a.call(ctx)
	defer cancel()
	return inGitLab(a.GitLab.SetStatus(cctx, svc.Project, sha, want))
}

// tookOurs reports whether CodePipeline shows answer taken for executionID,
// reading its state again; a read that fails says no (the stage's own events
// still say what happened).
func (a *App) tookOurs(ctx context.Context, svc routing.Service, executionID string, answer codepipeline.Approval) bool {
	cctx, cancel := a.call(ctx)
	stages, err := a.Pipelines.State(cctx, svc.Pipeline)
	cancel()
	if err != nil {
		a.Log.Warn("gate answer not confirmed", "pipeline", svc.Pipeline, "execution_id", executionID, "error", err.Error())
		return false
	}
	return codepipeline.Took(stages, executionID, answer)
}

// notTaken is the gate's reason when CodePipeline refused its answer because
// the approval no longer waits for one.
func notTaken(v gate.Verdict) string {
	did := "approved"
	if v == gate.Reject {
		did = "rejected"
	}
	return "CodePipeline no longer waits for this approval (it was approved or rejected there already, or it timed out): pipegate " + did + " nothing"
}

// approvalAsked is when the approval action began to wait, by CodePipeline's
// clock (its lastStatusChange in GetPipelineState); zero when unknown. Every
// later event of the stage is at or after it.
func approvalAsked(stages []codepipeline.StageState, stage, action string) time.Time {
	for _, s := range stages {
		if s.Name != stage {
			continue
		}
		for _, act := range s.Actions {
			if act.Name == action {
				return act.Updated
			}
		}
	}
	return time.Time{}
}

// postGateAnswer shows in GitLab the answer CodePipeline has just taken: the
// stage runs on, approved (running, with the approval's summary), or it fails,
// rejected (failed, with the rejection's). Once approved, the stage may end and
// its event be posted before this status lands, which would reopen the stage in
// GitLab; so the answer goes through the stage status's record like the stage's
// own events (apply and post): written with a write conditional on the record's
// version, and posted by post, which posts the newer record again when a final
// state raced in. A record that already holds a final state of the execution is
// left alone. A failure costs only words, not production: the record stays
// unposted for the stage's next event or the reconciler, and a later final
// state replaces it anyway.
func (a *App) postGateAnswer(ctx context.Context, svc routing.Service, ex store.Execution, executionID string, d gate.Decision, asked time.Time) {
	stage := svc.Production.Stage
	key := statusKey(svc, ex.CommitSHA, ex.Ref, stage)
	state, _ := d.Verdict.States()
	u := progress.Update{ExecutionID: executionID, ExecutionStart: ex.StartedAt, State: state, At: asked}
	warn := func(msg string, err error) {
		a.Log.Warn(msg, "pipeline", svc.Pipeline, "status", key.Name, "commit", key.CommitSHA, "execution_id", executionID, "error", err.Error())
	}
	for range statusWriteAttempts {
		cur, _, err := a.Store.GetStatus(ctx, key)
		if err != nil {
			warn("gate status not recorded", err)
			return
		}
		rec, ok, why := gateRecord(cur, u)
		if !ok {
			a.Log.Info("gate status not posted", "pipeline", svc.Pipeline, "status", key.Name, "commit", key.CommitSHA,
				"execution_id", executionID, "kept_state", cur.State, "reason", why)
			return
		}
		rec.Key, rec.Ref, rec.Description, rec.Posted = key, gitlabhook.RefName(ex.Ref), d.Summary, false
		stored, err := a.Store.PutStatus(ctx, rec)
		if errors.Is(err, store.ErrConflict) {
			continue // an event of the stage was written in between: decide again
		}
		if err != nil {
			warn("gate status not recorded", err)
			return
		}
		a.recordResult(ctx, svc, stage, stored)
		if _, err := a.post(ctx, svc, stored, EventAnswer{}); err != nil {
			warn("gate status not posted", err)
		}
		return
	}
	warn("gate status not recorded", fmt.Errorf("still contended after %d attempts", statusWriteAttempts))
}

// gateRecord decides the stage status's record once CodePipeline took the gate's
// answer u (STARTED: approved, FAILED: rejected) for u's execution, from the
// record cur: ok is false when cur must stay (the stage ended already, or a newer
// execution owns the status), with why for the log. The caller sets the
// description and marks it unposted.
func gateRecord(cur store.Status, u progress.Update) (rec store.Status, ok bool, why string) {
	if cur.ExecutionID != u.ExecutionID {
		// No record of this execution yet (its stage event is late or lost), or one
		// of another: the ordering of executions decides, as for any event.
		next, changed, why := progress.Next(toProgress(cur), u)
		if !changed {
			return cur, false, why
		}
		return fromProgress(cur.Key, next, cur.Version), true, why
	}
	if progress.Final(glState(cur.State)) {
		return cur, false, "the stage has ended: its own state stands"
	}
	// The stage's own running state, which the gate held back while it waited:
	// its time and start stay, so that the stage's later events still follow it.
	rec = cur
	if gl, _ := progress.GitLabState(u.State); progress.Final(gl) {
		rec.State = progress.Normalize(u.State)
		if u.At.After(rec.At) {
			rec.At = u.At
		}
	}
	return rec, true, "answer taken"
}

// branchOf is the branch of a full ref (refs/heads/<branch>), "" for a tag or an
// unknown ref: the branch an execution pipegate started deploys.
func branchOf(ref string) string {
	b, ok := strings.CutPrefix(ref, gitlabhook.BranchRef)
	if !ok {
		return ""
	}
	return b
}

// mergeRequests asks GitLab for the merge requests of a commit and the approvals of
// each, as the gate reads them.
func (a *App) mergeRequests(ctx context.Context, project, sha string) ([]gate.MergeRequest, error) {
	cctx, cancel := a.call(ctx)
	list, err := a.GitLab.MergeRequestsOfCommit(cctx, project, sha)
	cancel()
	if err != nil {
		return nil, inGitLab(err)
	}
	out := make([]gate.MergeRequest, 0, len(list))
	for _, m := range list {
		cctx, cancel := a.call(ctx)
		ap, err := a.GitLab.Approvals(cctx, project, m.IID)
		cancel()
		if err != nil {
			return nil, inGitLab(err)
		}
		out = append(out, gate.MergeRequest{
			IID: m.IID, Title: m.Title, WebURL: m.WebURL, State: m.State, TargetBranch: m.TargetBranch, Author: m.Author,
			ApprovedBy: ap.ApprovedBy, ApprovalsRequired: ap.Required, ApprovalsLeft: ap.Left,
		})
	}
	return out, nil
}

// frozenUntil reads the project's deploy freeze periods and says whether one
// holds now: the words for the status ("deploy freeze until Mon 08:00 CET", in
// the period's own time zone) and the end, or "" when none holds. A period
// pipegate cannot read (GitLab down, a cron or zone it cannot parse) is an
// error: the gate stays shut rather than deploy into a freeze.
func (a *App) frozenUntil(ctx context.Context, project string) (time.Time, string, error) {
	cctx, cancel := a.call(ctx)
	periods, err := a.GitLab.FreezePeriods(cctx, project)
	cancel()
	if err != nil {
		return time.Time{}, "", inGitLab(err)
	}
	v, err := freeze.Active(periods, a.now())
	if err != nil {
		return time.Time{}, "", fmt.Errorf("judge the deploy freeze periods of %s: %w", project, err)
	}
	if !v.Frozen {
		return time.Time{}, "", nil
	}
	return v.Until, "deploy freeze until " + v.Until.Format("Mon 2 Jan 15:04 MST"), nil
}

// groupApprovers reads the members that count of each of groups, as the gate
// reads them.
func (a *App) groupApprovers(ctx context.Context, groups []string) (map[string][]string, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	out := make(map[string][]string, len(groups))
	for _, g := range groups {
		cctx, cancel := a.call(ctx)
		members, err := a.GitLab.GroupApprovers(cctx, g)
		cancel()
		if err != nil {
			return nil, inGitLab(err)
		}
		out[g] = members
	}
	return out, nil
}

// evaluateGates re-evaluates each of gates that waits: a merge request of their
// project was approved or merged. It finds them with GetPipelineState.
func (a *App) evaluateGates(ctx context.Context, gates []routing.Service, trigger string) ([]GateResult, error) {
	var out []GateResult
	var errs []error
	for _, svc := range gates {
		res, err := a.evaluateGate(ctx, svc, "", trigger, nil)
		if err != nil {
			res.Error = troubleWords(err) // the detail goes to the log with the answer
			errs = append(errs, fmt.Errorf("gate of %s: %w", svc.Pipeline, err))
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}
