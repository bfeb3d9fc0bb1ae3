package app

import (
	"context"
	"time"

	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// Durations. A success says how long it took ("Build succeeded in 3m 12s"),
// which needs its start. Events come out of order, and GitLab keeps a status's
// description when the same state is posted again, so a success seen before its
// start gets the start from what is known of the execution, else from
// CodePipeline, before it is first posted.

// knownStart is when the pipeline's own status began, when the event or
// pipegate's own start says so: the event's start-time, else the webhook's
// record of an execution pipegate started (it has the ref). Zero for a stage,
// whose start only its STARTED event or its actions' runs tell, and for a start
// inferred from the first event seen: a duration from a guess would be wrong.
func knownStart(ev progress.Event, ex store.Execution) time.Time {
	switch {
	case ev.Level != progress.PipelineLevel:
		return time.Time{}
	case !ev.Started.IsZero():
		return ev.Started
	case ex.Ref != "":
		return ex.StartedAt
	}
	return time.Time{}
}

// startLookupDepth is how many of a pipeline's newest executions began looks
// through for an execution's start: ListPipelineExecutions' largest page. The
// execution has just succeeded, so it is among them unless a hundred started
// after it.
const startLookupDepth = 100

// began asks CodePipeline when what a status shows began: the execution's start
// (ListPipelineExecutions) for the pipeline's own status (stage ""), the earliest
// start of the stage's actions (ListActionExecutions) for a stage's. It is best
// effort: when CodePipeline fails or does not say, it logs why and returns zero,
// and the status is posted without its duration.
func (a *App) began(ctx context.Context, svc routing.Service, executionID, stage string) time.Time {
	cctx, cancel := a.call(ctx)
	defer cancel()
	var at time.Time
	var err error
	if stage == "" {
		var recent []codepipeline.Summary
		recent, err = a.Pipelines.Recent(cctx, svc.Pipeline, startLookupDepth)
		for _, s := range recent {
			if s.ID == executionID {
				at = s.StartTime
			}
		}
	} else {
		var runs []codepipeline.ActionExecution
		runs, err = a.Pipelines.ActionExecutions(cctx, svc.Pipeline, executionID)
		at = codepipeline.StageStart(runs, stage)
	}
	name := progress.StatusName(svc.Pipeline, stage)
	switch {
	case err != nil:
		a.Log.Warn("duration unknown", "pipeline", svc.Pipeline, "status", name, "execution_id", executionID, "error", err.Error())
	case at.IsZero():
		a.Log.Warn("duration unknown", "pipeline", svc.Pipeline, "status", name, "execution_id", executionID,
			"reason", "CodePipeline lists no start for it")
	default:
		a.Log.Info("start looked up", "pipeline", svc.Pipeline, "status", name, "execution_id", executionID, "began", at)
	}
	return at
}
