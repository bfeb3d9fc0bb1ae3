package wire

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/store"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// TestLoadRouting is the one fallback: PIPEGATE_CONFIG's file, else the bundled
// one, and it says which it read. It checks only that the bundled file parses,
// never what it routes.
func TestLoadRouting(t *testing.T) {
	cfg, source, err := LoadRouting(envOf("PIPEGATE_CONFIG", "testdata/routing.yaml"))
	if err != nil || source != "testdata/routing.yaml" || len(cfg.Services) == 0 {
		t.Errorf("PIPEGATE_CONFIG: %v, source %q, %v", cfg, source, err)
	}
	if _, source, err := LoadRouting(envOf()); err != nil || source != Bundled {
		t.Errorf("bundled: source %q, %v", source, err)
	}
	for path, want := range map[string]string{
		"testdata/none.yaml":   "read PIPEGATE_CONFIG",
		"testdata/broken.yaml": "testdata/broken.yaml: ",
	} {
		if _, source, err := LoadRouting(envOf("PIPEGATE_CONFIG", path)); err == nil || !strings.Contains(err.Error(), want) || source != path {
			t.Errorf("%s: source %q, error %v, want one saying %q", path, source, err, want)
		}
	}
}

// TestStandIns: what the local tool gives replaces what the environment says,
// and the environment is not read for it (no table, no queue, no secret, no
// token), nor is anything logged about it.
func TestStandIns(t *testing.T) {
	routes, _, err := LoadRouting(envOf("PIPEGATE_CONFIG", "testdata/routing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	env := envOf("TABLE_NAME", "pipegate", "RETRY_QUEUE_URL", "https://sqs.example/q", "WEBHOOK_SECRET", "from-env",
		"PIPEGATE_CONFIG", "testdata/none.yaml")
	gl := stubGitLab{}
	a, err := ForWebhook(context.Background(), env, log, Routes(routes), Secret("local"), AWS(aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "local", "")}), GitLab(gl), InMemory())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Store.(*store.Memory); !ok || a.Queue != nil || a.Secret != "local" || a.GitLab != app.GitLab(gl) || a.Routes != routes {
		t.Errorf("store %T, queue %v, secret %q, gitlab %T, routes %p (want %p)", a.Store, a.Queue, a.Secret, a.GitLab, a.Routes, routes)
	}
	if logs.Len() != 0 {
		t.Errorf("logged: %s", logs.String())
	}
}

func TestSpans(t *testing.T) {
	req := events.APIGatewayV2HTTPRequest{Headers: map[string]string{
		"x-gitlab-event": "Push Hook", "idempotency-key": "k1", "x-gitlab-event-uuid": "e1", "x-gitlab-webhook-uuid": "w1",
	}, Body: "{}"}
	if name, ann := webhookSpan(req); name != "webhook" || ann["delivery"] != "k1" || ann["event"] != "Push Hook" || ann["event_uuid"] != "e1" || ann["webhook_uuid"] != "w1" {
		t.Errorf("webhook span %s %v", name, ann)
	}
	for raw, want := range map[string]string{
		`{"source":"aws.events","detail-type":"Scheduled Event"}`:                                 "reconcile",
		`{"source":"aws.codepipeline","detail-type":"CodePipeline Stage Execution State Change"}`: "pipeline-event",
		`not json`: "pipeline-event",
	} {
		if name, _ := pipelineEventSpan(json.RawMessage(raw)); name != want {
			t.Errorf("%s: span %s, want %s", raw, name, want)
		}
	}
	if name, ann := retrySpan(events.SQSEvent{Records: make([]events.SQSMessage, 3)}); name != "retry" || ann["messages"] != "3" {
		t.Errorf("retry span %s %v", name, ann)
	}
}

// TestFailures: the failures a handler answers rather than returns end its span
// as failed; everything else ends it clean.
func TestFailures(t *testing.T) {
	answer := func(status int, a app.Answer) events.APIGatewayV2HTTPResponse {
		b, _ := json.Marshal(a)
		return events.APIGatewayV2HTTPResponse{StatusCode: status, Body: string(b)}
	}
	for _, tc := range []struct {
		name string
		resp events.APIGatewayV2HTTPResponse
		want string
	}{
		{"started", answer(200, app.Answer{Result: "started"}), ""},
		{"refused", answer(401, app.Answer{Result: "refused", Reason: "missing or wrong X-Gitlab-Token"}), ""},
		{"queued", answer(202, app.Answer{Result: "queued", Error: "CodePipeline did not answer"}), "queued (202): CodePipeline did not answer"},
		{"failed", answer(503, app.Answer{Result: "failed", Error: "CodePipeline and SQS did not answer"}), "failed (503): CodePipeline and SQS did not answer"},
	} {
		err := webhookFailure(tc.resp)
		if got := errString(err); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if err := retryFailure(events.SQSEventResponse{}); err != nil {
		t.Errorf("no failures: %v", err)
	}
	err := retryFailure(events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "m1"}, {ItemIdentifier: "m2"}}})
	if got := errString(err); got != "message m1 failed\nmessage m2 failed" {
		t.Errorf("failures: %q", got)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// stubGitLab stands in for GitLab; the test calls none of it.
type stubGitLab struct{ app.GitLab }

// fakeSecrets is Secrets Manager holding one secret per id.
type fakeSecrets map[string]string

func (f fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v, ok := f[aws.ToString(in.SecretId)]
	if !ok {
		return nil, errors.New("ResourceNotFoundException")
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

// TestSigningSecret: optional, from the environment or Secrets Manager like the
// token; malformed, it is kept (every delivery refused) and said in the log.
func TestSigningSecret(t *testing.T) {
	const good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:signing-a1B2c3"
	sm := fakeSecrets{arn: good + "\n"}
	for _, tc := range []struct {
		name    string
		env     func(string) string
		want    string
		wantLog string
		wantErr bool
	}{
		{"not configured", envOf(), "", "", false},
		{"from the environment", envOf("WEBHOOK_SIGNING_SECRET", good), good, `"source":"env:WEBHOOK_SIGNING_SECRET"`, false},
		{"from Secrets Manager", envOf("WEBHOOK_SIGNING_SECRET_ID", arn), good, `"source":"secretsmanager:` + arn, false},
		{"the variable wins over the id", envOf("WEBHOOK_SIGNING_SECRET", good, "WEBHOOK_SIGNING_SECRET_ID", "missing"), good, "env:WEBHOOK_SIGNING_SECRET", false},
		{"malformed", envOf("WEBHOOK_SIGNING_SECRET", "whsec_not base64!"), "whsec_not base64!", `"msg":"secret malformed"`, false},
		{"an id Secrets Manager does not know", envOf("WEBHOOK_SIGNING_SECRET_ID", "missing"), "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			got, err := signingSecret(context.Background(), tc.env, sm, slog.New(slog.NewJSONHandler(&logs, nil)))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("signingSecret = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log %s does not say %s", logs.String(), tc.wantLog)
			}
			if strings.Contains(logs.String(), "MfKQ9r8") {
				t.Errorf("the log shows the secret: %s", logs.String())
			}
		})
	}
}

// TestForWebhookSigning: the webhook function reads the signing secret; the
// other functions need none.
func TestForWebhookSigning(t *testing.T) {
	routes, _, err := LoadRouting(envOf("PIPEGATE_CONFIG", "testdata/routing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env := envOf("WEBHOOK_SECRET", "tok", "WEBHOOK_SIGNING_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "GITLAB_TOKEN", "gl")
	cfg := AWS(aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "local", "")})
	log := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	a, err := ForWebhook(context.Background(), env, log, Routes(routes), cfg, GitLab(stubGitLab{}), InMemory())
	if err != nil {
		t.Fatal(err)
	}
	if a.Secret != "tok" || a.SigningSecret != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" {
		t.Errorf("webhook: secret %q, signing secret %q", a.Secret, a.SigningSecret)
	}
	p, err := ForPipelineEvents(context.Background(), env, log, Routes(routes), cfg, GitLab(stubGitLab{}), InMemory())
	if err != nil {
		t.Fatal(err)
	}
	if p.SigningSecret != "" || p.Secret != "" {
		t.Errorf("pipeline events: secret %q, signing secret %q", p.Secret, p.SigningSecret)
	}
}
