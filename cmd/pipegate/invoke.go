package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/wire"
)

func invokeCommand() *command {
	c := newCommand("invoke", "run the functions on sample events, locally")
	c.args = "EVENT.json..."
	c.minArgs, c.maxArgs = 1, -1
	c.argsHint = "name at least one event file, e.g. events/push.json"
	c.help = `Runs each event file, in order, through the function that would receive it in
AWS: API Gateway events (see events/) through the webhook function, EventBridge
events through the pipeline-events function, against local CodePipeline and
GitLab stand-ins, and prints the answers, the executions started and the commit
statuses posted. The routing file is PIPEGATE_CONFIG, else the bundled one; the
webhook's secret token is WEBHOOK_SECRET, else ` + localSecret + `, which the samples carry.`
	c.run = func(ctx context.Context, e *env, files []string) error {
		return invoke(ctx, files, e.getenv, e.stdout, e.stderr)
	}
	return c
}

// localSecret is the webhook token the sample events in events/ carry.
const (
	localSecret = "pipegate-local-secret"
	localToken  = "glpat-local-example"
)

// invoke runs each event file, in order, through the handler of the function that
// would receive it in AWS (webhook events through the webhook function's, EventBridge
// events through the pipeline-events function's), against one set of stand-ins, so
// that a repeated event shows up as a duplicate and a CodePipeline event finds the
// execution a push started. The stand-in numbers executions from
// 00000001-0000-4000-800c-000000000001, as the samples in events/ do.
func invoke(ctx context.Context, files []string, getenv func(string) string, stdout, stderr io.Writer) error {
	routes, _, err := wire.LoadRouting(getenv)
	if err != nil {
		return err
	}
	cp := emulator.NewCodePipeline()
	for _, s := range routes.Services {
		cp.AddPipeline(s.Pipeline)
	}
	gl := emulator.NewGitLab(localToken)
	for _, p := range standInProjects(routes) {
		gl.AddProject(p.id, p.path, "main")
	}
	cpURL, glURL := listen(cp), listen(gl)
	glClient, err := gitlab.New(glURL, localToken, nil)
	if err != nil {
		return err
	}
	a, err := wire.ForWebhook(ctx, getenv, slog.New(slog.NewJSONHandler(stderr, nil)),
		wire.Routes(routes), wire.Secret(localWebhookSecret(getenv)), wire.AWS(standInAWS(cpURL)), wire.GitLab(glClient), wire.InMemory())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pipegate: %d services routed; CodePipeline stand-in at %s, GitLab stand-in at %s\n\n", len(routes.Services), cpURL, glURL)

	seenExec, seenStatus := 0, 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read event: %w", err)
		}
		if isEventBridge(b) {
			// A CodePipeline event (or the reconciler's schedule): the pipeline-events function's.
			fmt.Fprintf(stdout, "→ %s  EventBridge\n", f)
			ans, err := a.PipelineEvent(ctx, b)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			out, _ := json.Marshal(ans)
			fmt.Fprintf(stdout, "← %s\n", out)
		} else {
			req, err := webhookEvent(f, b)
			if err != nil {
				return err
			}
			registerProject(gl, req)
			fmt.Fprintf(stdout, "→ %s  %s\n", f, req.Headers["x-gitlab-event"])
			resp, err := a.WebhookHTTPAPI(ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "← %d %s\n", resp.StatusCode, resp.Body)
		}
		ex := cp.Executions()
		for _, e := range ex[seenExec:] {
			rev := e.SourceRevisions[0]
			fmt.Fprintf(stdout, "  CodePipeline: started %s, execution %s, %s %s = %s\n", e.Pipeline, e.ID, rev.ActionName, rev.RevisionType, rev.RevisionValue)
		}
		st := gl.Statuses()
		for _, s := range st[seenStatus:] {
			fmt.Fprintf(stdout, "  GitLab: %s@%.8s status %q = %s (ref %s): %s\n", s.Project, s.SHA, s.Name, s.State, s.Ref, s.Description)
		}
		seenExec, seenStatus = len(ex), len(st)
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "%d pipeline executions started, %d commit statuses posted\n", seenExec, seenStatus)
	return nil
}

// localWebhookSecret is the webhook's secret token of local runs: WEBHOOK_SECRET,
// else the one the samples carry.
func localWebhookSecret(getenv func(string) string) string {
	if s := getenv("WEBHOOK_SECRET"); s != "" {
		return s
	}
	return localSecret
}

// standInAWS is the AWS configuration that reaches a CodePipeline stand-in at url.
func standInAWS(url string) aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", ""),
		BaseEndpoint: aws.String(url),
	}
}

// listen serves h on a loopback port for the life of the command.
func listen(h http.Handler) string { return httptest.NewServer(h).URL }

func webhookEvent(path string, b []byte) (events.APIGatewayV2HTTPRequest, error) {
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return req, fmt.Errorf("%s is not an API Gateway HTTP API event: %w", path, err)
	}
	return req, nil
}

// isEventBridge tells an EventBridge envelope from an API Gateway event.
func isEventBridge(b []byte) bool {
	var env struct {
		DetailType *string `json:"detail-type"`
	}
	return json.Unmarshal(b, &env) == nil && env.DetailType != nil
}

// registerProject tells the GitLab stand-in about the event's project, so that
// statuses posted by its numeric id land.
func registerProject(gl *emulator.GitLab, req events.APIGatewayV2HTTPRequest) {
	h, body, err := app.HTTPAPIDelivery(req)
	if err != nil {
		return // the webhook refuses it
	}
	ev, err := gitlabhook.Decode(h, body)
	if err == nil && ev.Push != nil && ev.Push.ProjectID != 0 {
		gl.AddProject(ev.Push.ProjectID, ev.Push.Project, ev.Push.DefaultBranch)
	}
}
