package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/store"
)

// RetryLease bounds how long a retry consumer or the reconciler holds a
// delivery it resumes; it outlives both functions' timeouts.
const RetryLease = 2 * time.Minute

// errBusy says another invocation holds the delivery now.
var errBusy = errors.New("the delivery is being handled by another invocation")

// Retry consumes the retry queue: each message is a Job the webhook could not
// finish. A job that fails again is reported as a batch item failure, so SQS
// delivers it again after the visibility timeout and, after the queue's
// maxReceiveCount, moves it to the dead-letter queue.
func (a *App) Retry(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		if err := a.retryOne(ctx, m.Body); err != nil {
			a.Log.Error("retry failed", "message_id", m.MessageId, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// retryOne runs one queued job to the end, once, even when SQS delivers the
// message twice.
func (a *App) retryOne(ctx context.Context, body string) error {
	var job Job
	if err := json.Unmarshal([]byte(body), &job); err != nil {
		// Not a message pipegate wrote: retrying cannot help; the dead-letter queue keeps it.
		return fmt.Errorf("decode job: %w", err)
	}
	if job.Delivery.Key == "" {
		return errors.New("decode job: the message names no delivery")
	}
	if m := job.MergeRequest; m != nil {
		// Evaluating a gate twice is harmless: no claim.
		_, err := a.evaluateGates(ctx, gatesOf(a.Routes, m), fmt.Sprintf("merge request !%d %s (retry)", m.IID, m.Action))
		if err != nil {
			return fmt.Errorf("retry merge request of %s: %w", job.Delivery.Key, err)
		}
		return nil
	}
	return a.resume(ctx, &job, "retry queue")
}

// resume takes a delivery over and runs its job to the end: the retry
// consumer's and the reconciler's way in. It claims the delivery itself, so the
// webhook, the consumer and the reconciler never work on one delivery at once,
// and finds done what was done (start records), so nothing starts twice.
func (a *App) resume(ctx context.Context, job *Job, by string) error {
	key := job.Delivery.Key
	claim, err := a.Store.Claim(ctx, key, RetryLease)
	if err != nil {
		return fmt.Errorf("claim delivery %s: %w", key, err)
	}
	switch claim.State {
	case store.Done:
		a.dropPending(ctx, key)
		a.Log.Info("delivery already done", "delivery", key, "by", by)
		return nil
	case store.Busy:
		return fmt.Errorf("resume %s: %w", key, errBusy)
	}
	out, err := a.run(ctx, job, a.routing(job), true)
	// Ending the claim gets time of its own: the work may have used up ctx's.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.queueBudget())
	defer cancel()
	if err != nil {
		a.release(ectx, key, claim.Owner)
		return fmt.Errorf("resume %s: %w", key, err)
	}
	a.finish(ectx, key, claim.Owner)
	a.Log.Info("delivery resumed", "delivery", key, "by", by, "started", len(out.Started))
	return nil
}
