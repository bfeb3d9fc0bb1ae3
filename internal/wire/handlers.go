package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/trace"
)

// The handlers the functions start, each in a trace span (internal/trace) that
// ends with the handler's real outcome.

// Webhook is the webhook function's handler (a.WebhookHTTPAPI), in a span
// "webhook" annotated with the delivery's identity.
func Webhook(a *app.App) func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return trace.Handler(a.WebhookHTTPAPI, webhookSpan, webhookFailure)
}

// PipelineEvents is the pipeline-events function's handler (a.PipelineEvent), in
// a span "reconcile" for the schedule's event, else "pipeline-event".
func PipelineEvents(a *app.App) func(ctx context.Context, raw json.RawMessage) (app.EventAnswer, error) {
	return trace.Handler(a.PipelineEvent, pipelineEventSpan, nil)
}

// Retry is the retry consumer's handler (a.Retry), in a span "retry" that fails
// when a message does.
func Retry(a *app.App) func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return trace.Handler(a.Retry, retrySpan, retryFailure)
}

func webhookSpan(req events.APIGatewayV2HTTPRequest) (string, map[string]string) {
	h, body, _ := app.HTTPAPIDelivery(req)
	d := gitlabhook.DeliveryOf(h, body)
	return "webhook", map[string]string{"delivery": d.Key, "event": d.Event, "event_uuid": d.EventUUID, "webhook_uuid": d.WebhookUUID}
}

// webhookFailure is the failure a webhook answer reports: GitLab always gets a
// 2xx for work that failed and went to the retry queue, so the answer's error
// is what shows it (its words; the cause is in the log line of the same delivery).
func webhookFailure(resp events.APIGatewayV2HTTPResponse) error {
	var ans app.Answer
	if json.Unmarshal([]byte(resp.Body), &ans) != nil || ans.Error == "" {
		return nil
	}
	return fmt.Errorf("%s (%d): %s", ans.Result, resp.StatusCode, ans.Error)
}

func pipelineEventSpan(raw json.RawMessage) (string, map[string]string) {
	var env events.CloudWatchEvent
	if json.Unmarshal(raw, &env) == nil && progress.IsSchedule(env) {
		return "reconcile", nil
	}
	return "pipeline-event", map[string]string{"detail_type": env.DetailType}
}

func retrySpan(ev events.SQSEvent) (string, map[string]string) {
	return "retry", map[string]string{"messages": fmt.Sprint(len(ev.Records))}
}

// retryFailure names the messages that failed (each error is in the log).
func retryFailure(resp events.SQSEventResponse) error {
	var errs []error
	for _, f := range resp.BatchItemFailures {
		errs = append(errs, fmt.Errorf("message %s failed", f.ItemIdentifier))
	}
	return errors.Join(errs...)
}

// Start is a function's main: it builds the function's pipegate from the
// environment (ForWebhook, ForRetry or ForPipelineEvents) and starts handler on
// it (Webhook, Retry or PipelineEvents). A start that fails is one log line and
// exit 1, and Lambda reports the failed init.
func Start[H any](build func(context.Context, func(string) string, *slog.Logger, ...Option) (*app.App, error), handler func(*app.App) H) {
	log := NewLogger(os.Getenv)
	a, err := build(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("pipegate cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(handler(a))
}
