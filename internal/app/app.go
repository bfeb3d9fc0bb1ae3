// Package app holds pipegate's handlers. Each reads like the table it implements
// (docs/webhook.md, docs/statuses.md, docs/gate.md): the pure packages
// (gitlabhook, routing, progress, gate) decide, the adapters behind the small
// interfaces below do the I/O, and the handlers wire the two.
package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// Store keeps delivery claims and the pipelines each delivery started
// (store.Memory and store.Dynamo).
type Store interface {
	Claim(ctx context.Context, key string, lease time.Duration) (store.Claim, error)
	Finish(ctx context.Context, key, owner string) error
	Release(ctx context.Context, key, owner string) error
	PutStart(ctx context.Context, s store.Start) (store.Start, error)
	GetStart(ctx context.Context, delivery, pipeline string) (store.Start, bool, error)
	MarkPosted(ctx context.Context, delivery, pipeline string) error

	// Deliveries whose work is not known to be finished (see store.Pending).
	PutPending(ctx context.Context, p store.Pending) error
	DeletePending(ctx context.Context, key string) error
	Pendings(ctx context.Context, before time.Time, limit int) ([]store.Pending, error)

	// The commit each execution runs, and the last state of each commit status
	// (the ordering of CodePipeline's events).
	PutExecution(ctx context.Context, e store.Execution) (store.Execution, error)
	GetExecution(ctx context.Context, pipeline, id string) (store.Execution, bool, error)
	GetStatus(ctx context.Context, key store.StatusKey) (store.Status, bool, error)
	PutStatus(ctx context.Context, s store.Status) (store.Status, error)

	// The production gate's decisions, kept for audit.
	RecordDecision(ctx context.Context, d store.GateDecision) error

	PutResult(ctx context.Context, r store.Result) error
	Results(ctx context.Context, service string) ([]store.Result, error)
}

// Pipelines starts CodePipeline executions and reads their progress
// (codepipeline.Client).
type Pipelines interface {
	Start(ctx context.Context, in codepipeline.StartInput) (executionID string, err error)
	ExecutionURL(pipeline, executionID string) string
	Execution(ctx context.Context, pipeline, id string) (codepipeline.Execution, error)
	Recent(ctx context.Context, pipeline string, n int) ([]codepipeline.Summary, error)
	State(ctx context.Context, pipeline string) ([]codepipeline.StageState, error)
	ActionExecutions(ctx context.Context, pipeline, executionID string) ([]codepipeline.ActionExecution, error)
	Approve(ctx context.Context, a codepipeline.Approval) error
}

// GitLab is the part of the GitLab API pipegate calls (gitlab.Client).
type GitLab interface {
	SetStatus(ctx context.Context, project, sha string, s gitlab.Status) error
	ChangedPaths(ctx context.Context, project, from, to string) ([]string, error)
	MergeRequestsOfCommit(ctx context.Context, project, sha string) ([]gitlab.MergeRequest, error)
	Approvals(ctx context.Context, project string, iid int64) (gitlab.Approvals, error)
}

// Queue takes work that failed for a later retry (queue.Queue over SQS).
type Queue interface {
	Send(ctx context.Context, body []byte) error
}

// Time limits. GitLab gives a delivery 10 s and counts a timeout as a failure, so
// the webhook's work stops after Budget and what is left goes to the retry queue,
// which still has QueueBudget of its own.
const (
	DefaultBudget      = 5 * time.Second
	DefaultCallTimeout = 2 * time.Second
	DefaultQueueBudget = 2 * time.Second
	// DefaultLease outlives the webhook function's 10 s timeout, so a claim is only
	// taken over from an invocation that is certainly gone.
	DefaultLease = 30 * time.Second
)

// App is pipegate with its dependencies. The zero values of the durations mean
// the defaults above; a nil Queue means failures are answered with 503 so that
// GitLab redelivers (local use).
type App struct {
	Routes    *routing.Config
	Secret    string // the webhook's secret token; empty refuses every delivery
	Store     Store
	Pipelines Pipelines
	GitLab    GitLab
	Queue     Queue
	Log       *slog.Logger
	Now       func() time.Time // nil: time.Now

	Budget      time.Duration
	CallTimeout time.Duration
	QueueBudget time.Duration
	Lease       time.Duration
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *App) budget() time.Duration      { return or(a.Budget, DefaultBudget) }
func (a *App) callTimeout() time.Duration { return or(a.CallTimeout, DefaultCallTimeout) }
func (a *App) queueBudget() time.Duration { return or(a.QueueBudget, DefaultQueueBudget) }
func (a *App) lease() time.Duration       { return or(a.Lease, DefaultLease) }

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// call bounds one request to AWS or GitLab, so one slow dependency cannot use up
// the whole budget.
func (a *App) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.callTimeout())
}
