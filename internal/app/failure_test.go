package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

// dynamoStore is the DynamoDB store on a fresh table in dynalite.
func dynamoStore(t *testing.T) app.Store {
	t.Helper()
	testenv.Dynalite(t)
	client := testenv.DynamoClient(t)
	return store.NewDynamo(client, testenv.CreateTable(t, client))
}

func (w *world) deliverBase64(d delivery) (int, app.Answer) {
	w.t.Helper()
	resp, err := w.app.WebhookHTTPAPI(context.Background(), events.APIGatewayV2HTTPRequest{
		Headers: map[string]string{
			"x-gitlab-event": d.event, "x-gitlab-token": secret, "idempotency-key": "b64",
		},
		Body:            base64.StdEncoding.EncodeToString(d.body),
		IsBase64Encoded: true,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	var ans app.Answer
	if err := json.Unmarshal([]byte(resp.Body), &ans); err != nil {
		w.t.Fatal(err)
	}
	return resp.StatusCode, ans
}

// TestCodePipelineDownThenRecovers: throttling beyond the quick retries puts the
// push on the retry queue (202); the consumer finishes it once CodePipeline
// recovers, exactly once however often SQS delivers the message.
func TestCodePipelineDownThenRecovers(t *testing.T) {
	for _, f := range []emulator.Fault{emulator.Throttling, emulator.ServerError} {
		t.Run(f.Code, func(t *testing.T) {
			w := newWorld(t)
			w.cp.FailNext("StartPipelineExecution", 3, f) // every quick retry fails
			code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main"),
				headers: map[string]string{"idempotency-key": "down-1"}})
			if code != http.StatusAccepted || ans.Result != "queued" || ans.Error == "" {
				t.Fatalf("got %d %+v", code, ans)
			}
			if w.starts() != 0 || len(w.gl.Statuses()) != 0 {
				t.Fatalf("started %d, statuses %d before recovery", w.starts(), len(w.gl.Statuses()))
			}
			msgs := w.sqs.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages on the retry queue", len(msgs))
			}

			// GitLab redelivers nothing after a 2xx, but a "Resend request" now, with
			// CodePipeline back, takes the released claim and does the work itself.
			if _, again := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main"),
				headers: map[string]string{"idempotency-key": "down-1"}}); again.Result != "started" {
				t.Errorf("resend answered %+v", again)
			}

			// CodePipeline has recovered; SQS delivers the message twice.
			if fails := w.drain(); len(fails) != 0 {
				t.Fatalf("retry failed: %+v\n%s", fails, w.logs)
			}
			if fails := w.drain(); len(fails) != 0 {
				t.Fatalf("second retry failed: %+v", fails)
			}
			if w.starts() != 1 {
				t.Errorf("%d executions, want 1", w.starts())
			}
			if st := w.gl.Statuses(); len(st) != 1 || st[0].State != "pending" {
				t.Errorf("statuses %+v, want one pending", st)
			}
		})
	}
}

// TestGitLabDownPipelineStillStarts: the pipeline starts at once; the status that
// GitLab refused is posted later by the retry consumer, which does not start the
// pipeline again.
func TestGitLabDownPipelineStillStarts(t *testing.T) {
	w := newWorld(t)
	w.gl.FailNext("statuses", 3, emulator.Fault{Status: 503, Message: "503 Service Unavailable"})
	code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main")})
	if code != http.StatusAccepted || ans.Result != "queued" {
		t.Fatalf("got %d %+v", code, ans)
	}
	if w.starts() != 1 || len(w.gl.Statuses()) != 0 {
		t.Fatalf("executions %d, statuses %d", w.starts(), len(w.gl.Statuses()))
	}
	if len(ans.Started) != 1 || ans.Started[0].Status != "status not posted" {
		t.Errorf("answer %+v", ans)
	}
	if fails := w.drain(); len(fails) != 0 {
		t.Fatalf("retry failed: %+v\n%s", fails, w.logs)
	}
	if w.starts() != 1 || w.cp.Calls("StartPipelineExecution") != 1 {
		t.Errorf("%d executions from %d calls, want 1 from 1", w.starts(), w.cp.Calls("StartPipelineExecution"))
	}
	if st := w.gl.Statuses(); len(st) != 1 || st[0].State != "pending" {
		t.Errorf("statuses %+v", st)
	}
}

// TestRetryStillFailingStaysOnQueue: a job whose dependency is still down is a
// batch item failure, so SQS redelivers it (and in the end dead-letters it).
func TestRetryStillFailingStaysOnQueue(t *testing.T) {
	w := newWorld(t)
	w.cp.FailNext("StartPipelineExecution", 6, emulator.ServerError)
	w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main")})
	if fails := w.drain(); len(fails) != 1 {
		t.Fatalf("%d batch item failures, want 1", len(fails))
	}
	if fails := w.drain(); len(fails) != 0 || w.starts() != 1 {
		t.Fatalf("after recovery: failures %+v, executions %d", fails, w.starts())
	}
}

func TestRetryIgnoresForeignMessage(t *testing.T) {
	w := newWorld(t)
	resp, err := w.app.Retry(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: "hello"}}})
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("%+v %v: a message pipegate cannot read must stay failed (and reach the DLQ)", resp, err)
	}
}

// TestNoQueueAnswers503ThenRedeliveryStarts: without a retry queue (local use) a
// failure is a 503, the claim is given back, and GitLab's redelivery of the same
// delivery starts the pipeline once.
func TestNoQueueAnswers503ThenRedeliveryStarts(t *testing.T) {
	w := newWorld(t, withoutQueue)
	w.cp.FailNext("StartPipelineExecution", 3, emulator.Throttling)
	d := delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main"), headers: map[string]string{"idempotency-key": "k"}}
	if code, ans := w.deliver(d); code != http.StatusServiceUnavailable || ans.Result != "failed" {
		t.Fatalf("got %d %+v", code, ans)
	}
	if code, ans := w.deliver(d); code != http.StatusOK || ans.Result != "started" {
		t.Fatalf("redelivery: %d %+v", code, ans)
	}
	if w.starts() != 1 {
		t.Errorf("%d executions", w.starts())
	}
}

// TestQueueDownToo: when even the queue refuses, the answer is 5xx and the claim
// is released, so that GitLab's retry is not mistaken for a duplicate.
func TestQueueDownToo(t *testing.T) {
	w := newWorld(t)
	w.cp.FailNext("StartPipelineExecution", 3, emulator.ServerError)
	w.sqs.FailNext("SendMessage", 3, emulator.ServerError)
	d := delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main"), headers: map[string]string{"idempotency-key": "k"}}
	if code, _ := w.deliver(d); code != http.StatusServiceUnavailable {
		t.Fatalf("got %d", code)
	}
	if code, ans := w.deliver(d); code != http.StatusOK || ans.Result != "started" || w.starts() != 1 {
		t.Fatalf("redelivery: %d %+v, executions %d", code, ans, w.starts())
	}
}

// TestHangingDependenciesAreBounded: a CodePipeline or GitLab that never answers
// cannot hold a delivery past GitLab's 10 s timeout: with the production time
// limits the answer comes in time and the work is on the queue.
func TestHangingDependenciesAreBounded(t *testing.T) {
	tests := []struct {
		name   string
		inject func(w *world)
	}{
		{"CodePipeline hangs", func(w *world) { w.cp.FailNext("StartPipelineExecution", 10, emulator.Hang) }},
		{"GitLab hangs", func(w *world) { w.gl.FailNext("statuses", 10, emulator.Hang) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			tt.inject(w)
			start := time.Now()
			code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main")})
			took := time.Since(start)
			if code != http.StatusAccepted || ans.Result != "queued" {
				t.Fatalf("got %d %+v", code, ans)
			}
			// An upper bound, not a speed goal: GitLab gives up at 10 s.
			if took >= 10*time.Second {
				t.Errorf("answered after %v: GitLab would have timed out", took)
			}
		})
	}
}

func TestTimeLimitsFitGitLabTimeout(t *testing.T) {
	// The work budget, then the queue's own budget, must end inside GitLab's 10 s
	// with room for the function's cold start.
	if total := app.DefaultBudget + app.DefaultQueueBudget; total > 9*time.Second {
		t.Errorf("budget %v + queue %v = %v leaves no room inside GitLab's 10 s", app.DefaultBudget, app.DefaultQueueBudget, total)
	}
	if app.DefaultLease <= 10*time.Second {
		t.Errorf("lease %v must outlive the webhook function's 10 s timeout", app.DefaultLease)
	}
}
