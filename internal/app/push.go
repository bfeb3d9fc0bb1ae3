package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// Job is a push whose work is not finished: the webhook records it before it
// claims the delivery (the store's pending record) and queues it when AWS or
// GitLab keep failing; the retry consumer and the reconciler run it again.
// Running a job twice is safe: pipelines already started are not started again.
//
// A job carries the routing decision, not the payload: a push of 20,000 files
// must not outgrow SQS's 256 KB message or DynamoDB's 400 KB item.
type Job struct {
	Delivery gitlabhook.Delivery `json:"delivery"`
	// Push is the push without its changed paths and commit message: routing is
	// decided already (Targets), or needs GitLab's compare anyway.
	Push gitlabhook.Push `json:"push"`
	// Targets name the services the push starts, when Routed; otherwise routing
	// waits for the changed paths from GitLab's compare API.
	Targets []string `json:"targets,omitempty"`
	Routed  bool     `json:"routed,omitempty"`
	// MergeRequest, when set, makes this the re-evaluation of its project's
	// production gates instead of a push.
	MergeRequest *gitlabhook.MergeRequest `json:"merge_request,omitempty"`
	// Missed says the reconciler found the push, which GitLab did not deliver
	// (missed.go); its pending status says so.
	Missed bool `json:"missed,omitempty"`
	// StartAs names, by service, the reconciler's key under which this delivery
	// starts a pipeline (startedAsMissed), kept with the job before the start so
	// that a retry or a resume after a crash uses the same key and request
	// token, whatever became of the reconciler's records meanwhile.
	StartAs map[string]string `json:"start_as,omitempty"`
}

// newJob is the job of a push routed as r from its payload.
func newJob(d gitlabhook.Delivery, p *gitlabhook.Push, r routing.Result) *Job {
	lean := *p
	lean.ChangedPaths, lean.PathsKnown, lean.HeadMessage = nil, false, ""
	j := &Job{Delivery: d, Push: lean}
	j.decided(r)
	return j
}

// decided records r in the job once it is a complete decision.
func (j *Job) decided(r routing.Result) {
	if r.NeedPaths {
		return
	}
	j.Routed, j.Targets = true, make([]string, 0, len(r.Targets))
	for _, s := range r.Targets {
		j.Targets = append(j.Targets, s.Name)
	}
}

// routing is the job's routing decision as far as it is made: its targets when
// routed (a service since removed from the routing file is dropped), else what
// the payload alone says, which asks for the changed paths.
func (a *App) routing(j *Job) routing.Result {
	if !j.Routed {
		p := j.Push
		return a.Routes.Match(&p)
	}
	var r routing.Result
	for _, name := range j.Targets {
		if s, ok := a.Routes.Named(name); ok {
			r.Targets = append(r.Targets, s)
		} else {
			a.Log.Warn("service no longer routed", "delivery", j.Delivery.Key, "service", name)
		}
	}
	return r
}

// Starts are the pipelines each delivery started (store.Start), so that a
// delivery run again starts nothing twice.
type Starts interface {
	PutStart(ctx context.Context, s store.Start) (store.Start, error)
	GetStart(ctx context.Context, delivery, pipeline string) (store.Start, bool, error)
	MarkPosted(ctx context.Context, delivery, pipeline string) error
}

// Starter starts CodePipeline executions.
type Starter interface {
	Start(ctx context.Context, in codepipeline.StartInput) (executionID string, err error)
}

// Compare lists the files two commits of a project differ in (GitLab's compare API).
type Compare interface {
	ChangedPaths(ctx context.Context, project, from, to string) ([]string, error)
}

// Started is one pipeline a delivery started.
type Started struct {
	Service     string `json:"service"`
	Pipeline    string `json:"pipeline"`
	ExecutionID string `json:"execution_id,omitempty"`
	Commit      string `json:"commit"`
	// Status is "posted" once GitLab has the pending status, else what is missing.
	Status string `json:"status"`
}

// outcome is what running a push did.
type outcome struct {
	Started []Started
	Skipped []routing.Skip
	Reason  string
	// AsMissed counts the targets the reconciler had started already, as a push
	// GitLab had not delivered (missed.go): this delivery came after all.
	AsMissed int
}

// route completes the payload-only decision r: it asks GitLab for the changed
// files only when a service filters on paths and the payload does not list them all.
// It asks each routed project whose services wait for them (one, unless the
// payload's path and id match services of two), as the routing file names it:
// never the project a payload's id names. A comparison of the same two commits
// lists the same files wherever they exist, so the union is what the push changed.
func (a *App) route(ctx context.Context, job *Job, r routing.Result) (routing.Result, error) {
	if !r.NeedPaths {
		return r, nil
	}
	p := job.Push // a copy: the job never carries the paths
	var paths []string
	for _, project := range r.PathProjects {
		cctx, cancel := a.call(ctx)
		got, err := a.GitLab.ChangedPaths(cctx, project, p.CompareBase(), p.After)
		cancel()
		if err != nil {
			return r, inGitLab(fmt.Errorf("list changed paths of %s %s..%s: %w", project, p.CompareBase(), p.After, err))
		}
		paths = append(paths, got...)
	}
	slices.Sort(paths)
	p.ChangedPaths, p.PathsKnown = slices.Compact(paths), true
	r = a.Routes.Match(&p)
	job.decided(r)
	return r, nil
}

// run starts each routed pipeline that this delivery has not started yet and posts
// its pending status. It goes on past a failing target so that one bad pipeline
// does not hold up the others, and returns the joined failures; the job may then
// be run again (resume), which skips what is done. first is the decision so far
// (Match's answer from the payload, or the job's), so that a push is matched
// once on the normal path.
func (a *App) run(ctx context.Context, job *Job, first routing.Result, resume bool) (outcome, error) {
	p := &job.Push
	r, err := a.route(ctx, job, first)
	out := outcome{Skipped: r.Skipped, Reason: r.Reason}
	if err != nil {
		return out, err
	}
	var errs []error
	for _, s := range r.Targets {
		skip, as, err := a.startedAsMissed(ctx, job, s)
		switch {
		case err != nil:
			errs = append(errs, err)
			out.Started = append(out.Started, Started{Service: s.Name, Pipeline: s.Pipeline, Commit: p.CommitSHA, Status: "not started"})
			continue
		case skip != nil:
			out.Skipped, out.AsMissed = append(out.Skipped, *skip), out.AsMissed+1
			continue
		}
		st, err := a.start(ctx, job, s, as, resume || as != job.Delivery.Key)
		if err != nil {
			errs = append(errs, err)
			out.Started = append(out.Started, Started{Service: s.Name, Pipeline: s.Pipeline, Commit: p.CommitSHA, Status: "not started"})
			continue
		}
		result := Started{Service: s.Name, Pipeline: s.Pipeline, ExecutionID: st.ExecutionID, Commit: p.CommitSHA, Status: "posted"}
		if !st.StatusPosted {
			if err := a.postPending(ctx, job, s, st); err != nil {
				errs = append(errs, err)
				result.Status = "status not posted"
			}
		}
		out.Started = append(out.Started, result)
	}
	return out, errors.Join(errs...)
}

// start starts s's pipeline at the pushed commit, unless the delivery key names
// already did: this delivery's, or the reconciler's start of the same push
// (startedAsMissed).
func (a *App) start(ctx context.Context, job *Job, s routing.Service, key string, resume bool) (store.Start, error) {
	p := &job.Push
	if resume {
		st, found, err := a.Store.GetStart(ctx, key, s.Pipeline)
		if err != nil {
			return st, inStore(fmt.Errorf("look up start of %s: %w", s.Pipeline, err))
		}
		if found {
			return st, a.recordExecution(ctx, s, st, p.Ref)
		}
	}
	cctx, cancel := a.call(ctx)
	id, err := a.Pipelines.Start(cctx, codepipeline.StartInput{
		Pipeline:           s.Pipeline,
		SourceAction:       s.SourceAction,
		CommitSHA:          p.CommitSHA,
		ClientRequestToken: RequestToken(key, s.Pipeline),
	})
	cancel()
	if err != nil {
		return store.Start{}, inCodePipeline(fmt.Errorf("start %s: %w", s.Pipeline, err))
	}
	a.Log.Info("pipeline started", "delivery", job.Delivery.Key, "started_as", key, "service", s.Name,
		"pipeline", s.Pipeline, "execution_id", id, "commit", p.CommitSHA, "ref", p.Ref)
	st, err := a.Store.PutStart(ctx, store.Start{
		Delivery:    key,
		Pipeline:    s.Pipeline,
		ExecutionID: id,
		Service:     s.Name,
		Project:     s.Project, // the routed project, never the payload's id
		CommitSHA:   p.CommitSHA,
		Ref:         p.RefName(),
		StartedAt:   a.now(),
	})
	if err != nil {
		// The pipeline runs; a retry starts it again with the same request token,
		// which CodePipeline answers with this same execution.
		return store.Start{}, inStore(fmt.Errorf("record start of %s: %w", s.Pipeline, err))
	}
	return st, a.recordExecution(ctx, s, st, p.Ref)
}

// recordExecution lets the pipeline-events function know the commit, project and
// ref (full: refs/heads/… or refs/tags/…) of an execution pipegate started without
// asking CodePipeline. Recording it again is harmless. The project is s's, not
// the start record's, which an earlier version may have filled from the payload.
func (a *App) recordExecution(ctx context.Context, s routing.Service, st store.Start, ref string) error {
	_, err := a.Store.PutExecution(ctx, store.Execution{
		Pipeline: st.Pipeline, ID: st.ExecutionID, Project: s.Project,
		CommitSHA: st.CommitSHA, Ref: ref, StartedAt: st.StartedAt,
	})
	if err != nil {
		return inStore(fmt.Errorf("record execution %s of %s: %w", st.ExecutionID, st.Pipeline, err))
	}
	return nil
}

// postPending tells GitLab the pipeline is on its way, unless the pipeline's own
// events have been posted already: when this runs late (a retry after GitLab was
// down), pending would follow a final state, and GitLab would open a new status
// that stays pending for good.
func (a *App) postPending(ctx context.Context, job *Job, s routing.Service, st store.Start) error {
	p := &job.Push
	_, found, err := a.Store.GetStatus(ctx, statusKey(s, st.CommitSHA, p.Ref, ""))
	if err != nil {
		// Posting blind could follow a final state: leave it to the retry.
		return inStore(fmt.Errorf("read status %s of %s: %w", st.Pipeline, st.CommitSHA, err))
	}
	if found {
		a.Log.Info("pending status not posted", "delivery", job.Delivery.Key, "pipeline", st.Pipeline,
			"reason", "the pipeline's own events were posted first")
		a.markPending(ctx, job, st)
		return nil
	}
	what := "push to " + p.RefName()
	if p.Tag {
		what = "tag " + p.RefName()
	}
	if p.User != "" {
		what += " by " + p.User
	}
	if job.Missed {
		what = "a push to " + p.RefName() + " that GitLab did not deliver"
	}
	cctx, cancel := a.call(ctx)
	err = a.GitLab.SetStatus(cctx, s.Project, st.CommitSHA, gitlab.Status{
		State:       "pending",
		Name:        st.Pipeline,
		Ref:         st.Ref,
		TargetURL:   a.Pipelines.ExecutionURL(st.Pipeline, st.ExecutionID),
		Description: fmt.Sprintf("CodePipeline %s started by pipegate for %s", st.Pipeline, what),
	})
	cancel()
	if err != nil {
		return inGitLab(fmt.Errorf("post pending status of %s: %w", st.Pipeline, err))
	}
	a.Log.Info("status posted", "delivery", job.Delivery.Key, "pipeline", st.Pipeline,
		"state", "pending", "commit", st.CommitSHA)
	a.markPending(ctx, job, st)
	return nil
}

// markPending records that the start's pending status needs no posting any more.
func (a *App) markPending(ctx context.Context, job *Job, st store.Start) {
	if err := a.Store.MarkPosted(ctx, st.Delivery, st.Pipeline); err != nil {
		// Posting pending again later is harmless: GitLab keeps the state.
		a.Log.Warn("status posted but not recorded", "delivery", job.Delivery.Key, "pipeline", st.Pipeline, "error", err.Error())
	}
}

// RequestToken is the clientRequestToken for starting pipeline for a delivery:
// the same delivery always gives the same token, so CodePipeline itself refuses
// to start it twice. It fits the API's 1–128 characters of [a-zA-Z0-9-].
func RequestToken(delivery, pipeline string) string {
	sum := sha256.Sum256([]byte(delivery + "\n" + pipeline))
	return hex.EncodeToString(sum[:])
}

// skippedAttrs renders skip reasons for a log line.
func skippedAttrs(s []routing.Skip) slog.Attr {
	attrs := make([]any, 0, len(s))
	for _, k := range s {
		attrs = append(attrs, slog.String(k.Service, k.Reason))
	}
	return slog.Group("skipped", attrs...)
}
