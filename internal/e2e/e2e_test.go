//go:build linux

package e2e

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/routing"
)

// The fresh push of the retry case: a delivery and a commit no other case uses.
const (
	retryDelivery = "8a0c2e4f-6b8d-4f1a-9c3e-5d7f9b1d3e50"
	retryEventID  = "1f3b5d7f-9a2c-4e6a-8b0d-2c4e6a8c0e71"
	retryCommit   = "5d8a1c4f7b0e3a6d9c2f5b8e1a4d7c0f3b6e9a2d"
)

// TestFunctionsUnderRIE builds both functions, runs them under the Lambda Runtime
// Interface Emulator against the stand-ins, and drives them with the bundled
// events. The cases run in order and share the stand-ins and the webhook's
// in-memory store, as deliveries to one warm function do; each checks what it
// changed, not totals.
func TestFunctionsUnderRIE(t *testing.T) {
	root := repoRoot(t)
	bin := buildAll(t, root)

	// The stand-ins, as the deployment's AWS and GitLab.
	routes, err := routing.Parse(pipegate.DefaultRouting())
	if err != nil {
		t.Fatalf("parse the bundled pipegate.yaml: %v", err)
	}
	var pipelines []string
	for _, s := range routes.Services {
		pipelines = append(pipelines, s.Pipeline)
	}
	w := &world{
		cp:  emulator.NewCodePipeline(pipelines...),
		sqs: emulator.NewSQS(),
	}
	cpSrv := httptest.NewServer(w.cp)
	t.Cleanup(cpSrv.Close)
	sqsSrv := httptest.NewServer(w.sqs)
	t.Cleanup(sqsSrv.Close)
	queueURL := sqsSrv.URL + "/000000000000/pipegate-retry"

	// The environment sam local gives the functions (events/env.json), with the
	// stand-ins' addresses.
	env := readEnvJSON(t, root)
	secret, token := env["WebhookFunction"]["WEBHOOK_SECRET"], env["WebhookFunction"]["GITLAB_TOKEN"]
	if secret == "" || token == "" {
		t.Fatal("events/env.json: WebhookFunction needs WEBHOOK_SECRET and GITLAB_TOKEN")
	}
	w.gl = emulator.NewGitLab(token)
	push := readPush(t, root, "push.json")
	id, err := strconv.ParseInt(push.ProjectID, 10, 64)
	if err != nil {
		t.Fatalf("events/push.json: project_id %q: %v", push.ProjectID, err)
	}
	w.gl.AddProject(id, push.Project, push.DefaultBranch)
	glSrv := httptest.NewServer(w.gl)
	t.Cleanup(glSrv.Close)

	// A minimal environment: nothing of the developer's (AWS profiles, tokens)
	// reaches the functions. HOME is empty so that no ~/.aws is read.
	common := map[string]string{
		"PATH":                          os.Getenv("PATH"),
		"HOME":                          t.TempDir(),
		"AWS_REGION":                    "eu-west-1",
		"AWS_ACCESS_KEY_ID":             "AKIDE2EDUMMY",
		"AWS_SECRET_ACCESS_KEY":         "e2e-dummy-secret-key",
		"AWS_ENDPOINT_URL_CODEPIPELINE": cpSrv.URL,
		"AWS_ENDPOINT_URL_SQS":          sqsSrv.URL,
		"AWS_XRAY_SDK_DISABLED":         "true",
		"GITLAB_URL":                    glSrv.URL,
	}
	webhookEnv := envList(env["WebhookFunction"], common, map[string]string{"RETRY_QUEUE_URL": queueURL})
	retryEnv := envList(env["RetryFunction"], common)
	webhook := startFunction(t, "webhook", bin.rie, bin.webhook, webhookEnv)
	retry := startFunction(t, "retry", bin.rie, bin.retry, retryEnv)

	t.Run("push starts the pipeline and posts pending", func(t *testing.T) {
		before := w.snapshot()
		status, ans := webhook.deliver(t, push.Event)
		if status != http.StatusOK || ans.Result != "started" {
			t.Fatalf("answer %d %+v, want 200 started", status, ans)
		}
		if ans.Delivery != push.Key {
			t.Errorf("answer delivery %q, want the Idempotency-Key %q", ans.Delivery, push.Key)
		}
		e := w.oneNewExecution(t, before)
		checkExecution(t, e, "core-pipeline", push.CheckoutSHA)
		if len(ans.Started) != 1 || ans.Started[0].Pipeline != "core-pipeline" ||
			ans.Started[0].ExecutionID != e.ID || ans.Started[0].Commit != push.CheckoutSHA || ans.Started[0].Status != "posted" {
			t.Errorf("answer started %+v, want core-pipeline execution %s at %s, status posted", ans.Started, e.ID, push.CheckoutSHA)
		}
		s := w.oneNewStatus(t, before)
		checkPending(t, s, push.Project, push.CheckoutSHA, "core-pipeline", "main")
		if !strings.Contains(s.TargetURL, e.ID) {
			t.Errorf("status target_url %q does not name execution %s", s.TargetURL, e.ID)
		}
		w.noMessages(t, before)
	})

	t.Run("the same delivery again is a duplicate", func(t *testing.T) {
		before := w.snapshot()
		status, ans := webhook.deliver(t, push.Event)
		if status != http.StatusOK || ans.Result != "duplicate" {
			t.Fatalf("answer %d %+v, want 200 duplicate", status, ans)
		}
		w.nothing(t, before)
		if n := len(w.cp.Executions()); n != 1 {
			t.Errorf("%d executions after the duplicate, want still 1", n)
		}
	})

	t.Run("tag push starts the pipeline at checkout_sha", func(t *testing.T) {
		tag := readPush(t, root, "tag-push.json")
		before := w.snapshot()
		status, ans := webhook.deliver(t, tag.Event)
		if status != http.StatusOK || ans.Result != "started" {
			t.Fatalf("answer %d %+v, want 200 started", status, ans)
		}
		if tag.After == tag.CheckoutSHA {
			t.Fatal("events/tag-push.json: an annotated tag's after should differ from checkout_sha")
		}
		e := w.oneNewExecution(t, before)
		checkExecution(t, e, "core-pipeline", tag.CheckoutSHA)
		s := w.oneNewStatus(t, before)
		checkPending(t, s, tag.Project, tag.CheckoutSHA, "core-pipeline", strings.TrimPrefix(tag.Ref, "refs/tags/"))
		w.noMessages(t, before)
	})

	t.Run("unrouted push is ignored without API calls", func(t *testing.T) {
		unrouted := readPush(t, root, "push-unrouted.json")
		before := w.snapshot()
		status, ans := webhook.deliver(t, unrouted.Event)
		if status != http.StatusOK || ans.Result != "ignored" {
			t.Fatalf("answer %d %+v, want 200 ignored", status, ans)
		}
		w.nothing(t, before)
	})

	t.Run("wrong token is refused", func(t *testing.T) {
		bad := readPush(t, root, "bad-token.json")
		before := w.snapshot()
		status, ans := webhook.deliver(t, bad.Event)
		if status != http.StatusUnauthorized || ans.Result != "refused" {
			t.Fatalf("answer %d %+v, want 401 refused", status, ans)
		}
		w.nothing(t, before)
	})

	t.Run("failing CodePipeline queues the push and the retry function starts it", func(t *testing.T) {
		fresh := push.with(t, retryDelivery, retryEventID, retryCommit)
		// Three 500s use up the SDK's three attempts.
		w.cp.FailNext("StartPipelineExecution", 3, emulator.ServerError)
		before := w.snapshot()
		status, ans := webhook.deliver(t, fresh)
		if status != http.StatusAccepted || ans.Result != "queued" || ans.Error == "" {
			t.Fatalf("answer %d %+v, want 202 queued with the error", status, ans)
		}
		if n := w.cp.Calls("StartPipelineExecution") - before.starts; n != 3 {
			t.Errorf("%d StartPipelineExecution calls, want 3 (the SDK's attempts, all failed)", n)
		}
		if n := len(w.cp.Executions()) - len(before.executions); n != 0 {
			t.Errorf("%d executions recorded while CodePipeline failed", n)
		}
		if n := len(w.gl.Statuses()) - len(before.statuses); n != 0 {
			t.Errorf("%d statuses posted for a pipeline that did not start", n)
		}
		msgs := w.sqs.Messages()[len(before.messages):]
		if len(msgs) != 1 {
			t.Fatalf("%d messages on the retry queue, want 1", len(msgs))
		}
		m := msgs[0]
		if m.QueueURL != queueURL || !strings.Contains(m.Body, retryDelivery) || !strings.Contains(m.Body, retryCommit) {
			t.Fatalf("message on %s: %s; want the job of delivery %s at %s on %s", m.QueueURL, m.Body, retryDelivery, retryCommit, queueURL)
		}

		before = w.snapshot()
		var resp events.SQSEventResponse
		retry.call(t, sqsEvent(t, m), &resp)
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("retry reported batch item failures %+v", resp.BatchItemFailures)
		}
		e := w.oneNewExecution(t, before)
		checkExecution(t, e, "core-pipeline", retryCommit)
		s := w.oneNewStatus(t, before)
		checkPending(t, s, push.Project, retryCommit, "core-pipeline", "main")
		w.noMessages(t, before)
	})

	t.Run("logs are JSON without secrets", func(t *testing.T) {
		for _, f := range []*function{webhook, retry} {
			out := f.out.String()
			for name, v := range map[string]string{"webhook secret": secret, "GitLab token": token} {
				if strings.Contains(out, v) {
					t.Errorf("%s output contains the %s", f.name, name)
				}
			}
			msgs := map[string]bool{}
			for _, rec := range f.functionLogs(t) {
				msg, _ := rec["msg"].(string)
				msgs[msg] = true
			}
			want := map[*function][]string{
				webhook: {"pipegate ready", "pipeline started", "status posted", "push queued for retry"},
				retry:   {"pipegate ready", "pipeline started", "status posted", "retry done"},
			}[f]
			for _, m := range want {
				if !msgs[m] {
					t.Errorf("%s logged no %q record; it logged %q", f.name, m, slices.Sorted(maps.Keys(msgs)))
				}
			}
		}
	})

	// The numbers a note on cold starts needs.
	for _, f := range []struct {
		fn  *function
		bin string
	}{{webhook, bin.webhook}, {retry, bin.retry}} {
		fi, err := os.Stat(f.bin)
		if err != nil {
			t.Fatal(err)
		}
		initMS, ok := f.fn.initDuration()
		if !ok {
			t.Errorf("%s: the emulator reported no INIT REPORT(durationMs: ...)", f.fn.name)
			continue
		}
		reportMS, _ := f.fn.reportInitDuration()
		t.Logf("%s: bootstrap %d bytes (GOARCH=%s, not stripped); INIT REPORT %.1f ms (REPORT line's Init Duration: %.2f ms)",
			f.fn.name, fi.Size(), runtime.GOARCH, initMS, reportMS)
	}
}

// world is the stand-ins the functions talk to.
type world struct {
	cp  *emulator.CodePipeline
	gl  *emulator.GitLab
	sqs *emulator.SQS
}

// snapshot is what the stand-ins had recorded before a case.
type snapshot struct {
	executions  []emulator.Execution
	statuses    []emulator.CommitStatus
	messages    []emulator.SQSMessage
	starts      int // StartPipelineExecution calls, faulted ones included
	glStatuses  int // status calls, refused ones included
	glCompares  int
	glMRs       int
	glApprovals int
}

func (w *world) snapshot() snapshot {
	return snapshot{
		executions:  w.cp.Executions(),
		statuses:    w.gl.Statuses(),
		messages:    w.sqs.Messages(),
		starts:      w.cp.Calls("StartPipelineExecution"),
		glStatuses:  w.gl.Calls("statuses"),
		glCompares:  w.gl.Calls("compare"),
		glMRs:       w.gl.Calls("merge_requests"),
		glApprovals: w.gl.Calls("approvals"),
	}
}

// nothing checks that no call reached CodePipeline, GitLab or the queue since before.
func (w *world) nothing(t *testing.T, before snapshot) {
	t.Helper()
	now := w.snapshot()
	if now.starts != before.starts || len(now.executions) != len(before.executions) {
		t.Errorf("CodePipeline: %d StartPipelineExecution calls, %d executions; want none",
			now.starts-before.starts, len(now.executions)-len(before.executions))
	}
	if now.glStatuses != before.glStatuses || now.glCompares != before.glCompares ||
		now.glMRs != before.glMRs || now.glApprovals != before.glApprovals {
		t.Errorf("GitLab: %d status, %d compare, %d merge request, %d approvals calls; want none",
			now.glStatuses-before.glStatuses, now.glCompares-before.glCompares,
			now.glMRs-before.glMRs, now.glApprovals-before.glApprovals)
	}
	w.noMessages(t, before)
}

func (w *world) noMessages(t *testing.T, before snapshot) {
	t.Helper()
	if n := len(w.sqs.Messages()) - len(before.messages); n != 0 {
		t.Errorf("%d messages on the retry queue, want none", n)
	}
}

func (w *world) oneNewExecution(t *testing.T, before snapshot) emulator.Execution {
	t.Helper()
	all := w.cp.Executions()
	if len(all)-len(before.executions) != 1 {
		t.Fatalf("%d new executions, want 1: %+v", len(all)-len(before.executions), all[len(before.executions):])
	}
	return all[len(all)-1]
}

func (w *world) oneNewStatus(t *testing.T, before snapshot) emulator.CommitStatus {
	t.Helper()
	all := w.gl.Statuses()
	if len(all)-len(before.statuses) != 1 {
		t.Fatalf("%d new commit statuses, want 1: %+v", len(all)-len(before.statuses), all[len(before.statuses):])
	}
	return all[len(all)-1]
}

func checkExecution(t *testing.T, e emulator.Execution, pipeline, sha string) {
	t.Helper()
	want := []emulator.SourceRevision{{ActionName: "Source", RevisionType: "COMMIT_ID", RevisionValue: sha}}
	if e.Pipeline != pipeline || !slices.Equal(e.SourceRevisions, want) {
		t.Errorf("execution of %s with %+v, want %s with %+v", e.Pipeline, e.SourceRevisions, pipeline, want)
	}
	if e.ClientRequestToken == "" {
		t.Errorf("execution %s started without a clientRequestToken", e.ID)
	}
}

func checkPending(t *testing.T, s emulator.CommitStatus, project, sha, name, ref string) {
	t.Helper()
	want := emulator.CommitStatus{Project: project, SHA: sha, State: "pending", Name: name, Ref: ref}
	got := emulator.CommitStatus{Project: s.Project, SHA: s.SHA, State: s.State, Name: s.Name, Ref: s.Ref}
	if got != want {
		t.Errorf("status %+v, want %+v", got, want)
	}
}

// answer is the JSON body of the webhook's answers (app.Answer), read as GitLab
// would: by its field names, not the Go type.
type answer struct {
	Result   string `json:"result"`
	Delivery string `json:"delivery"`
	Event    string `json:"event"`
	Reason   string `json:"reason"`
	Started  []struct {
		Service     string `json:"service"`
		Pipeline    string `json:"pipeline"`
		ExecutionID string `json:"execution_id"`
		Commit      string `json:"commit"`
		Status      string `json:"status"`
	} `json:"started"`
	Error string `json:"error"`
}

// deliver invokes the webhook function with an API Gateway HTTP API event and
// returns the HTTP status and answer it gives GitLab.
func (f *function) deliver(t *testing.T, event []byte) (int, answer) {
	t.Helper()
	var resp events.APIGatewayV2HTTPResponse
	f.call(t, event, &resp)
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("response Content-Type %q, want application/json", ct)
	}
	var a answer
	if err := json.Unmarshal([]byte(resp.Body), &a); err != nil {
		t.Fatalf("response body %q is not an answer: %v", resp.Body, err)
	}
	return resp.StatusCode, a
}

// pushEvent is a bundled event file and what the test needs from its payload.
type pushEvent struct {
	Event         []byte
	Key           string // Idempotency-Key
	Ref           string
	After         string
	CheckoutSHA   string
	ProjectID     string
	Project       string
	DefaultBranch string
}

func readPush(t *testing.T, root, name string) pushEvent {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("events/%s: %v", name, err)
	}
	var body struct {
		Ref         string      `json:"ref"`
		After       string      `json:"after"`
		CheckoutSHA string      `json:"checkout_sha"`
		ProjectID   json.Number `json:"project_id"`
		Project     struct {
			Path          string `json:"path_with_namespace"`
			DefaultBranch string `json:"default_branch"`
		} `json:"project"`
	}
	if err := json.Unmarshal([]byte(ev.Body), &body); err != nil {
		t.Fatalf("events/%s: body: %v", name, err)
	}
	return pushEvent{
		Event: raw, Key: ev.Headers["idempotency-key"],
		Ref: body.Ref, After: body.After, CheckoutSHA: body.CheckoutSHA,
		ProjectID: body.ProjectID.String(), Project: body.Project.Path, DefaultBranch: body.Project.DefaultBranch,
	}
}

// with returns the event as another delivery of a push of another commit: new
// Idempotency-Key and X-Gitlab-Event-UUID, and sha wherever the pushed commit was.
func (p pushEvent) with(t *testing.T, key, eventUUID, sha string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(p.Event, &ev); err != nil {
		t.Fatal(err)
	}
	h, _ := ev["headers"].(map[string]any)
	body, _ := ev["body"].(string)
	if h == nil || body == "" || p.CheckoutSHA == "" {
		t.Fatal("push event without headers, body or checkout_sha")
	}
	body = strings.ReplaceAll(body, p.CheckoutSHA, sha)
	h["idempotency-key"] = key
	h["x-gitlab-event-uuid"] = eventUUID
	h["content-length"] = strconv.Itoa(len(body))
	ev["body"] = body
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sqsEvent is the event Lambda's SQS event source mapping delivers for m.
func sqsEvent(t *testing.T, m emulator.SQSMessage) []byte {
	t.Helper()
	ev := events.SQSEvent{Records: []events.SQSMessage{{
		MessageId:      m.MessageID,
		ReceiptHandle:  m.MessageID + "#1",
		Body:           m.Body,
		Attributes:     map[string]string{"ApproximateReceiveCount": "1"},
		EventSource:    "aws:sqs",
		EventSourceARN: "arn:aws:sqs:eu-west-1:000000000000:pipegate-retry",
		AWSRegion:      "eu-west-1",
	}}}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readEnvJSON reads events/env.json: per function, the environment sam local sets.
func readEnvJSON(t *testing.T, root string) map[string]map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "events", "env.json"))
	if err != nil {
		t.Fatalf("read env.json: %v", err)
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("events/env.json: %v", err)
	}
	for _, fn := range []string{"WebhookFunction", "RetryFunction"} {
		if env[fn] == nil {
			t.Fatalf("events/env.json has no %s", fn)
		}
	}
	return env
}

// envList merges environments, later ones winning, into KEY=VALUE form. Empty
// values are left out: the functions treat an empty variable as unset.
func envList(envs ...map[string]string) []string {
	merged := map[string]string{}
	for _, e := range envs {
		maps.Copy(merged, e)
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(merged)) {
		if merged[k] != "" {
			out = append(out, k+"="+merged[k])
		}
	}
	return out
}
