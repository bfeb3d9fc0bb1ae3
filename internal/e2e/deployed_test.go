//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pipegate/pipegate"
	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/params"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/testenv"
)

// The template's resources whose contents the test must know: which secret holds
// what (the template's Outputs say so), and the three functions.
const (
	webhookSecretResource = "WebhookSecret"
	gitLabTokenResource   = "GitLabTokenSecret"
	webhookFunction       = "WebhookFunction"
	retryFunction         = "RetryFunction"
	pipelineEventsFn      = "PipelineEventsFunction"
)

// TestAsDeployed runs each function under the Lambda Runtime Interface Emulator
// with exactly the environment template.yaml declares for it: the Globals'
// variables merged with its own, every !Ref and !GetAtt resolved to what a created
// stack gives (a secret's ARN, a queue's URL, a table's name), and GitLabUrl given
// as a parameter. Beyond those only what Lambda itself provides is set (region,
// credentials, AWS_LAMBDA_*), and the SDK's endpoint overrides pointing at the
// stand-ins; no secret, table or queue is set by hand. The stand-ins hold the
// secrets under the ARNs the template's evaluation gives, the table has the name
// the Table's Ref gives, and the queue is addressed by its real-form URL.
//
// Nothing here depends on what the bundled routing file routes: the service, its
// project, branch, source action and stages are read from it at run time, and the
// payloads are published fixtures (testdata/) rewritten to match.
func TestAsDeployed(t *testing.T) {
	root := repoRoot(t)
	bin := buildAll(t, root)

	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := cfn.Decode(raw)
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	routes, err := routing.Parse(pipegate.DefaultRouting())
	if err != nil {
		t.Fatalf("parse the bundled pipegate.yaml: %v", err)
	}
	push := routedPush(t, routes, readFixture(t, "webhook_push.json"))
	svc := push.service
	t.Logf("routed push: %s (%s) branch %s -> %s, source action %s, staging stage %s",
		push.project, svc.Project, push.branch, svc.Pipeline, svc.SourceAction, svc.StagingStage)

	// The stand-ins.
	var pipelines []string
	for _, s := range routes.Services {
		pipelines = append(pipelines, s.Pipeline)
	}
	token := "glpat-" + rand.Text()
	secret := rand.Text() + rand.Text()
	w := &world{cp: emulator.NewCodePipeline(pipelines...), sqs: emulator.NewSQS(), gl: emulator.NewGitLab(token)}
	w.gl.AddProject(push.projectID, push.project, push.defaultBranch)
	sm := emulator.NewSecretsManager(nil)
	cw := emulator.NewCloudWatch()
	servers := map[string]string{}
	for name, h := range map[string]http.Handler{"codepipeline": w.cp, "sqs": w.sqs, "secretsmanager": sm, "gitlab": w.gl, "cloudwatch": cw} {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		servers[name] = srv.URL
	}

	// The stack as CloudFormation would create it, and the template evaluated for it.
	resources := deployedResources(t, tpl)
	// The parameters samconfig.toml passes for the routing file (pipegate params).
	values, err := params.FromRouting(routes)
	if err != nil {
		t.Fatalf("the routing file's template parameters: %v", err)
	}
	overrides := values.Map()
	overrides["GitLabUrl"] = servers["gitlab"]
	ev, err := cfn.NewEvaluator(tpl, overrides, cfn.WithResources(resources))
	if err != nil {
		t.Fatalf("evaluate template.yaml: %v", err)
	}
	for logical, value := range map[string]string{webhookSecretResource: secret, gitLabTokenResource: token} {
		r, ok := resources[logical]
		if !ok {
			t.Fatalf("template.yaml has no secret %s", logical)
		}
		if err := sm.AddSecret(r.Ref, value); err != nil {
			t.Fatal(err)
		}
	}
	dynamo := testenv.Dynalite(t)
	createTable(t, tpl, ev, resources)

	// What Lambda provides, and the SDK's endpoints: the stand-ins. HOME is an empty
	// directory, so that no ~/.aws of the developer is read.
	lambdaEnv := map[string]string{
		"PATH":                             os.Getenv("PATH"),
		"HOME":                             t.TempDir(),
		"AWS_REGION":                       cfn.Region,
		"AWS_DEFAULT_REGION":               cfn.Region,
		"AWS_ACCESS_KEY_ID":                "ASIAE2EDEPLOYED",
		"AWS_SECRET_ACCESS_KEY":            "e2e-deployed-secret-key",
		"AWS_SESSION_TOKEN":                "e2e-deployed-session-token",
		"AWS_ENDPOINT_URL_CODEPIPELINE":    servers["codepipeline"],
		"AWS_ENDPOINT_URL_DYNAMODB":        dynamo,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": servers["secretsmanager"],
		"AWS_ENDPOINT_URL_SQS":             servers["sqs"],
		"AWS_ENDPOINT_URL_CLOUDWATCH":      servers["cloudwatch"],
	}
	// Where the functions would send X-Ray segments: a socket nothing reads, so
	// that nothing reaches a port of someone else.
	xrayDaemon, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { xrayDaemon.Close() })
	start := func(logical, name, bootstrap string) (*function, map[string]string) {
		env := functionEnv(t, tpl, ev, logical)
		provided := maps.Clone(lambdaEnv)
		maps.Copy(provided, lambdaFunctionEnv(t, tpl, logical, xrayDaemon.LocalAddr().String()))
		for k := range provided {
			if _, ok := env[k]; ok {
				t.Fatalf("%s: template.yaml sets %s, which Lambda or the test sets", logical, k)
			}
		}
		all := maps.Clone(env)
		maps.Copy(all, provided)
		return startFunction(t, name, bin.rie, bootstrap, exactEnv(all)), env
	}
	webhook, webhookEnv := start(webhookFunction, "webhook", bin.webhook)
	retry, _ := start(retryFunction, "retry", bin.retry)
	pipelineEvents, pipelineEventsEnv := start(pipelineEventsFn, "pipeline-events", bin.pipelineEvents)
	if webhookEnv["GITLAB_URL"] != servers["gitlab"] {
		t.Fatalf("template.yaml gives the webhook GITLAB_URL %q, not the GitLabUrl parameter %s", webhookEnv["GITLAB_URL"], servers["gitlab"])
	}

	queueARN := retryEventSource(t, tpl, ev)
	queueURL := ""
	for _, r := range resources {
		if r.Attrs["Arn"] == queueARN {
			queueURL = r.Ref
		}
	}
	if queueURL == "" {
		t.Fatalf("the retry function's event source %s is no queue of the template", queueARN)
	}
	webhookPath := webhookRoute(t, tpl, ev)

	var pushed emulator.Execution
	t.Run("push is answered 200 and posts pending with the token from Secrets Manager", func(t *testing.T) {
		sha := commitSHA("first push")
		before := w.snapshot()
		status, ans := webhook.deliver(t, push.delivery(t, webhookPath, secret, "first push", sha))
		if status != http.StatusOK || ans.Result != "started" {
			t.Fatalf("answer %d %+v, want 200 started", status, ans)
		}
		e := w.oneNewExecution(t, before)
		checkStarted(t, e, svc, sha)
		pushed = e
		// The stand-in accepts only the token that is in Secrets Manager.
		checkPending(t, w.oneNewStatus(t, before), push.project, sha, svc.Pipeline, push.branch)
		w.noMessages(t, before)
	})

	t.Run("stage event posts the stage's status", func(t *testing.T) {
		if pushed.ID == "" {
			t.Fatal("the push case started no execution")
		}
		before := w.snapshot()
		at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
		ans := pipelineEvents.event(t, emulator.StageEvent(svc.Pipeline, pushed.ID, svc.StagingStage, "STARTED", at))
		name := svc.Pipeline + "/" + svc.StagingStage
		want := eventAnswer{Result: "posted", Pipeline: svc.Pipeline, Status: name, State: "running", Commit: pushed.CommitSHA}
		if ans != want {
			t.Errorf("answer %+v, want %+v", ans, want)
		}
		s := w.oneNewStatus(t, before)
		// The ref came from the table the webhook wrote: the two share it.
		if s.Project != push.project || s.SHA != pushed.CommitSHA || s.Name != name || s.State != "running" || s.Ref != push.branch {
			t.Errorf("status %+v, want %s running on %s for %s in %s", s, name, pushed.CommitSHA, push.branch, push.project)
		}
		w.noLookups(t, before)
	})

	t.Run("queued push is finished by the retry function", func(t *testing.T) {
		sha := commitSHA("queued push")
		// CodePipeline fails for as long as the webhook tries.
		w.cp.FailNext("StartPipelineExecution", 1000, emulator.ServerError)
		before := w.snapshot()
		status, ans := webhook.deliver(t, push.delivery(t, webhookPath, secret, "queued push", sha))
		w.cp.Recover("StartPipelineExecution")
		if status != http.StatusAccepted || ans.Result != "queued" {
			t.Fatalf("answer %d %+v, want 202 queued", status, ans)
		}
		if n := len(w.cp.Executions()) - len(before.executions); n != 0 {
			t.Fatalf("%d executions started while CodePipeline failed", n)
		}
		msgs := w.sqs.Messages()[len(before.messages):]
		if len(msgs) != 1 {
			t.Fatalf("%d messages on the retry queue, want 1", len(msgs))
		}
		m := msgs[0]
		if m.QueueURL != queueURL {
			t.Fatalf("message sent to %s, want the RetryQueue's URL %s", m.QueueURL, queueURL)
		}

		before = w.snapshot()
		var resp events.SQSEventResponse
		retry.call(t, deployedSQSEvent(t, m, queueARN), &resp)
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("retry reported batch item failures %+v", resp.BatchItemFailures)
		}
		e := w.oneNewExecution(t, before)
		checkStarted(t, e, svc, sha)
		checkPending(t, w.oneNewStatus(t, before), push.project, sha, svc.Pipeline, push.branch)
		var atSHA int
		for _, x := range w.cp.Executions() {
			if x.CommitSHA == sha {
				atSHA++
			}
		}
		if atSHA != 1 {
			t.Errorf("%d executions at %s, want 1", atSHA, sha)
		}
		w.noMessages(t, before)
	})

	t.Run("reconcile reports pipegate's webhook GitLab disabled", func(t *testing.T) {
		// The hook at the URL the template gives the function, as pipegate hooks adds it.
		url := pipelineEventsEnv["WEBHOOK_URL"]
		if !strings.HasPrefix(url, "https://"+resources["HttpApi"].Ref+".execute-api.") || !strings.HasSuffix(url, "/webhook") {
			t.Fatalf("WEBHOOK_URL %q is not the HttpApi's webhook URL", url)
		}
		until := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
		w.gl.AddHook(push.project, emulator.Hook{URL: url, PushEvents: true, TagPushEvents: true, MergeRequestsEvents: true,
			EnableSSLVerification: true, AlertStatus: "temporarily_disabled", DisabledUntil: until})
		if ans := pipelineEvents.event(t, readEvent(t, root, "scheduled.json").Raw); ans.Result != "reconciled" {
			t.Errorf("answer %+v, want reconciled", ans)
		}
		data := cw.Data()
		if len(data) != 1 || data[0].Namespace != "pipegate" || data[0].MetricName != "DisabledHooks" || data[0].Value != 1 ||
			!strings.HasPrefix(data[0].Dimensions["FunctionName"], cfn.StackName+"-"+pipelineEventsFn+"-") {
			t.Errorf("CloudWatch received %+v, want DisabledHooks=1 of the function", data)
		}
		var logged bool
		for _, rec := range pipelineEvents.functionLogs(t) {
			if rec["level"] == "ERROR" && rec["project"] == push.project && rec["disabled_until"] == until.Format(time.RFC3339) {
				logged = true
			}
		}
		if !logged {
			t.Errorf("no error line names %s and disabled_until %s", push.project, until.Format(time.RFC3339))
		}
	})

	t.Run("each function read its secrets from Secrets Manager", func(t *testing.T) {
		want := map[*function]map[string]string{
			webhook: {
				"WEBHOOK_SECRET": "secretsmanager:" + resources[webhookSecretResource].Ref,
				"GITLAB_TOKEN":   "secretsmanager:" + resources[gitLabTokenResource].Ref,
			},
			retry:          {"GITLAB_TOKEN": "secretsmanager:" + resources[gitLabTokenResource].Ref},
			pipelineEvents: {"GITLAB_TOKEN": "secretsmanager:" + resources[gitLabTokenResource].Ref},
		}
		for _, f := range []*function{webhook, retry, pipelineEvents} {
			out := f.out.String()
			for what, v := range map[string]string{"webhook secret": secret, "GitLab token": token} {
				if strings.Contains(out, v) {
					t.Errorf("%s output contains the %s", f.name, what)
				}
			}
			loaded := map[string]string{}
			for _, rec := range f.functionLogs(t) {
				switch rec["msg"] {
				case "secret missing":
					t.Errorf("%s: %v", f.name, rec)
				case "secret loaded":
					v, _ := rec["variable"].(string)
					loaded[v], _ = rec["source"].(string)
				}
			}
			if !maps.Equal(loaded, want[f]) {
				t.Errorf("%s loaded secrets %v, want %v", f.name, loaded, want[f])
			}
		}
		// Once per cold start: two for the webhook, one for each of the others.
		if n := sm.Calls("GetSecretValue"); n != 4 {
			t.Errorf("%d GetSecretValue calls, want 4", n)
		}
	})
}

// deployedResources gives the resources the functions' environment can name the
// values CloudFormation gives them once created: names made of the stack's, the
// resource's logical id and a random suffix, in the account and region of
// internal/cfn. A resource of another type gets none, so that a reference to it
// fails the evaluation rather than reaching a function as a token.
func deployedResources(t *testing.T, tpl map[string]any) map[string]cfn.Resource {
	t.Helper()
	res, _ := cfn.Lookup(tpl, "Resources").(map[string]any)
	suffix := func(n int) string { return rand.Text()[:n] }
	out := map[string]cfn.Resource{}
	for logical, def := range res {
		typ, _ := cfn.Lookup(def, "Type").(string)
		props := cfn.Lookup(def, "Properties")
		named := func(prop, generated string) string {
			if v, ok := cfn.AsString(cfn.Lookup(props, prop)); ok {
				return v
			}
			if cfn.Lookup(props, prop) != nil {
				t.Fatalf("%s: %s is not a literal name; the test cannot name it", logical, prop)
			}
			return generated
		}
		switch typ {
		case "AWS::SecretsManager::Secret":
			name := named("Name", logical+"-"+suffix(12))
			arn := fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-%s", cfn.Partition, cfn.Region, cfn.AccountID, name, suffix(6))
			out[logical] = cfn.Resource{Ref: arn, Attrs: map[string]string{"Id": arn}}
		case "AWS::SQS::Queue":
			name := named("QueueName", cfn.StackName+"-"+logical+"-"+suffix(12))
			url := fmt.Sprintf("https://sqs.%s.%s/%s/%s", cfn.Region, cfn.URLSuffix, cfn.AccountID, name)
			arn := fmt.Sprintf("arn:%s:sqs:%s:%s:%s", cfn.Partition, cfn.Region, cfn.AccountID, name)
			out[logical] = cfn.Resource{Ref: url, Attrs: map[string]string{"Arn": arn, "QueueName": name, "QueueUrl": url}}
		case "AWS::Serverless::HttpApi":
			// Its Ref is the API's id, the first label of its execute-api host.
			out[logical] = cfn.Resource{Ref: strings.ToLower(rand.Text()[:10])}
		case "AWS::DynamoDB::Table":
			name := named("TableName", cfn.StackName+"-"+logical+"-"+suffix(12))
			arn := fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", cfn.Partition, cfn.Region, cfn.AccountID, name)
			out[logical] = cfn.Resource{Ref: name, Attrs: map[string]string{"Arn": arn}}
		}
	}
	return out
}

// functionEnv is the environment template.yaml declares for the function logical:
// Globals.Function.Environment.Variables merged with its own (its own win, as in
// SAM), evaluated. Variables declared empty stay, empty, as Lambda sets them.
func functionEnv(t *testing.T, tpl map[string]any, ev *cfn.Evaluator, logical string) map[string]string {
	t.Helper()
	if cfn.Lookup(tpl, "Resources", logical) == nil {
		t.Fatalf("template.yaml has no %s", logical)
	}
	vars := map[string]any{}
	for _, m := range []any{
		cfn.Lookup(tpl, "Globals", "Function", "Environment", "Variables"),
		cfn.Lookup(tpl, "Resources", logical, "Properties", "Environment", "Variables"),
	} {
		if m, ok := m.(map[string]any); ok {
			maps.Copy(vars, m)
		}
	}
	v, err := ev.Eval(vars)
	if err != nil {
		t.Fatalf("%s: environment: %v", logical, err)
	}
	env := map[string]string{}
	for k, x := range v.(map[string]any) {
		s, ok := cfn.AsString(x)
		if !ok {
			t.Fatalf("%s: %s is %#v, not a string", logical, k, x)
		}
		env[k] = s
	}
	return env
}

// lambdaFunctionEnv is what Lambda, and the emulator after it, make of the
// function's configuration: its name, memory and timeout (the emulator enforces
// AWS_LAMBDA_FUNCTION_TIMEOUT), and with Tracing: Active the X-Ray daemon's
// address and the SDK's context-missing strategy, LOG_ERROR, as Lambda sets them.
//
// What X-Ray does under the emulator: nothing. Its Go Runtime API (the classic
// path of cmd/aws-lambda-rie) traces with a no-op tracer that never passes a
// Lambda-Runtime-Trace-Id to the runtime, whatever X-Amzn-Trace-Id the invocation
// carries, so aws-lambda-go puts an empty trace header in the context and
// internal/trace begins no subsegment. With AWS_XRAY_SDK_DISABLED "false" the
// functions must then work, and write no X-Ray line (functionLogs refuses a line
// that is not JSON, such as the SDK's context-missing error). The traced path,
// with Lambda's header, is internal/trace's TestLambdaTraceHeader.
func lambdaFunctionEnv(t *testing.T, tpl map[string]any, logical, xrayDaemon string) map[string]string {
	t.Helper()
	prop := func(name string) (string, bool) {
		for _, v := range []any{
			cfn.Lookup(tpl, "Resources", logical, "Properties", name),
			cfn.Lookup(tpl, "Globals", "Function", name),
		} {
			if s, ok := cfn.AsString(v); ok {
				return s, true
			}
		}
		return "", false
	}
	must := func(name string) string {
		v, ok := prop(name)
		if !ok {
			t.Fatalf("%s: no %s in template.yaml", logical, name)
		}
		return v
	}
	env := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        cfn.StackName + "-" + logical + "-" + rand.Text()[:12],
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": must("MemorySize"),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     must("Timeout"),
	}
	if tracing, _ := prop("Tracing"); tracing == "Active" {
		env["AWS_XRAY_DAEMON_ADDRESS"] = xrayDaemon
		env["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
	}
	return env
}

// exactEnv is env in KEY=VALUE form, empty values included.
func exactEnv(env map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// createTable creates, in dynalite, the table the template declares, under the
// name its Ref gives, with its keys.
func createTable(t *testing.T, tpl map[string]any, ev *cfn.Evaluator, resources map[string]cfn.Resource) {
	t.Helper()
	var found bool
	for logical, r := range resources {
		def := cfn.Lookup(tpl, "Resources", logical)
		if typ, _ := cfn.Lookup(def, "Type").(string); typ != "AWS::DynamoDB::Table" {
			continue
		}
		found = true
		props, err := ev.Eval(cfn.Lookup(def, "Properties"))
		if err != nil {
			t.Fatalf("%s: %v", logical, err)
		}
		m, _ := props.(map[string]any)
		b, err := json.Marshal(map[string]any{
			"TableName": r.Ref, "AttributeDefinitions": m["AttributeDefinitions"],
			"KeySchema": m["KeySchema"], "BillingMode": m["BillingMode"],
		})
		if err != nil {
			t.Fatal(err)
		}
		var in dynamodb.CreateTableInput
		if err := json.Unmarshal(b, &in); err != nil {
			t.Fatalf("%s: %v", logical, err)
		}
		client := testenv.DynamoClient(t)
		ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		defer cancel()
		if _, err := client.CreateTable(ctx, &in); err != nil {
			t.Fatalf("create table %s: %v", r.Ref, err)
		}
		waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 5*time.Millisecond, 50*time.Millisecond
		})
		if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &r.Ref}, readyTimeout); err != nil {
			t.Fatalf("wait for table %s: %v", r.Ref, err)
		}
	}
	if !found {
		t.Fatal("template.yaml declares no DynamoDB table")
	}
}

// retryEventSource is the ARN of the queue the retry function's SQS event source
// reads.
func retryEventSource(t *testing.T, tpl map[string]any, ev *cfn.Evaluator) string {
	t.Helper()
	evs, _ := cfn.Lookup(tpl, "Resources", retryFunction, "Properties", "Events").(map[string]any)
	for _, e := range evs {
		if cfn.Lookup(e, "Type") != "SQS" {
			continue
		}
		v, err := ev.Eval(cfn.Lookup(e, "Properties", "Queue"))
		if err != nil {
			t.Fatalf("%s: SQS event: %v", retryFunction, err)
		}
		if s, ok := v.(string); ok {
			return s
		}
	}
	t.Fatalf("%s has no SQS event", retryFunction)
	return ""
}

// webhookRoute is the path of the webhook function's POST route of the HTTP API.
func webhookRoute(t *testing.T, tpl map[string]any, ev *cfn.Evaluator) string {
	t.Helper()
	evs, _ := cfn.Lookup(tpl, "Resources", webhookFunction, "Properties", "Events").(map[string]any)
	for _, e := range evs {
		if cfn.Lookup(e, "Type") != "HttpApi" {
			continue
		}
		// Only the route: ApiId names the API, which the test does not create.
		v, err := ev.Eval(map[string]any{"Method": cfn.Lookup(e, "Properties", "Method"), "Path": cfn.Lookup(e, "Properties", "Path")})
		if err != nil {
			t.Fatalf("%s: HttpApi event: %v", webhookFunction, err)
		}
		if m, _ := v.(map[string]any); strings.EqualFold(fmt.Sprint(m["Method"]), "POST") {
			if p, ok := m["Path"].(string); ok {
				return p
			}
		}
	}
	t.Fatalf("%s has no POST route", webhookFunction)
	return ""
}

// deployedSQSEvent is the event the retry function's event source mapping delivers
// for m, from the queue queueARN.
func deployedSQSEvent(t *testing.T, m emulator.SQSMessage, queueARN string) []byte {
	t.Helper()
	ev := events.SQSEvent{Records: []events.SQSMessage{{
		MessageId:     m.MessageID,
		ReceiptHandle: m.MessageID + "#1",
		Body:          m.Body,
		Attributes: map[string]string{
			"ApproximateReceiveCount": "1",
			"SentTimestamp":           strconv.FormatInt(time.Now().UnixMilli(), 10),
		},
		Md5OfBody:      md5Hex(m.Body),
		EventSource:    "aws:sqs",
		EventSourceARN: queueARN,
		AWSRegion:      cfn.Region,
	}}}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkStarted(t *testing.T, e emulator.Execution, svc routing.Service, sha string) {
	t.Helper()
	want := []emulator.SourceRevision{{ActionName: svc.SourceAction, RevisionType: "COMMIT_ID", RevisionValue: sha}}
	if e.Pipeline != svc.Pipeline || !slices.Equal(e.SourceRevisions, want) || e.ClientRequestToken == "" {
		t.Errorf("execution of %s with %+v (token %q), want %s with %+v and a clientRequestToken",
			e.Pipeline, e.SourceRevisions, e.ClientRequestToken, svc.Pipeline, want)
	}
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// commitSHA is a commit id made from what.
func commitSHA(what string) string {
	sum := sha1.Sum([]byte(what))
	return hex.EncodeToString(sum[:])
}

// pushTarget is a push the bundled routing file routes to exactly one service,
// made from GitLab's push payload.
type pushTarget struct {
	service       routing.Service
	projectID     int64
	project       string // path_with_namespace
	defaultBranch string
	branch        string
	path          string // a changed file the service's paths match; "" if it has none
	fixture       []byte
}

// routedPush finds, in the routing file, a service that a push to a branch of its
// project starts alone, and the push.
func routedPush(t *testing.T, routes *routing.Config, fixture []byte) pushTarget {
	t.Helper()
	var orig struct {
		ProjectID int64 `json:"project_id"`
		Project   struct {
			Path          string `json:"path_with_namespace"`
			DefaultBranch string `json:"default_branch"`
		} `json:"project"`
	}
	if err := json.Unmarshal(fixture, &orig); err != nil {
		t.Fatal(err)
	}
	var tried []string
	for _, s := range routes.Services {
		p := pushTarget{service: s, projectID: orig.ProjectID, project: s.Project, defaultBranch: orig.Project.DefaultBranch, fixture: fixture}
		if id, err := strconv.ParseInt(s.Project, 10, 64); err == nil {
			p.projectID, p.project = id, orig.Project.Path
		}
		p.branch = p.defaultBranch // the service's branches empty: the default branch
		for _, g := range s.Branches {
			if b := literal(g); b != "" {
				p.branch = b
				break
			}
		}
		if len(s.Paths) > 0 {
			p.path = literal(s.Paths[0])
		}
		body := p.body(t, commitSHA("routing"))
		h := http.Header{"X-Gitlab-Event": {"Push Hook"}}
		ev, err := gitlabhook.Decode(h, body)
		if err != nil {
			t.Fatalf("push for %s: %v", s.Name, err)
		}
		r := routes.Match(ev.Push)
		if len(r.Targets) == 1 && r.Targets[0].Pipeline == s.Pipeline && !r.NeedPaths {
			return p
		}
		tried = append(tried, fmt.Sprintf("%s: branch %q path %q: %+v", s.Name, p.branch, p.path, r))
	}
	t.Fatalf("the bundled routing file routes none of the pushes tried to exactly one service:\n%s", strings.Join(tried, "\n"))
	return pushTarget{}
}

var (
	globAlternatives = regexp.MustCompile(`\{([^,}]*)[^}]*\}`)
	globClass        = regexp.MustCompile(`\[!?\^?(\\?.)[^\]]*\]`)
)

// literal is a name that glob matches, for the simple globs of routing files
// ("main", "release/*", "services/core/**"); routing.Match says whether it does.
func literal(glob string) string {
	s := globAlternatives.ReplaceAllString(glob, "$1")
	s = globClass.ReplaceAllString(s, "$1")
	s = strings.NewReplacer("**", "x", "*", "x", "?", "x", `\`, "").Replace(s)
	return s
}

// body is GitLab's push payload, rewritten as a push of sha to the target's branch
// of its project: every commit listed (so that the paths are known), sha the head.
func (p pushTarget) body(t *testing.T, sha string) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(p.fixture))
	dec.UseNumber()
	var b map[string]any
	if err := dec.Decode(&b); err != nil {
		t.Fatal(err)
	}
	project, _ := b["project"].(map[string]any)
	commits, _ := b["commits"].([]any)
	if project == nil || len(commits) == 0 {
		t.Fatal("push fixture without project or commits")
	}
	head, _ := commits[len(commits)-1].(map[string]any)
	if head == nil {
		t.Fatal("push fixture: head commit is not an object")
	}
	oldPath, _ := project["path_with_namespace"].(string)
	id := json.Number(strconv.FormatInt(p.projectID, 10))
	b["project_id"], project["id"] = id, id
	project["path_with_namespace"] = p.project
	project["default_branch"] = p.defaultBranch
	if ns, name, ok := strings.Cut(p.project, "/"); ok {
		project["namespace"], project["name"] = ns, name
	}
	for _, k := range []string{"web_url", "git_ssh_url", "git_http_url", "homepage", "url", "ssh_url", "http_url"} {
		if s, ok := project[k].(string); ok {
			project[k] = strings.Replace(s, oldPath, p.project, 1)
		}
	}
	b["ref"] = "refs/heads/" + p.branch
	b["after"], b["checkout_sha"] = sha, sha
	head["id"] = sha
	if u, ok := head["url"].(string); ok {
		head["url"] = u[:strings.LastIndexByte(u, '/')+1] + sha
	}
	if p.path != "" {
		added, _ := head["added"].([]any)
		head["added"] = append(added, p.path)
	}
	b["total_commits_count"] = len(commits)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// delivery is the API Gateway HTTP API event of GitLab delivering the push of sha
// to the webhook's route: the published request, with GitLab's headers and body.
// what names the delivery (its Idempotency-Key and event UUID derive from it).
func (p pushTarget) delivery(t *testing.T, path, secret, what, sha string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readFixture(t, "apigw-v2-request-no-authorizer.json"), &ev); err != nil {
		t.Fatal(err)
	}
	body := string(p.body(t, sha))
	h, _ := ev["headers"].(map[string]any)
	rc, _ := ev["requestContext"].(map[string]any)
	httpCtx, _ := rc["http"].(map[string]any)
	if h == nil || httpCtx == nil {
		t.Fatal("API Gateway fixture without headers or requestContext.http")
	}
	id := func(kind string) string {
		s := commitSHA(kind + " " + what)
		return s[:8] + "-" + s[8:12] + "-4" + s[13:16] + "-8" + s[17:20] + "-" + s[20:32]
	}
	maps.Copy(h, map[string]any{
		"content-type":          "application/json",
		"content-length":        strconv.Itoa(len(body)),
		"user-agent":            "GitLab/17.8.1",
		"idempotency-key":       id("delivery"),
		"x-gitlab-event":        "Push Hook",
		"x-gitlab-event-uuid":   id("event"),
		"x-gitlab-webhook-uuid": id("webhook"),
		"x-gitlab-instance":     "https://gitlab.example.com",
		"x-gitlab-token":        secret,
	})
	route := "POST " + path
	ev["routeKey"], rc["routeKey"] = route, route
	ev["rawPath"], httpCtx["path"], httpCtx["method"] = path, path, "POST"
	httpCtx["userAgent"] = h["user-agent"]
	ev["body"] = body
	ev["isBase64Encoded"] = false
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}
