//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
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
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/testenv"
)

// TestMain stops the dynalite the test started; on Linux the kernel would too.
func TestMain(m *testing.M) { testenv.Main(m) }

// The fresh push of the retry case: a delivery and a commit no other case uses.
const (
	retryDelivery = "8a0c2e4f-6b8d-4f1a-9c3e-5d7f9b1d3e50"
	retryEventID  = "1f3b5d7f-9a2c-4e6a-8b0d-2c4e6a8c0e71"
	retryCommit   = "5d8a1c4f7b0e3a6d9c2f5b8e1a4d7c0f3b6e9a2d"
)

// The fresh push of the production gate case, and the delivery of its merge
// request's approval.
const (
	gateDelivery   = "2e4a6c8e-0b2d-4f6a-8c1e-3a5c7e9b1d62"
	gateEventID    = "7b9d1f3a-5c7e-4a0c-9e2b-4d6f8a0c2e83"
	gateCommit     = "3f6b9e2c5a8d1f4b7e0a3c6f9b2e5d8a1c4f7b0e"
	gateMR         = 119
	gateMRTitle    = "Retry uploads to the files service"
	gateMRDelivery = "4c6e8a0c-2e4a-4c8e-a0d2-6f8b0d2f4a95"
	gateMREventID  = "9e1a3c5e-7a9c-4e2a-b4d6-8b0d2f4a6c17"
)

// TestFunctionsUnderRIE builds the three functions, runs them under the Lambda
// Runtime Interface Emulator against the stand-ins, and drives them with the
// sample events of events/: a push starts an execution, its state changes arrive,
// and GitLab ends with the right statuses on the right commit. The functions route
// with testdata/routing.yaml (PIPEGATE_CONFIG), the world those events are of, not
// with the bundled pipegate.yaml. The cases run in order and share the stand-ins
// and one DynamoDB table (dynalite), as deliveries to deployed functions do; each
// checks what it changed, not totals.
func TestFunctionsUnderRIE(t *testing.T) {
	root := repoRoot(t)
	bin := buildAll(t, root)

	// The routing file: the test's own, of the world the events of events/ are
	// deliveries of, handed to the functions as PIPEGATE_CONFIG. The bundled
	// pipegate.yaml is the team's to edit.
	routingFile, err := filepath.Abs(filepath.Join("testdata", "routing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	routingData, err := os.ReadFile(routingFile)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := routing.Parse(routingData)
	if err != nil {
		t.Fatalf("parse %s: %v", routingFile, err)
	}

	// The stand-ins, as the deployment's AWS and GitLab.
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

	// The functions' one table, as deployed: the pipeline-events function finds
	// there the commit and ref of the executions the other two started.
	dynamo := testenv.Dynalite(t)
	table := testenv.CreateTable(t, testenv.DynamoClient(t))

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
		"AWS_ENDPOINT_URL_DYNAMODB":     dynamo,
		"TABLE_NAME":                    table,
		"AWS_XRAY_SDK_DISABLED":         "true",
		"GITLAB_URL":                    glSrv.URL,
		"PIPEGATE_CONFIG":               routingFile,
	}
	webhookEnv := envList(env["WebhookFunction"], common, map[string]string{"RETRY_QUEUE_URL": queueURL})
	retryEnv := envList(env["RetryFunction"], common)
	pipelineEventsEnv := envList(env["PipelineEventsFunction"], common)
	webhook := startFunction(t, "webhook", bin.rie, bin.webhook, webhookEnv)
	retry := startFunction(t, "retry", bin.rie, bin.retry, retryEnv)
	pipelineEvents := startFunction(t, "pipeline-events", bin.rie, bin.pipelineEvents, pipelineEventsEnv)

	// The executions the push cases start, for the pipeline-events cases.
	var pushed, tagged, retried emulator.Execution

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
		pushed = e
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
		tagged = e
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
		retried = e
		s := w.oneNewStatus(t, before)
		checkPending(t, s, push.Project, retryCommit, "core-pipeline", "main")
		w.noMessages(t, before)
	})

	// The pipeline-events function. The bundled events are of the execution the
	// first push started (checked below, not assumed); the builders make the stage
	// events in between.
	started := readEvent(t, root, "pipeline-started.json")
	buildDone := readEvent(t, root, "stage-build-succeeded.json")
	succeeded := readEvent(t, root, "pipeline-succeeded.json")
	approval := readEvent(t, root, "action-approval-started.json")
	scheduled := readEvent(t, root, "scheduled.json")

	t.Run("pipeline STARTED sets the pushed commit's status running", func(t *testing.T) {
		if pushed.ID == "" {
			t.Fatal("the push case started no execution")
		}
		for _, ev := range []sample{started, buildDone, succeeded, approval} {
			if ev.ExecutionID != pushed.ID {
				t.Fatalf("events/%s is of execution %s; the push started %s", ev.Name, ev.ExecutionID, pushed.ID)
			}
		}
		before := w.snapshot()
		ans := pipelineEvents.event(t, started.Raw)
		want := eventAnswer{Result: "posted", Pipeline: "core-pipeline", Status: "core-pipeline", State: "running", Commit: push.CheckoutSHA}
		if ans != want {
			t.Errorf("answer %+v, want %+v", ans, want)
		}
		s := w.oneNewStatus(t, before)
		wantS := emulator.CommitStatus{
			Project: push.Project, SHA: push.CheckoutSHA, State: "running", Name: "core-pipeline", Ref: "main",
			TargetURL: executionURL("core-pipeline", pushed.ID), Description: "core-pipeline running",
		}
		if s != wantS {
			t.Errorf("status %+v\nwant %+v", s, wantS)
		}
		// The commit and the ref came from what the webhook recorded.
		w.noLookups(t, before)
		w.noMessages(t, before)
	})

	t.Run("stage events out of order and twice end as in order", func(t *testing.T) {
		if pushed.ID == "" {
			t.Fatal("the push case started no execution")
		}
		id, at := pushed.ID, started.Time
		sourceStarted := emulator.StageEvent("core-pipeline", id, "Source", "STARTED", at)
		sourceDone := emulator.StageEvent("core-pipeline", id, "Source", "SUCCEEDED", at.Add(4*time.Second))
		buildStarted := emulator.StageEvent("core-pipeline", id, "Build", "STARTED", at.Add(5*time.Second))
		before := w.snapshot()
		for i, d := range []struct {
			what          string
			event         []byte
			status        string
			result, state string
		}{
			{"Source SUCCEEDED before its STARTED", sourceDone, "core-pipeline/Source", "posted", "success"},
			{"Source STARTED late", sourceStarted, "core-pipeline/Source", "unchanged", "success"},
			{"Build STARTED", buildStarted, "core-pipeline/Build", "posted", "running"},
			{"pipeline STARTED again", started.Raw, "core-pipeline", "unchanged", "running"},
			{"Build STARTED again", buildStarted, "core-pipeline/Build", "unchanged", "running"},
			{"Build SUCCEEDED (" + buildDone.Name + ")", buildDone.Raw, "core-pipeline/Build", "posted", "success"},
			{"Source SUCCEEDED again", sourceDone, "core-pipeline/Source", "unchanged", "success"},
			{"Build SUCCEEDED again", buildDone.Raw, "core-pipeline/Build", "unchanged", "success"},
			{"Build STARTED after its SUCCEEDED", buildStarted, "core-pipeline/Build", "unchanged", "success"},
		} {
			ans := pipelineEvents.event(t, d.event)
			if ans.Result != d.result || ans.Status != d.status || ans.State != d.state || ans.Commit != push.CheckoutSHA {
				t.Errorf("%d. %s: answer %+v, want %s, %s %s on %s", i+1, d.what, ans, d.result, d.status, d.state, push.CheckoutSHA)
			}
		}
		// GitLab saw each state once, and no final state go back to running.
		want := map[string]string{"core-pipeline/Source": "success", "core-pipeline/Build": "running,success"}
		if got := w.statesSince(before, push.CheckoutSHA, "main"); !maps.Equal(got, want) {
			t.Errorf("states posted %v, want %v", got, want)
		}
		url := executionURL("core-pipeline", id)
		for _, want := range []emulator.CommitStatus{
			{State: "success", Name: "core-pipeline/Build", Description: "Build succeeded in 3m 38s"},
			// Its STARTED came after its SUCCEEDED: how long it took is unknown.
			{State: "success", Name: "core-pipeline/Source", Description: "Source succeeded"},
		} {
			want.Project, want.SHA, want.Ref, want.TargetURL = push.Project, push.CheckoutSHA, "main", url
			if got := w.latest(t, want.Project, want.SHA, want.Ref, want.Name); got != want {
				t.Errorf("status %+v\nwant %+v", got, want)
			}
		}
		w.noLookups(t, before)
		w.noMessages(t, before)
	})

	t.Run("pipeline SUCCEEDED sets the pushed commit's status success", func(t *testing.T) {
		if pushed.ID == "" {
			t.Fatal("the push case started no execution")
		}
		w.cp.SetStatus("core-pipeline", pushed.ID, "Succeeded") // as CodePipeline has it by then
		before := w.snapshot()
		ans := pipelineEvents.event(t, succeeded.Raw)
		want := eventAnswer{Result: "posted", Pipeline: "core-pipeline", Status: "core-pipeline", State: "success", Commit: push.CheckoutSHA}
		if ans != want {
			t.Errorf("answer %+v, want %+v", ans, want)
		}
		if again := pipelineEvents.event(t, succeeded.Raw); again.Result != "unchanged" || again.State != "success" {
			t.Errorf("the same event again: %+v, want unchanged success", again)
		}
		s := w.oneNewStatus(t, before)
		wantS := emulator.CommitStatus{
			Project: push.Project, SHA: push.CheckoutSHA, State: "success", Name: "core-pipeline", Ref: "main",
			TargetURL: executionURL("core-pipeline", pushed.ID), Description: "core-pipeline succeeded in 28m 52s",
		}
		if s != wantS {
			t.Errorf("status %+v\nwant %+v", s, wantS)
		}
		// pending from the webhook, then the events' states, each once.
		if got := w.states(push.CheckoutSHA, "main", "core-pipeline"); got != "pending,running,success" {
			t.Errorf("core-pipeline on the pushed commit went %s, want pending,running,success", got)
		}
		w.noLookups(t, before)
		w.noMessages(t, before)
	})

	t.Run("approval action event is answered without error", func(t *testing.T) {
		before := w.snapshot()
		ans := pipelineEvents.event(t, approval.Raw)
		if ans.Result == "" || ans.Pipeline != "core-pipeline" {
			t.Errorf("answer %+v, want a result for core-pipeline", ans)
		}
		// No execution waits at the approval in the stand-in: nothing to approve,
		// and the approval sets no status.
		if n := len(w.gl.Statuses()) - len(before.statuses); n != 0 {
			t.Errorf("%d statuses posted for an approval action event", n)
		}
		if n := len(w.cp.Approvals()); n != 0 {
			t.Errorf("%d approvals given, want none", n)
		}
		w.noLookups(t, before)
		w.noMessages(t, before)
	})

	t.Run("scheduled event repairs statuses whose events were dropped", func(t *testing.T) {
		if retried.ID == "" || tagged.ID == "" {
			t.Fatal("the tag and retry cases started no executions")
		}
		// The retried push's execution starts and its STARTED events arrive; the
		// reconciler looks back a day, so its times are recent.
		at := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
		for _, ev := range [][]byte{
			emulator.PipelineEvent("core-pipeline", retried.ID, "STARTED", at),
			emulator.StageEvent("core-pipeline", retried.ID, "Build", "STARTED", at.Add(5*time.Second)),
		} {
			if ans := pipelineEvents.event(t, ev); ans.Result != "posted" || ans.State != "running" || ans.Commit != retryCommit {
				t.Fatalf("answer %+v, want posted running on %s", ans, retryCommit)
			}
		}
		// Build and the pipeline succeed; both events are dropped.
		buildEnd := at.Add(5*time.Second + 192*time.Second)
		w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Build", ExecutionID: retried.ID, Status: "Succeeded",
			Actions: []emulator.ActionState{{Name: "Build", Status: "Succeeded", Updated: buildEnd}}})
		w.cp.SetStatus("core-pipeline", retried.ID, "Succeeded")

		before := w.snapshot()
		ans := pipelineEvents.event(t, scheduled.Raw)
		// Three: the retried execution's Build and pipeline, and the tag's
		// execution, of which no event arrived at all. The push's execution ended
		// with its events: nothing to repair there.
		if ans.Result != "reconciled" || ans.Repaired != 3 {
			t.Errorf("answer %+v, want reconciled, 3 repaired", ans)
		}
		tag := readPush(t, root, "tag-push.json")
		tagRef := strings.TrimPrefix(tag.Ref, "refs/tags/")
		want := map[string]string{"core-pipeline": "success", "core-pipeline/Build": "success"}
		if got := w.statesSince(before, retryCommit, "main"); !maps.Equal(got, want) {
			t.Errorf("states posted on the retried commit %v, want %v", got, want)
		}
		if got := w.statesSince(before, tagged.CommitSHA, tagRef); !maps.Equal(got, map[string]string{"core-pipeline": "running"}) {
			t.Errorf("states posted for the tag %v, want core-pipeline running", got)
		}
		if got := w.statesSince(before, push.CheckoutSHA, "main"); len(got) != 0 {
			t.Errorf("states posted on the pushed commit's main %v, want none", got)
		}
		url := executionURL("core-pipeline", retried.ID)
		wantBuild := emulator.CommitStatus{
			Project: push.Project, SHA: retryCommit, State: "success", Name: "core-pipeline/Build", Ref: "main",
			TargetURL: url, Description: "Build succeeded in 3m 12s",
		}
		if got := w.latest(t, push.Project, retryCommit, "main", "core-pipeline/Build"); got != wantBuild {
			t.Errorf("status %+v\nwant %+v", got, wantBuild)
		}
		// The pipeline's end is known to the stand-in's clock only: its duration varies.
		got := w.latest(t, push.Project, retryCommit, "main", "core-pipeline")
		if got.State != "success" || got.Ref != "main" || got.TargetURL != url || !strings.HasPrefix(got.Description, "core-pipeline succeeded in ") {
			t.Errorf("status %+v, want success on ref main linking to %s, saying how long it took", got, url)
		}
		wantTag := emulator.CommitStatus{
			Project: tag.Project, SHA: tagged.CommitSHA, State: "running", Name: "core-pipeline", Ref: tagRef,
			TargetURL: executionURL("core-pipeline", tagged.ID), Description: "core-pipeline running",
		}
		if got := w.latest(t, tag.Project, tagged.CommitSHA, tagRef, "core-pipeline"); got != wantTag {
			t.Errorf("status %+v\nwant %+v", got, wantTag)
		}
		// ListPipelineExecutions has every commit: GetPipelineExecution is never needed.
		w.noLookups(t, before)
		w.noMessages(t, before)

		// A second run, and the dropped Build event arriving late, change nothing.
		before = w.snapshot()
		if ans := pipelineEvents.event(t, scheduled.Raw); ans.Result != "reconciled" || ans.Repaired != 0 {
			t.Errorf("second run: %+v, want reconciled, none repaired", ans)
		}
		late := emulator.StageEvent("core-pipeline", retried.ID, "Build", "SUCCEEDED", buildEnd)
		if ans := pipelineEvents.event(t, late); ans.Result != "unchanged" || ans.State != "success" {
			t.Errorf("late Build SUCCEEDED: %+v, want unchanged success", ans)
		}
		if n := w.gl.Calls("statuses") - before.glStatuses; n != 0 {
			t.Errorf("%d GitLab status calls after the repair, want none", n)
		}
	})

	t.Run("the bundled merge request hook is evaluated without error", func(t *testing.T) {
		mr := readMergeRequest(t, root, "merge-request-approved.json")
		if mr.IID != 118 || mr.Project != push.Project || mr.MergeCommitSHA != push.CheckoutSHA || mr.Action != "approved" {
			t.Fatalf("events/merge-request-approved.json: !%d of %s merged as %s, action %s; want !118 of %s at %s (push.json's), approved",
				mr.IID, mr.Project, mr.MergeCommitSHA, mr.Action, push.Project, push.CheckoutSHA)
		}
		before := w.snapshot()
		status, ans := webhook.deliver(t, mr.Event)
		if status != http.StatusOK || ans.Result != "evaluated" || ans.Error != "" {
			t.Fatalf("answer %d %+v, want 200 evaluated", status, ans)
		}
		if ans.Delivery != mr.Key {
			t.Errorf("answer delivery %q, want the Idempotency-Key %q", ans.Delivery, mr.Key)
		}
		// No execution waits at core-pipeline's approval: CodePipeline says so, and
		// GitLab is not asked about the merge request.
		want := []gateAnswer{{Service: "core", Pipeline: "core-pipeline", Verdict: "not waiting", Reason: "no execution waits at Production/ApproveProduction"}}
		if !slices.Equal(ans.Gates, want) {
			t.Errorf("answer gates %+v, want %+v", ans.Gates, want)
		}
		if n := w.cp.Calls("GetPipelineState") - before.stageReads; n != 1 {
			t.Errorf("%d GetPipelineState calls, want 1", n)
		}
		now := w.snapshot()
		if now.glStatuses != before.glStatuses || now.glMRs != before.glMRs || now.glApprovals != before.glApprovals {
			t.Errorf("GitLab: %d status, %d merge request, %d approvals calls; want none",
				now.glStatuses-before.glStatuses, now.glMRs-before.glMRs, now.glApprovals-before.glApprovals)
		}
		if got := w.cp.Approvals(); len(got) != 0 {
			t.Errorf("approvals given %+v, want none", got)
		}
		w.noMessages(t, before)
	})

	t.Run("push waits at the production gate until its merge request is approved", func(t *testing.T) {
		// A fresh push, so that the statuses and the gate are this case's alone.
		before := w.snapshot()
		status, ans := webhook.deliver(t, push.with(t, gateDelivery, gateEventID, gateCommit))
		if status != http.StatusOK || ans.Result != "started" {
			t.Fatalf("answer %d %+v, want 200 started", status, ans)
		}
		e := w.oneNewExecution(t, before)
		checkExecution(t, e, "core-pipeline", gateCommit)
		checkPending(t, w.oneNewStatus(t, before), push.Project, gateCommit, "core-pipeline", "main")
		id := e.ID
		url := executionURL("core-pipeline", id)
		caseStart := before

		// Through staging: every stage's status follows its events.
		at := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Second)
		before = w.snapshot()
		for i, d := range []struct {
			what          string
			event         []byte
			status, state string
		}{
			{"pipeline STARTED", emulator.PipelineEvent("core-pipeline", id, "STARTED", at), "core-pipeline", "running"},
			{"Source STARTED", emulator.StageEvent("core-pipeline", id, "Source", "STARTED", at), "core-pipeline/Source", "running"},
			{"Source SUCCEEDED", emulator.StageEvent("core-pipeline", id, "Source", "SUCCEEDED", at.Add(4*time.Second)), "core-pipeline/Source", "success"},
			{"Build STARTED", emulator.StageEvent("core-pipeline", id, "Build", "STARTED", at.Add(5*time.Second)), "core-pipeline/Build", "running"},
			{"Build SUCCEEDED", emulator.StageEvent("core-pipeline", id, "Build", "SUCCEEDED", at.Add(223*time.Second)), "core-pipeline/Build", "success"},
			{"Staging STARTED", emulator.StageEvent("core-pipeline", id, "Staging", "STARTED", at.Add(224*time.Second)), "core-pipeline/Staging", "running"},
			{"Staging SUCCEEDED", emulator.StageEvent("core-pipeline", id, "Staging", "SUCCEEDED", at.Add(541*time.Second)), "core-pipeline/Staging", "success"},
		} {
			ans := pipelineEvents.event(t, d.event)
			want := eventAnswer{Result: "posted", Pipeline: "core-pipeline", Status: d.status, State: d.state, Commit: gateCommit}
			if ans != want {
				t.Errorf("%d. %s: answer %+v, want %+v", i+1, d.what, ans, want)
			}
		}
		wantStates := map[string]string{
			"core-pipeline": "running", "core-pipeline/Source": "running,success",
			"core-pipeline/Build": "running,success", "core-pipeline/Staging": "running,success",
		}
		if got := w.statesSince(before, gateCommit, "main"); !maps.Equal(got, wantStates) {
			t.Errorf("states posted %v, want %v", got, wantStates)
		}
		// The staging stage is a GitLab deployment too (docs/environments.md).
		var staging []emulator.Deployment
		for _, d := range w.gl.Deployments(push.Project) {
			if d.SHA == gateCommit && strings.HasSuffix(d.Environment, "staging") {
				staging = append(staging, d)
			}
		}
		if len(staging) != 1 || staging[0].Ref != "main" || strings.Join(staging[0].History, ",") != "running,success" {
			t.Errorf("staging deployments %+v, want one that ran and succeeded on main", staging)
		}

		// Production starts and its approval waits. The commit's merge request is
		// merged, but approved by its author only, which does not count.
		prodAt := at.Add(542 * time.Second)
		const token = "6c2b9e4a-1f7d-4a3e-b8c5-0d9f2e6a4b71"
		w.cp.SetStage("core-pipeline", emulator.StageState{Name: "Production", ExecutionID: id, Status: "InProgress",
			Actions: []emulator.ActionState{{Name: "ApproveProduction", Status: "InProgress", Token: token}, {Name: "Deploy"}}})
		mr := emulator.MergeRequest{IID: gateMR, Title: gateMRTitle, State: "merged", SourceBranch: "files-retry",
			TargetBranch: "main", MergeCommitSHA: gateCommit, Author: "ada", ApprovedBy: []string{"ada"}}
		w.gl.AddMergeRequest(push.Project, mr)
		before = w.snapshot()
		ans2 := pipelineEvents.event(t, emulator.StageEvent("core-pipeline", id, "Production", "STARTED", prodAt))
		if ans2.Result != "unchanged" || ans2.Status != "core-pipeline/Production" || ans2.Commit != gateCommit {
			t.Errorf("Production STARTED: answer %+v, want unchanged core-pipeline/Production on %s: the gate's to post", ans2, gateCommit)
		}
		if n := len(w.gl.Statuses()) - len(before.statuses); n != 0 {
			t.Errorf("%d statuses posted for Production's start, want none: the gate posts it", n)
		}
		ans2 = pipelineEvents.event(t, emulator.ActionEvent("core-pipeline", id, "Production", "ApproveProduction", "Approval", "Manual", "STARTED", prodAt.Add(time.Second)))
		missing := fmt.Sprintf("needs 1 more approval on !%d", gateMR)
		if ans2.Result != "gate wait" || ans2.Pipeline != "core-pipeline" || ans2.Commit != gateCommit || !strings.Contains(ans2.Reason, missing) {
			t.Errorf("approval STARTED: answer %+v, want gate wait on %s, saying it %s", ans2, gateCommit, missing)
		}
		if got := w.cp.Approvals(); len(got) != 0 {
			t.Fatalf("approvals given %+v while the merge request lacks an approval", got)
		}
		s := w.oneNewStatus(t, before)
		if s.Project != push.Project || s.SHA != gateCommit || s.Ref != "main" || s.Name != "core-pipeline/Production" ||
			s.State != "pending" || s.TargetURL != url || !strings.Contains(s.Description, missing) {
			t.Errorf("status %+v, want core-pipeline/Production pending on %s for main, linking to %s, saying it %s",
				s, gateCommit, url, missing)
		}
		if n := w.gl.Calls("merge_requests") - before.glMRs; n != 1 {
			t.Errorf("%d merge request lookups, want 1", n)
		}
		w.noLookups(t, before)
		w.noMessages(t, before)

		// Grace approves: GitLab's hook opens the gate.
		mr.ApprovedBy = []string{"ada", "grace"}
		w.gl.AddMergeRequest(push.Project, mr)
		hook := readMergeRequest(t, root, "merge-request-approved.json").
			with(t, gateMRDelivery, gateMREventID, gateMR, gateCommit, gateMRTitle)
		before = w.snapshot()
		status, ans = webhook.deliver(t, hook)
		if status != http.StatusOK || ans.Result != "evaluated" || ans.Error != "" || ans.Delivery != gateMRDelivery {
			t.Fatalf("answer %d %+v, want 200 evaluated for delivery %s", status, ans, gateMRDelivery)
		}
		if len(ans.Gates) != 1 {
			t.Fatalf("answer gates %+v, want core-pipeline's", ans.Gates)
		}
		g := ans.Gates[0]
		if g.Service != "core" || g.Pipeline != "core-pipeline" || g.ExecutionID != id || g.Commit != gateCommit || g.Verdict != "approve" || g.Error != "" {
			t.Errorf("answer gate %+v, want core-pipeline execution %s at %s approved", g, id, gateCommit)
		}
		approvals := w.cp.Approvals()
		if len(approvals) != 1 {
			t.Fatalf("approvals %+v, want exactly one", approvals)
		}
		a := approvals[0]
		if a.Pipeline != "core-pipeline" || a.Stage != "Production" || a.Action != "ApproveProduction" || a.Token != token || a.Status != "Approved" {
			t.Errorf("approval %+v, want core-pipeline Production/ApproveProduction Approved with token %s", a, token)
		}
		for _, want := range []string{fmt.Sprintf("!%d", gateMR), gateMRTitle, "grace"} {
			if !strings.Contains(a.Summary, want) {
				t.Errorf("approval summary %q does not name %q", a.Summary, want)
			}
		}
		if strings.Contains(a.Summary, "ada") {
			t.Errorf("approval summary %q counts the author's own approval", a.Summary)
		}
		if g.Reason != a.Summary {
			t.Errorf("answer gate reason %q, want the approval's summary %q", g.Reason, a.Summary)
		}
		s = w.oneNewStatus(t, before)
		if s.SHA != gateCommit || s.Ref != "main" || s.Name != "core-pipeline/Production" || s.State != "running" ||
			s.TargetURL != url || !strings.Contains(s.Description, fmt.Sprintf("!%d", gateMR)) {
			t.Errorf("status %+v, want core-pipeline/Production running on %s, naming !%d", s, gateCommit, gateMR)
		}
		w.noMessages(t, before)

		// The same hook again: nothing waits any more, nothing is approved twice.
		before = w.snapshot()
		status, ans = webhook.deliver(t, hook)
		if status != http.StatusOK || ans.Result != "evaluated" || len(ans.Gates) != 1 || ans.Gates[0].Verdict != "not waiting" {
			t.Errorf("the hook again: answer %d %+v, want 200 evaluated, gate not waiting", status, ans)
		}
		if n := len(w.cp.Approvals()); n != 1 {
			t.Errorf("%d approvals after the hook again, want still 1", n)
		}
		if n := len(w.gl.Statuses()) - len(before.statuses); n != 0 {
			t.Errorf("%d statuses posted by the hook again, want none", n)
		}

		// Production deploys and the pipeline succeeds.
		w.cp.SetStatus("core-pipeline", id, "Succeeded")
		before = w.snapshot()
		for i, d := range []struct {
			what   string
			event  []byte
			status string
		}{
			{"Production SUCCEEDED", emulator.StageEvent("core-pipeline", id, "Production", "SUCCEEDED", prodAt.Add(7*time.Minute)), "core-pipeline/Production"},
			{"pipeline SUCCEEDED", emulator.PipelineEvent("core-pipeline", id, "SUCCEEDED", prodAt.Add(7*time.Minute+time.Second)), "core-pipeline"},
		} {
			ans := pipelineEvents.event(t, d.event)
			want := eventAnswer{Result: "posted", Pipeline: "core-pipeline", Status: d.status, State: "success", Commit: gateCommit}
			if ans != want {
				t.Errorf("%d. %s: answer %+v, want %+v", i+1, d.what, ans, want)
			}
		}
		for _, want := range []emulator.CommitStatus{
			{State: "success", Name: "core-pipeline", Description: "core-pipeline succeeded in 16m 3s"},
			{State: "success", Name: "core-pipeline/Production", Description: "Production succeeded in 7m 0s"},
		} {
			want.Project, want.SHA, want.Ref, want.TargetURL = push.Project, gateCommit, "main", url
			if got := w.latest(t, want.Project, want.SHA, want.Ref, want.Name); got != want {
				t.Errorf("status %+v\nwant %+v", got, want)
			}
		}
		// Each status went its way once, and only this push's commit was touched.
		for name, want := range map[string]string{"core-pipeline": "pending,running,success", "core-pipeline/Production": "pending,running,success"} {
			if got := w.states(gateCommit, "main", name); got != want {
				t.Errorf("%s on the gated commit went %s, want %s", name, got, want)
			}
		}
		for _, s := range w.gl.Statuses()[len(caseStart.statuses):] {
			if s.SHA != gateCommit {
				t.Errorf("status %+v posted on another commit", s)
			}
		}
		w.noLookups(t, caseStart)
		w.noMessages(t, caseStart)
	})

	t.Run("logs are JSON without secrets", func(t *testing.T) {
		for _, f := range []*function{webhook, retry, pipelineEvents} {
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
				webhook: {"pipegate ready", "pipeline started", "status posted", "push queued for retry",
					"gate decided", "merge request handled"},
				retry:          {"pipegate ready", "pipeline started", "status posted", "delivery resumed"},
				pipelineEvents: {"pipegate ready", "status decided", "status posted", "status unchanged", "reconciled", "gate decided"},
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
	}{{webhook, bin.webhook}, {retry, bin.retry}, {pipelineEvents, bin.pipelineEvents}} {
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
	lookups     int // GetPipelineExecution calls
	listings    int // ListPipelineExecutions calls
	stageReads  int // GetPipelineState calls
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
		lookups:     w.cp.Calls("GetPipelineExecution"),
		listings:    w.cp.Calls("ListPipelineExecutions"),
		stageReads:  w.cp.Calls("GetPipelineState"),
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
	if now.lookups != before.lookups || now.listings != before.listings || now.stageReads != before.stageReads {
		t.Errorf("CodePipeline: %d GetPipelineExecution, %d ListPipelineExecutions, %d GetPipelineState calls; want none",
			now.lookups-before.lookups, now.listings-before.listings, now.stageReads-before.stageReads)
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

// noLookups checks that CodePipeline was not asked for an execution since before:
// the store had it.
func (w *world) noLookups(t *testing.T, before snapshot) {
	t.Helper()
	if n := w.cp.Calls("GetPipelineExecution") - before.lookups; n != 0 {
		t.Errorf("%d GetPipelineExecution calls, want none", n)
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

// latest is the status GitLab shows for name on sha and ref.
func (w *world) latest(t *testing.T, project, sha, ref, name string) emulator.CommitStatus {
	t.Helper()
	all := w.gl.Statuses()
	for i := len(all) - 1; i >= 0; i-- {
		if s := all[i]; s.Project == project && s.SHA == sha && s.Ref == ref && s.Name == name {
			return s
		}
	}
	t.Fatalf("GitLab has no status %s on %s for %s", name, sha, ref)
	return emulator.CommitStatus{}
}

// states lists the states GitLab accepted for status name on sha and ref, oldest
// first. GitLab keeps a commit's statuses per ref: a branch and a tag at the same
// commit each have theirs.
func (w *world) states(sha, ref, name string) string {
	var states []string
	for _, s := range w.gl.Statuses() {
		if s.SHA == sha && s.Ref == ref && s.Name == name {
			states = append(states, s.State)
		}
	}
	return strings.Join(states, ",")
}

// statesSince lists, per status name, the states GitLab accepted on sha and ref
// since before, oldest first.
func (w *world) statesSince(before snapshot, sha, ref string) map[string]string {
	out := map[string]string{}
	for _, s := range w.gl.Statuses()[len(before.statuses):] {
		if s.SHA != sha || s.Ref != ref {
			continue
		}
		if out[s.Name] != "" {
			out[s.Name] += ","
		}
		out[s.Name] += s.State
	}
	return out
}

// executionURL is an execution's page in the CodePipeline console of the
// functions' region (AWS_REGION): what its statuses link to.
func executionURL(pipeline, id string) string {
	return "https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/" + pipeline +
		"/executions/" + id + "/timeline?region=eu-west-1"
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
	Gates []gateAnswer `json:"gates"`
	Error string       `json:"error"`
}

// gateAnswer is one production gate a merge request hook evaluated (app.GateResult).
type gateAnswer struct {
	Service     string `json:"service"`
	Pipeline    string `json:"pipeline"`
	ExecutionID string `json:"execution_id"`
	Commit      string `json:"commit"`
	Verdict     string `json:"verdict"`
	Reason      string `json:"reason"`
	Error       string `json:"error"`
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

// eventAnswer is the pipeline-events function's result (app.EventAnswer), read by
// its JSON names.
type eventAnswer struct {
	Result   string `json:"result"`
	Reason   string `json:"reason"`
	Pipeline string `json:"pipeline"`
	Status   string `json:"status"`
	State    string `json:"state"`
	Commit   string `json:"commit"`
	Repaired int    `json:"repaired"`
}

// event invokes the pipeline-events function with an EventBridge event.
func (f *function) event(t *testing.T, event []byte) eventAnswer {
	t.Helper()
	var a eventAnswer
	f.call(t, event, &a)
	return a
}

// sample is a bundled EventBridge event.
type sample struct {
	Name        string
	Raw         []byte
	ExecutionID string    // detail.execution-id; "" for a scheduled event
	Time        time.Time // the envelope's
}

func readEvent(t *testing.T, root, name string) sample {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	var ev events.CloudWatchEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("events/%s: %v", name, err)
	}
	var d struct {
		ExecutionID string `json:"execution-id"`
	}
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatalf("events/%s: detail: %v", name, err)
	}
	return sample{Name: name, Raw: raw, ExecutionID: d.ExecutionID, Time: ev.Time}
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

// readHook reads an API Gateway event of events/ and decodes its GitLab body into body.
func readHook(t *testing.T, root, name string, body any) ([]byte, events.APIGatewayV2HTTPRequest) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("events/%s: %v", name, err)
	}
	if err := json.Unmarshal([]byte(ev.Body), body); err != nil {
		t.Fatalf("events/%s: body: %v", name, err)
	}
	return raw, ev
}

// redeliver returns the API Gateway event raw as another delivery carrying body:
// new Idempotency-Key and X-Gitlab-Event-UUID, and a matching Content-Length.
func redeliver(t *testing.T, raw []byte, key, eventUUID string, body func(string) string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	h, _ := ev["headers"].(map[string]any)
	old, _ := ev["body"].(string)
	if h == nil || old == "" {
		t.Fatal("event without headers or body")
	}
	b := body(old)
	h["idempotency-key"] = key
	h["x-gitlab-event-uuid"] = eventUUID
	h["content-length"] = strconv.Itoa(len(b))
	ev["body"] = b
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readPush(t *testing.T, root, name string) pushEvent {
	t.Helper()
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
	raw, ev := readHook(t, root, name, &body)
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
	if p.CheckoutSHA == "" {
		t.Fatal("push event without checkout_sha")
	}
	return redeliver(t, p.Event, key, eventUUID, func(body string) string {
		return strings.ReplaceAll(body, p.CheckoutSHA, sha)
	})
}

// mergeRequestEvent is a bundled merge request hook and what the test needs from
// its payload.
type mergeRequestEvent struct {
	Event          []byte
	Key            string // Idempotency-Key
	IID            int64
	Action         string
	Project        string
	MergeCommitSHA string
}

func readMergeRequest(t *testing.T, root, name string) mergeRequestEvent {
	t.Helper()
	var body struct {
		Project struct {
			Path string `json:"path_with_namespace"`
		} `json:"project"`
		Attrs struct {
			IID            int64  `json:"iid"`
			Action         string `json:"action"`
			MergeCommitSHA string `json:"merge_commit_sha"`
		} `json:"object_attributes"`
	}
	raw, ev := readHook(t, root, name, &body)
	return mergeRequestEvent{
		Event: raw, Key: ev.Headers["idempotency-key"], IID: body.Attrs.IID, Action: body.Attrs.Action,
		Project: body.Project.Path, MergeCommitSHA: body.Attrs.MergeCommitSHA,
	}
}

// with returns the event as another delivery, of the same hook for merge request
// iid of the same project, titled title and merged as sha.
func (m mergeRequestEvent) with(t *testing.T, key, eventUUID string, iid int64, sha, title string) []byte {
	t.Helper()
	return redeliver(t, m.Event, key, eventUUID, func(raw string) string {
		// Numbers stay as GitLab wrote them.
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var body map[string]any
		if err := dec.Decode(&body); err != nil {
			t.Fatalf("merge request event body: %v", err)
		}
		oa, _ := body["object_attributes"].(map[string]any)
		url, _ := oa["url"].(string)
		old := "/merge_requests/" + strconv.FormatInt(m.IID, 10)
		if oa == nil || !strings.HasSuffix(url, old) {
			t.Fatal("merge request event without object_attributes or its url")
		}
		oa["iid"] = iid
		oa["title"] = title
		oa["merge_commit_sha"] = sha
		oa["url"] = strings.TrimSuffix(url, old) + "/merge_requests/" + strconv.FormatInt(iid, 10)
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	})
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
	for _, fn := range []string{"WebhookFunction", "RetryFunction", "PipelineEventsFunction"} {
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
