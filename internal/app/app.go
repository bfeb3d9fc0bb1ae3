// Package app holds pipegate's handlers. Each reads like the table it implements
// (docs/webhook.md, docs/statuses.md, docs/gate.md): the pure packages
// (gitlabhook, routing, progress, gate) decide, the adapters behind the small
// interfaces below do the I/O, and the handlers wire the two.
package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/pipegate/pipegate/internal/routing"
)

// Store is the table pipegate keeps (store.Memory, store.Dynamo). The handlers
// need it only through the roles each declares beside its code: Claims and
// Pending (webhook.go), Starts (push.go), Executions and Statuses
// (pipelineevents.go), GateLog (gate.go), BadgeResults (badge.go), Heads
// (missed.go) and DeploymentRecords (deployments.go). One table
// plays them all, so one value wires them.
type Store interface {
	Claims
	Pending
	Starts
	Executions
	Statuses
	GateLog
	BadgeResults
	Heads
	DeploymentRecords
}

// Pipelines is CodePipeline (codepipeline.Client), in the roles its users
// declare: Starter (push.go), Runs (pipelineevents.go), Approver (gate.go).
type Pipelines interface {
	Starter
	Runs
	Approver
}

// GitLab is the part of the GitLab API pipegate calls (gitlab.Client), in the
// roles its users declare: StatusPoster (pipelineevents.go), Compare (push.go),
// Reviews (gate.go), Branches (missed.go) and DeploymentPoster (deployments.go).
type GitLab interface {
	StatusPoster
	StatusReader
	Compare
	Reviews
	Branches
	DeploymentPoster
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
	Routes *routing.Config
	Secret string // the webhook's secret token; empty refuses every delivery
	// SigningSecret ("whsec_<base64>") requires every delivery to carry a valid
	// Standard Webhooks signature; empty: deliveries are not signed.
	SigningSecret string
	Store         Store
	Pipelines     Pipelines
	GitLab        GitLab
	Queue         Queue
	Log           *slog.Logger
	Now           func() time.Time // nil: time.Now
	// HookHealth: the reconciler watches pipegate's webhooks (hookhealth.go).
	HookHealth HookHealth

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
