package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/missed"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// Pushes GitLab did not deliver (docs/statuses.md): GitLab sends no push hook
// for a push of more than three refs at once, nothing while it has disabled the
// hook, and nothing it lost in an outage. The reconciler reads the head of each
// branch the routing file names literally and starts, once, what no delivery
// brought.

// Heads are the branch heads pipegate knows (store.Head).
type Heads interface {
	NoteHead(ctx context.Context, project, branch, commit string) error
	GetHead(ctx context.Context, project, branch string) (store.Head, bool, error)
	HeadSeen(ctx context.Context, project, branch, commit string) (bool, error)
	PutCandidate(ctx context.Context, project, branch, commit string) error
}

// Branches reads a branch's head commit (gitlab.Client).
type Branches interface {
	BranchHead(ctx context.Context, project, branch string) (gitlab.Head, bool, error)
}

const (
	// MaxBranchesPerRun bounds the GitLab calls one run makes for missed pushes
	// (one per branch, and a compare per push it starts), well inside GitLab.com's
	// rate limits; with more watched branches, runs take turns over them.
	MaxBranchesPerRun = 50
	// MissedGrace is how long a head no delivery brought waits before pipegate
	// starts it: at least one reconciler run, so a delivery that is merely late
	// (GitLab's queues lag in incidents) is not raced by a second start.
	MissedGrace = 2 * time.Minute
)

// MissedKey is the delivery key of the push to branch that GitLab did not
// deliver: the same head gives the same key, so the claim and the start records
// start it once, whichever run gets there.
func MissedKey(project, branch, head string) string {
	return "missed-" + project + "-" + branch + "-" + head
}

// startMissed is the reconciler's look at the watched branches' heads.
func (a *App) startMissed(ctx context.Context) error {
	watched := a.Routes.Watched()
	if n := len(watched); n > MaxBranchesPerRun {
		// Each run starts where the clock says, so every branch gets its turn.
		off := int(a.now().Unix()/int64(5*time.Minute/time.Second)) % n
		watched = append(watched[off:], watched[:off]...)[:MaxBranchesPerRun]
		a.Log.Warn("missed pushes: more branches than one run reads", "branches", n, "read", MaxBranchesPerRun)
	}
	var errs []error
	for i, w := range watched {
		if d, ok := ctx.Deadline(); ok && time.Until(d) < a.budget() {
			break // the next run takes the rest
		}
		err := a.missedBranch(ctx, w)
		if gitlab.RateLimited(err) {
			// Not a failure of the run: Lambda would retry the schedule into the
			// same limit. What this run did not read, the next one does; a push
			// half started is kept by its pending record.
			attrs := []any{"project", w.Project, "branch", w.Branch, "unread", len(watched) - i - 1, "error", err.Error()}
			if reset, ok := gitlab.RateLimitReset(err); ok {
				attrs = append(attrs, "reset", reset.UTC().Format(time.RFC3339))
			}
			a.Log.Warn("missed pushes: GitLab rate limit reached, the next run goes on", attrs...)
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("look for missed pushes to %s of %s: %w", w.Branch, w.Project, err))
		}
	}
	return errors.Join(errs...)
}

// missedBranch reads w's head and carries out missed.Decide.
func (a *App) missedBranch(ctx context.Context, w routing.Watched) error {
	cctx, cancel := a.call(ctx)
	head, found, err := a.GitLab.BranchHead(cctx, w.Project, w.Branch)
	cancel()
	if err != nil {
		return inGitLab(err)
	}
	known, _, err := a.Store.GetHead(ctx, w.Project, w.Branch)
	if err != nil {
		return inStore(err)
	}
	in := missed.Input{Known: known.Commit, Candidate: known.Candidate, CandidateAt: known.CandidateAt, Now: a.now(), Grace: MissedGrace}
	if found {
		in.Head = head.Commit
	}
	log := a.Log.With("project", w.Project, "branch", w.Branch, "head", in.Head, "known", in.Known)
	for {
		v := missed.Decide(in)
		switch v {
		case missed.Gone, missed.Unchanged:
			return nil
		case missed.AskDelivered:
			seen, err := a.Store.HeadSeen(ctx, w.Project, w.Branch, head.Commit)
			if err != nil {
				return inStore(err)
			}
			in.Delivered = fact(seen)
			continue
		case missed.AskRan:
			ran, err := a.ranCommit(ctx, w, head.Commit)
			if err != nil {
				return err
			}
			in.Ran = fact(ran)
			continue
		case missed.Wait:
			log.Info("missed push waits", "verdict", string(v), "reason", "no delivery brought the head yet; started at a later run unless one does")
			if err := a.Store.PutCandidate(ctx, w.Project, w.Branch, head.Commit); err != nil {
				return inStore(err)
			}
			return nil
		case missed.Start:
			return a.startMissedPush(ctx, w, known.Commit, head)
		}
		// Baseline, Known: the head is known from now on; nothing starts.
		log.Info("branch head noted", "verdict", string(v))
		if err := a.Store.NoteHead(ctx, w.Project, w.Branch, head.Commit); err != nil {
			return inStore(err)
		}
		return nil
	}
}

func fact(b bool) missed.Fact {
	if b {
		return missed.Yes
	}
	return missed.No
}

// ranCommit reports whether a recent execution of w's pipelines ran commit:
// started by other means (CodePipeline's console, its own GitLab connection).
func (a *App) ranCommit(ctx context.Context, w routing.Watched, commit string) (bool, error) {
	var seen []string
	for _, s := range w.Services {
		if slices.Contains(seen, s.Pipeline) {
			continue
		}
		seen = append(seen, s.Pipeline)
		cctx, cancel := a.call(ctx)
		recent, err := a.Pipelines.Recent(cctx, s.Pipeline, ReconcileDepth)
		cancel()
		if err != nil {
			return false, inCodePipeline(fmt.Errorf("list executions of %s: %w", s.Pipeline, err))
		}
		if slices.ContainsFunc(recent, func(r codepipeline.Summary) bool { return r.CommitSHA == commit }) {
			return true, nil
		}
	}
	return false, nil
}

// startMissedPush routes head as a push to w from before, as the webhook would
// have, and starts what matches through the webhook's own records: the pending
// record first, then the claim and the start records (resume), so that a crash
// anywhere is finished by a later run and nothing starts twice.
func (a *App) startMissedPush(ctx context.Context, w routing.Watched, before string, head gitlab.Head) error {
	p := gitlabhook.Push{
		Project: w.Project, Ref: gitlabhook.BranchRef + w.Branch,
		Before: before, After: head.Commit, CommitSHA: head.Commit, HeadMessage: head.Message,
	}
	if id, err := strconv.ParseInt(w.Project, 10, 64); err == nil {
		p.ProjectID = id
	}
	key := MissedKey(w.Project, w.Branch, head.Commit)
	r := a.Routes.Match(&p)
	if len(r.Targets) == 0 && !r.NeedPaths {
		a.Log.Info("missed push ignored", "delivery", key, "project", w.Project, "branch", w.Branch,
			"commit", head.Commit, "reason", r.Reason, skippedAttrs(r.Skipped))
		return a.noteHead(ctx, w, head.Commit)
	}
	job := newJob(gitlabhook.Delivery{Event: "Push Hook", Key: key}, &p, r)
	job.Missed = true
	if err := a.putPending(ctx, job); err != nil {
		return err
	}
	// The pending record holds the work now: the head is known, whatever happens next.
	if err := a.noteHead(ctx, w, head.Commit); err != nil {
		a.Log.Warn("missed push: head not noted", "delivery", key, "error", err.Error(),
			"consequence", "the next run finds the same push and its delivery done")
	}
	a.Log.Info("missed push found", "delivery", key, "project", w.Project, "branch", w.Branch,
		"before", before, "commit", head.Commit)
	wctx, cancel := context.WithTimeout(ctx, a.budget())
	defer cancel()
	if err := a.resume(wctx, job, "reconciler (push GitLab did not deliver)"); err != nil && !errors.Is(err, errBusy) {
		return err // the pending record keeps it for the next run
	}
	return nil
}

// startedAsMissed tells a delivery that came after the reconciler had found
// its push as one GitLab did not deliver (a delivery GitLab held back, say):
// the two keys differ, so neither the claim nor CodePipeline's request token
// would stop a second run. It looks up, under the key the reconciler used, for
// a branch it watches, first the reconciler's pending record (the reconciler
// is starting it, or died doing so: a later run finishes it) and then its start,
// and returns the skip the answer shows instead, or nil when s is this
// delivery's to start, with the key to start it under. The pending record is
// read first: the reconciler drops it only after its start is recorded, so one
// of the two is always seen.
//
// A pending record whose routing still waits for the changed paths may not
// name s in the end: the reconciler compares from the last head pipegate knew,
// and commits between that head and this delivery's before may undo what they
// changed (a revert), so that its compare misses s while this delivery's shows
// it. The delivery then starts s itself, under the reconciler's key: its start
// record and request token are the reconciler's, so whichever of the two comes
// second finds the start and starts nothing more.
func (a *App) startedAsMissed(ctx context.Context, job *Job, s routing.Service) (skip *routing.Skip, as string, err error) {
	p := &job.Push
	as = job.Delivery.Key
	if job.Missed || p.Tag {
		return nil, as, nil
	}
	if k, ok := job.StartAs[s.Name]; ok {
		return nil, k, nil // decided by an earlier run of this job
	}
	w, ok := a.watchedBy(s, p.RefName())
	if !ok {
		return nil, as, nil // a branch the reconciler does not read: it started nothing
	}
	key := MissedKey(w.Project, w.Branch, p.CommitSHA)
	pending, found, err := a.Store.GetPending(ctx, key)
	if err != nil {
		return nil, as, inStore(fmt.Errorf("look up the reconciler's pending start of %s: %w", s.Pipeline, err))
	}
	starting := false
	if found {
		routed, names := reconcilerStarts(pending, s.Name)
		if !routed {
			// Kept with the job first: once the reconciler drops its pending
			// record, nothing else would tell a retry of this delivery that the
			// start under key is its own (its status to post) or that a start
			// whose answer was lost must be asked for again under key.
			if job.StartAs == nil {
				job.StartAs = map[string]string{}
			}
			job.StartAs[s.Name] = key
			if err := a.putPending(ctx, job); err != nil {
				delete(job.StartAs, s.Name)
				return nil, as, fmt.Errorf("keep the start of %s under the reconciler's key: %w", s.Pipeline, err)
			}
			return nil, key, nil
		}
		starting = names
	}
	st, started, err := a.Store.GetStart(ctx, key, s.Pipeline)
	if err != nil {
		return nil, as, inStore(fmt.Errorf("look up the reconciler's start of %s: %w", s.Pipeline, err))
	}
	switch {
	case started:
		a.Log.Info("pipeline already started for a push GitLab had not delivered", "delivery", job.Delivery.Key,
			"started_as", key, "service", s.Name, "pipeline", s.Pipeline, "execution_id", st.ExecutionID, "commit", p.CommitSHA)
		return &routing.Skip{Service: s.Name, Reason: fmt.Sprintf(
			"pipegate started %s at this commit already (execution %s): GitLab had not delivered this push, and pipegate's reconciler found it on the branch",
			s.Pipeline, st.ExecutionID)}, as, nil
	case starting:
		a.Log.Info("pipeline being started for a push GitLab had not delivered", "delivery", job.Delivery.Key,
			"started_as", key, "service", s.Name, "pipeline", s.Pipeline, "commit", p.CommitSHA)
		return &routing.Skip{Service: s.Name, Reason: fmt.Sprintf(
			"pipegate's reconciler is starting %s at this commit: GitLab had not delivered this push, and the reconciler found it on the branch",
			s.Pipeline)}, as, nil
	}
	return nil, as, nil
}

// reconcilerStarts reads the reconciler's pending job: whether its routing is
// decided, and if so whether it starts service. A record that cannot be read
// counts as decided without service: the reconciler drops it unstarted, so
// this delivery starts the service under its own key.
func reconcilerStarts(p store.Pending, service string) (routed, names bool) {
	var job Job
	if err := json.Unmarshal(p.Job, &job); err != nil {
		return true, false
	}
	return job.Routed, job.Routed && slices.Contains(job.Targets, service)
}

// watchedBy is the watched branch through which the reconciler reads s's
// branch, if it does: its project is spelled as the first service of that
// project names it, which is what MissedKey was given.
func (a *App) watchedBy(s routing.Service, branch string) (routing.Watched, bool) {
	for _, w := range a.Routes.Watched() {
		if w.Branch == branch && slices.ContainsFunc(w.Services, func(o routing.Service) bool { return o.Name == s.Name }) {
			return w, true
		}
	}
	return routing.Watched{}, false
}

func (a *App) noteHead(ctx context.Context, w routing.Watched, commit string) error {
	if err := a.Store.NoteHead(ctx, w.Project, w.Branch, commit); err != nil {
		return inStore(err)
	}
	return nil
}

// noteDelivered records the head a delivered push moved a watched branch to,
// whatever the webhook made of it (started, skipped, queued), so that the
// reconciler never starts it. A push whose work is neither done nor queued
// (a 5xx) is not noted: if GitLab gives up on it, the reconciler starts it.
func (a *App) noteDelivered(ctx context.Context, p *gitlabhook.Push, status int) {
	if p == nil || p.Tag || p.Deleted() || p.After == "" || status >= http.StatusInternalServerError {
		return
	}
	for _, w := range a.Routes.WatchedOf(p.Project, p.ProjectID, p.RefName()) {
		cctx, cancel := a.call(context.WithoutCancel(ctx))
		err := a.Store.NoteHead(cctx, w.Project, w.Branch, p.After)
		cancel()
		if err != nil {
			a.Log.Warn("delivered head not noted", "project", w.Project, "branch", w.Branch, "commit", p.After,
				"error", err.Error(), "consequence", "the reconciler looks at this push again: it finds the execution it started, or routes it as the webhook did")
		}
	}
}
