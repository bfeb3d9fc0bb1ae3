package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/queue"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	secret   = "s3cret-token"
	glToken  = "glpat-test"
	queueURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/pipegate-retry"
)

// routes is the tests' own routing file: two plain services and a monorepo of two.
var routes = func() string {
	b, err := os.ReadFile("testdata/routing.yaml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// world is pipegate wired to wire-level stand-ins of CodePipeline, GitLab and SQS
// through the real aws-sdk-go-v2 and GitLab clients.
type world struct {
	t     testing.TB
	cp    *emulator.CodePipeline
	gl    *emulator.GitLab
	sqs   *emulator.SQS
	store app.Store
	app   *app.App
	logs  *testenv.Buffer
	clock testClock // see withClock
}

type option func(*world)

// withoutQueue runs pipegate with no retry queue, as locally.
func withoutQueue(w *world) { w.app.Queue = nil }

// withStore uses s instead of the in-memory store.
func withStore(s app.Store) option { return func(w *world) { w.store, w.app.Store = s, s } }

func newWorld(t testing.TB, opts ...option) *world {
	t.Helper()
	w := &world{
		t:    t,
		cp:   emulator.NewCodePipeline("core-pipeline", "auth-pipeline", "billing-pipeline", "search-pipeline"),
		gl:   emulator.NewGitLab(glToken),
		sqs:  emulator.NewSQS(),
		logs: &testenv.Buffer{},
	}
	w.gl.AddProject(42, "team/core", "main")
	w.gl.AddProject(43, "team/auth", "main")
	w.gl.AddProject(44, "team/platform", "main")
	cfg, err := routing.Parse([]byte(routes))
	if err != nil {
		t.Fatal(err)
	}
	glClient, err := gitlab.New(serve(t, w.gl), glToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.store = store.NewMemory()
	w.app = &app.App{
		Routes:    cfg,
		Secret:    secret,
		Store:     w.store,
		Pipelines: codepipeline.New(testenv.AWSStandIn(t, w.cp)),
		GitLab:    glClient,
		Queue:     queue.New(testenv.AWSStandIn(t, w.sqs), queueURL),
		Log:       slog.New(slog.NewJSONHandler(w.logs, nil)),
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// delivery is one GitLab webhook delivery as API Gateway hands it to the function.
type delivery struct {
	event   string
	body    []byte
	headers map[string]string
}

// deliver sends d through the function's API Gateway entry point.
func (w *world) deliver(d delivery) (int, app.Answer) {
	w.t.Helper()
	h := map[string]string{
		"content-type":          "application/json",
		"x-gitlab-event":        d.event,
		"x-gitlab-token":        secret,
		"x-gitlab-event-uuid":   "uuid-" + d.event,
		"x-gitlab-webhook-uuid": "hook-1",
		"user-agent":            "GitLab/18.5.0",
	}
	maps.Copy(h, d.headers)
	for k, v := range h {
		if v == "" {
			delete(h, k)
		}
	}
	resp, err := w.app.WebhookHTTPAPI(context.Background(), events.APIGatewayV2HTTPRequest{
		RouteKey: "POST /webhook",
		RawPath:  "/webhook",
		Headers:  h,
		Body:     string(d.body),
	})
	if err != nil {
		w.t.Fatalf("webhook returned an error: %v", err)
	}
	var ans app.Answer
	if err := json.Unmarshal([]byte(resp.Body), &ans); err != nil {
		w.t.Fatalf("answer is not JSON: %v: %s", err, resp.Body)
	}
	return resp.StatusCode, ans
}

// drain runs the retry consumer over every message on the queue, as the SQS
// event source would, and returns the batch item failures.
func (w *world) drain() []events.SQSBatchItemFailure {
	w.t.Helper()
	var ev events.SQSEvent
	for _, m := range w.sqs.Messages() {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: m.MessageID, Body: m.Body, EventSource: "aws:sqs"})
	}
	resp, err := w.app.Retry(context.Background(), ev)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.BatchItemFailures
}

// starts is how many executions CodePipeline really started.
func (w *world) starts() int { return len(w.cp.Executions()) }

// payload loads a real GitLab payload and edits it.
func payload(t testing.TB, name string, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile("../gitlabhook/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const (
	headSHA = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" // checkout_sha of GitLab's push example
	zeroSHA = "0000000000000000000000000000000000000000"
)

// project moves a payload to one of the world's projects.
func project(m map[string]any, id int, path string) {
	m["project_id"] = id
	p := m["project"].(map[string]any)
	p["id"] = id
	p["path_with_namespace"] = path
	p["default_branch"] = "main"
}

// pushTo is GitLab's documented push example, to branch of project.
func pushTo(t testing.TB, id int, path, branch string, edit ...func(m map[string]any)) []byte {
	return payload(t, "webhook_push.json", func(m map[string]any) {
		project(m, id, path)
		m["ref"] = "refs/heads/" + branch
		m["total_commits_count"] = 2
		for _, e := range edit {
			e(m)
		}
	})
}

// files sets the files the push's commits touched.
func files(paths ...string) func(m map[string]any) {
	return func(m map[string]any) {
		for i, c := range m["commits"].([]any) {
			c := c.(map[string]any)
			c["added"], c["modified"], c["removed"] = []string{}, []string{}, []string{}
			if i == 0 {
				c["modified"] = paths
			}
		}
	}
}

// logLines returns the decoded log lines whose msg is msg.
func logLines(s *testenv.Buffer, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}
