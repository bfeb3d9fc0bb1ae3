package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gitlab"
)

// BenchmarkWebhookPush is one routed push through the whole webhook: decode,
// verify, route, claim, one StartPipelineExecution through the real SDK client and
// one commit status through the real GitLab client, against the in-process
// stand-ins. Compare it with BenchmarkWebhookLimit in the same run.
func BenchmarkWebhookPush(b *testing.B) {
	w := newWorld(b)
	w.app.Log = slog.New(slog.NewJSONHandler(io.Discard, nil)) // as to stdout, without keeping it
	// A commit per delivery, as in real life: GitLab refuses a repeated status.
	template := string(pushTo(b, 42, "team/core", "main"))
	bodies := make([]string, b.N)
	for i := range bodies {
		bodies[i] = strings.ReplaceAll(template, headSHA, fmt.Sprintf("%040x", i+1))
	}
	h := map[string]string{"x-gitlab-event": "Push Hook", "x-gitlab-token": secret, "content-type": "application/json"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h["idempotency-key"] = fmt.Sprint("bench-", i)
		resp, err := w.app.WebhookHTTPAPI(ctx, events.APIGatewayV2HTTPRequest{Headers: h, Body: bodies[i]})
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%d %v %s", resp.StatusCode, err, resp.Body)
		}
	}
}

// BenchmarkWebhookClients makes only the two calls of BenchmarkWebhookPush, through
// the same adapters over the real SDK and GitLab clients (codepipeline.New,
// gitlab.New) to the same stand-ins, with no decode, route or store: the floor that
// the real clients impose. Push minus Clients is pipegate's own cost; Clients minus
// Limit is the clients'.
func BenchmarkWebhookClients(b *testing.B) {
	w := newWorld(b)
	pipelines, gl := w.app.Pipelines, w.app.GitLab
	shas := make([]string, b.N)
	for i := range shas {
		shas[i] = fmt.Sprintf("%040x", i+1) // a commit per delivery, as in BenchmarkWebhookPush
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id, err := pipelines.Start(ctx, codepipeline.StartInput{
			Pipeline:           "core-pipeline",
			SourceAction:       "Source",
			CommitSHA:          shas[i],
			ClientRequestToken: app.RequestToken(fmt.Sprint("bench-", i), "core-pipeline"),
		})
		if err != nil {
			b.Fatal(err)
		}
		err = gl.SetStatus(ctx, "42", shas[i], gitlab.Status{
			State:       "pending",
			Name:        "core-pipeline",
			Ref:         "main",
			TargetURL:   pipelines.ExecutionURL("core-pipeline", id),
			Description: "CodePipeline core-pipeline started by pipegate for push to main by jsmith",
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWebhookLimit makes only the two HTTP calls a push cannot avoid, to the
// same stand-ins, with plain net/http: the floor BenchmarkWebhookPush is held to.
func BenchmarkWebhookLimit(b *testing.B) {
	cp := emulator.NewCodePipeline("core-pipeline")
	gl := emulator.NewGitLab(glToken)
	gl.AddProject(42, "team/core", "main")
	cpSrv, glSrv := httptest.NewServer(cp), httptest.NewServer(gl)
	defer cpSrv.Close()
	defer glSrv.Close()
	client := &http.Client{}
	statusURL := glSrv.URL + "/api/v4/projects/42/statuses/" + headSHA
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := fmt.Sprintf(`{"name":"core-pipeline","clientRequestToken":"t%d","sourceRevisions":[{"actionName":"Source","revisionType":"COMMIT_ID","revisionValue":"%s"}]}`, i, headSHA)
		req, _ := http.NewRequest(http.MethodPost, cpSrv.URL, bytes.NewBufferString(start))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "CodePipeline_20150709.StartPipelineExecution")
		do(b, client, req)
		// Cycle the state so that GitLab accepts every post.
		state := [...]string{"pending", "running", "success"}[i%3]
		form := url.Values{"state": {state}, "name": {"core-pipeline"}, "ref": {"main"}}
		req, _ = http.NewRequest(http.MethodPost, statusURL, bytes.NewBufferString(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("PRIVATE-TOKEN", glToken)
		do(b, client, req)
	}
}

func do(b *testing.B, c *http.Client, req *http.Request) {
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		b.Fatalf("%s: %d", req.URL, resp.StatusCode)
	}
}
