package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/store"
)

// RetryLease bounds how long one retry consumer holds a job; it outlives the
// consumer function's timeout.
const RetryLease = 2 * time.Minute

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
	if err := json.Unmarshal([]byte(body), &job); err != nil || job.Delivery.Key == "" {
		// Not a message pipegate wrote: retrying cannot help; the dead-letter queue keeps it.
		return fmt.Errorf("decode job: %v", err)
	}
	key := "retry#" + job.Delivery.Key
	claim, err := a.Store.Claim(ctx, key, RetryLease)
	if err != nil {
		return fmt.Errorf("claim job %s: %w", job.Delivery.Key, err)
	}
	switch claim.State {
	case store.Done:
		a.Log.Info("retry duplicate", "delivery", job.Delivery.Key)
		return nil
	case store.Busy:
		return fmt.Errorf("job %s is being retried by another consumer", job.Delivery.Key)
	}
	var started int
	if m := job.MergeRequest; m != nil {
		_, err = a.gatesOfProject(ctx, m.ProjectID, m.Project, fmt.Sprintf("merge request !%d %s (retry)", m.IID, m.Action))
	} else {
		// Resume: the webhook may have started some pipelines before it gave up.
		var out outcome
		out, err = a.run(ctx, &job, a.Routes.Match(&job.Push), true)
		started = len(out.Started)
	}
	if err != nil {
		if rerr := a.Store.Release(ctx, key, claim.Owner); rerr != nil {
			a.Log.Warn("retry claim not released", "delivery", job.Delivery.Key, "error", rerr.Error())
		}
		return fmt.Errorf("retry %s: %w", job.Delivery.Key, err)
	}
	a.finish(ctx, key, claim.Owner)
	a.Log.Info("retry done", "delivery", job.Delivery.Key, "started", started)
	return nil
}
