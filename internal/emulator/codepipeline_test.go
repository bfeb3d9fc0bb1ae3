package emulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
	"github.com/aws/smithy-go"
)

// awsTestConfig points a real SDK client at srv, without retries so each call is one request.
func awsTestConfig(srv *httptest.Server) aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

func newCodePipelineTest(t *testing.T) (*codepipeline.Client, *CodePipeline, *httptest.Server) {
	t.Helper()
	return newCodePipelineTestAt(t, nil)
}

// newCodePipelineTestAt is newCodePipelineTest with the stand-in's clock set before
// it serves.
func newCodePipelineTestAt(t *testing.T, clock *testClock) (*codepipeline.Client, *CodePipeline, *httptest.Server) {
	t.Helper()
	emu := NewCodePipeline("core-pipeline")
	if clock != nil {
		emu.Now = clock.Now
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return codepipeline.NewFromConfig(awsTestConfig(srv)), emu, srv
}

// testClock is a clock a test moves on; the stand-in reads it from its handlers.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func cpStartInput(pipeline, sha, token string) *codepipeline.StartPipelineExecutionInput {
	in := &codepipeline.StartPipelineExecutionInput{
		Name: aws.String(pipeline),
		SourceRevisions: []types.SourceRevisionOverride{{
			ActionName: aws.String("Source"), RevisionType: types.SourceRevisionTypeCommitId, RevisionValue: aws.String(sha),
		}},
	}
	if token != "" {
		in.ClientRequestToken = aws.String(token)
	}
	return in
}

var awsUUIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestCodePipelineStartAndGet(t *testing.T) {
	api, emu, _ := newCodePipelineTest(t)
	ctx := context.Background()
	in := cpStartInput("core-pipeline", "aaa111", "tok-1")
	in.Variables = []types.PipelineVariable{{Name: aws.String("ENV"), Value: aws.String("prod")}}
	out, err := api.StartPipelineExecution(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.PipelineExecutionId)
	if !awsUUIDPattern.MatchString(id) {
		t.Fatalf("id %q does not look like a UUID", id)
	}
	again, err := api.StartPipelineExecution(ctx, cpStartInput("core-pipeline", "aaa111", "tok-1"))
	if err != nil || aws.ToString(again.PipelineExecutionId) != id {
		t.Fatalf("same token: %v, %v; want id %s", again, err, id)
	}
	execs := emu.Executions()
	if len(execs) != 1 || execs[0].Variables["ENV"] != "prod" || execs[0].Status != "InProgress" || execs[0].StartedAt.IsZero() || execs[0].CommitSHA != "aaa111" {
		t.Fatalf("executions %+v", execs)
	}

	emu.SetStatus("core-pipeline", id, "Succeeded")
	got, err := api.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{
		PipelineName: aws.String("core-pipeline"), PipelineExecutionId: aws.String(id),
	})
	if err != nil {
		t.Fatal(err)
	}
	pe := got.PipelineExecution
	if pe.Status != types.PipelineExecutionStatusSucceeded || aws.ToString(pe.PipelineExecutionId) != id || aws.ToString(pe.PipelineName) != "core-pipeline" {
		t.Fatalf("execution %+v", pe)
	}
	if len(pe.ArtifactRevisions) != 1 || aws.ToString(pe.ArtifactRevisions[0].RevisionId) != "aaa111" || aws.ToString(pe.ArtifactRevisions[0].Name) != "Source" {
		t.Fatalf("artifact revisions %+v", pe.ArtifactRevisions)
	}
	if pe.Trigger == nil || pe.Trigger.TriggerType != types.TriggerTypeStartPipelineExecution || aws.ToString(pe.Trigger.TriggerDetail) == "" {
		t.Fatalf("trigger %+v", pe.Trigger)
	}
	if execs := emu.Executions(); execs[0].Trigger != "StartPipelineExecution" {
		t.Fatalf("recorded trigger %q", execs[0].Trigger)
	}
	if len(pe.Variables) != 1 || aws.ToString(pe.Variables[0].ResolvedValue) != "prod" {
		t.Fatalf("variables %+v", pe.Variables)
	}
}

func TestCodePipelineList(t *testing.T) {
	api, emu, _ := newCodePipelineTest(t)
	emu.AddPipeline("other")
	ctx := context.Background()
	var ids []string
	for _, sha := range []string{"s1", "s2", "s3"} {
		out, err := api.StartPipelineExecution(ctx, cpStartInput("core-pipeline", sha, ""))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.PipelineExecutionId))
	}
	if _, err := api.StartPipelineExecution(ctx, cpStartInput("other", "o1", "")); err != nil {
		t.Fatal(err)
	}
	if len(map[string]bool{ids[0]: true, ids[1]: true, ids[2]: true}) != 3 {
		t.Fatalf("ids not distinct: %v", ids)
	}
	out, err := api.ListPipelineExecutions(ctx, &codepipeline.ListPipelineExecutionsInput{
		PipelineName: aws.String("core-pipeline"), MaxResults: aws.Int32(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := out.PipelineExecutionSummaries
	if len(s) != 2 || aws.ToString(s[0].PipelineExecutionId) != ids[2] || aws.ToString(s[1].PipelineExecutionId) != ids[1] {
		t.Fatalf("summaries %+v, want newest first %v", s, ids)
	}
	if s[0].Status != types.PipelineExecutionStatusInProgress || s[0].StartTime == nil ||
		len(s[0].SourceRevisions) != 1 || aws.ToString(s[0].SourceRevisions[0].RevisionId) != "s3" {
		t.Fatalf("summary %+v", s[0])
	}
}

func TestCodePipelineErrors(t *testing.T) {
	api, emu, _ := newCodePipelineTest(t)
	ctx := context.Background()

	_, err := api.StartPipelineExecution(ctx, cpStartInput("nope", "s", ""))
	var pnf *types.PipelineNotFoundException
	if !errors.As(err, &pnf) {
		t.Fatalf("unknown pipeline: %v", err)
	}
	_, err = api.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{
		PipelineName: aws.String("core-pipeline"), PipelineExecutionId: aws.String("00000000-0000-0000-0000-000000000000"),
	})
	var enf *types.PipelineExecutionNotFoundException
	if !errors.As(err, &enf) {
		t.Fatalf("unknown execution: %v", err)
	}
	_, err = api.StartPipelineExecution(ctx, cpStartInput("core-pipeline", "s", "bad token!"))
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Fatalf("bad token: %v", err)
	}
	if n := len(emu.Executions()); n != 0 {
		t.Fatalf("%d executions after errors", n)
	}
}

func TestCodePipelineFailNext(t *testing.T) {
	api, emu, _ := newCodePipelineTest(t)
	ctx := context.Background()
	emu.FailNext("StartPipelineExecution", 1, Throttling)
	_, err := api.StartPipelineExecution(ctx, cpStartInput("core-pipeline", "s", ""))
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" || !retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
		t.Fatalf("err %v, want a throttle", err)
	}
	if _, err := api.StartPipelineExecution(ctx, cpStartInput("core-pipeline", "s", "")); err != nil {
		t.Fatalf("second call: %v", err)
	}
	if n := emu.Calls("StartPipelineExecution"); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	if n := emu.Calls("GetPipelineExecution"); n != 0 {
		t.Fatalf("%d GetPipelineExecution calls, want 0", n)
	}
}

func TestCodePipelineUnknownTarget(t *testing.T) {
	_, _, srv := newCodePipelineTest(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "CodePipeline_20150709.DeletePipeline")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"__type":"UnknownOperationException"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestCodePipelineTimesAndConsoleExecutions(t *testing.T) {
	clock := newTestClock()
	api, emu, _ := newCodePipelineTestAt(t, clock)
	ctx := context.Background()
	t0 := clock.Now()
	out, err := api.StartPipelineExecution(ctx, cpStartInput("core-pipeline", "s1", ""))
	if err != nil {
		t.Fatal(err)
	}
	ours := aws.ToString(out.PipelineExecutionId)
	// Started from the console: one before ours, one after; recorded after ours.
	older := emu.AddExecution("core-pipeline", Execution{
		StartedAt:       t0.Add(-time.Hour),
		Status:          "Succeeded",
		SourceRevisions: []SourceRevision{{ActionName: "Source", RevisionValue: "s0"}},
	})
	t1 := clock.Add(time.Minute)
	newer := emu.AddExecution("core-pipeline", Execution{SourceRevisions: []SourceRevision{{ActionName: "Source", RevisionValue: "s2"}}})
	if older == "" || newer == "" || older == ours || newer == ours || older == newer {
		t.Fatalf("ids %q %q %q", ours, older, newer)
	}
	t2 := clock.Add(90 * time.Second)
	emu.SetStatusSummary("core-pipeline", ours, "Stopped", "Stopped by a person")

	got, err := api.ListPipelineExecutions(ctx, &codepipeline.ListPipelineExecutionsInput{PipelineName: aws.String("core-pipeline")})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id, status, summary, sha string
		start, update            time.Time
	}
	var rows []row
	for _, s := range got.PipelineExecutionSummaries {
		r := row{aws.ToString(s.PipelineExecutionId), string(s.Status), aws.ToString(s.StatusSummary), "", aws.ToTime(s.StartTime), aws.ToTime(s.LastUpdateTime)}
		if len(s.SourceRevisions) == 1 && aws.ToString(s.SourceRevisions[0].ActionName) == "Source" {
			r.sha = aws.ToString(s.SourceRevisions[0].RevisionId)
		}
		rows = append(rows, r)
	}
	want := []row{
		{newer, "InProgress", "", "s2", t1, t1},
		{ours, "Stopped", "Stopped by a person", "s1", t0, t2},
		{older, "Succeeded", "", "s0", t0.Add(-time.Hour), t0.Add(-time.Hour)},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %+v\nwant %+v", rows, want)
	}
	for i := range want {
		g, w := rows[i], want[i]
		if g.id != w.id || g.status != w.status || g.summary != w.summary || g.sha != w.sha || !g.start.Equal(w.start) || !g.update.Equal(w.update) {
			t.Errorf("summary %d: got %+v\nwant %+v", i, g, w)
		}
	}

	one, err := api.ListPipelineExecutions(ctx, &codepipeline.ListPipelineExecutionsInput{PipelineName: aws.String("core-pipeline"), MaxResults: aws.Int32(1)})
	if err != nil || len(one.PipelineExecutionSummaries) != 1 || aws.ToString(one.PipelineExecutionSummaries[0].PipelineExecutionId) != newer {
		t.Fatalf("maxResults 1: %+v, %v", one, err)
	}
	_, err = api.ListPipelineExecutions(ctx, &codepipeline.ListPipelineExecutionsInput{PipelineName: aws.String("core-pipeline"), MaxResults: aws.Int32(101)})
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Fatalf("maxResults 101: %v, want ValidationException", err)
	}

	pe, err := api.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{PipelineName: aws.String("core-pipeline"), PipelineExecutionId: aws.String(ours)})
	if err != nil {
		t.Fatal(err)
	}
	if pe.PipelineExecution.Status != types.PipelineExecutionStatusStopped || aws.ToString(pe.PipelineExecution.StatusSummary) != "Stopped by a person" {
		t.Fatalf("execution %+v", pe.PipelineExecution)
	}
	emu.SetStatus("core-pipeline", ours, "Stopped")
	pe, err = api.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{PipelineName: aws.String("core-pipeline"), PipelineExecutionId: aws.String(ours)})
	if err != nil || pe.PipelineExecution.StatusSummary != nil {
		t.Fatalf("SetStatus keeps a summary: %+v, %v", pe, err)
	}

	execs := emu.Executions()
	if len(execs) != 3 || execs[1].ID != older || execs[1].Pipeline != "core-pipeline" || !execs[1].LastUpdate.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("executions %+v", execs)
	}
}

func TestCodePipelineAddExecutionMakesPipelineKnown(t *testing.T) {
	api, emu, _ := newCodePipelineTest(t)
	id := emu.AddExecution("console-only", Execution{ID: "11111111-2222-4333-8444-555555555555", Status: "Failed", CommitSHA: "c0ffee"})
	if id != "11111111-2222-4333-8444-555555555555" {
		t.Fatalf("id %q", id)
	}
	got, err := api.GetPipelineExecution(context.Background(), &codepipeline.GetPipelineExecutionInput{
		PipelineName: aws.String("console-only"), PipelineExecutionId: aws.String(id),
	})
	if err != nil {
		t.Fatal(err)
	}
	pe := got.PipelineExecution
	if pe.Status != types.PipelineExecutionStatusFailed || len(pe.ArtifactRevisions) != 1 || aws.ToString(pe.ArtifactRevisions[0].RevisionId) != "c0ffee" {
		t.Fatalf("execution %+v", pe)
	}
	if e := emu.Executions(); len(e) != 1 || len(e[0].SourceRevisions) != 1 || e[0].SourceRevisions[0] != (SourceRevision{"Source", "COMMIT_ID", "c0ffee"}) {
		t.Fatalf("executions %+v", e)
	}
}

// GetPipelineExecution and ListPipelineExecutions say what started an execution
// added from outside: StartPipelineExecution unless told otherwise.
func TestCodePipelineAddExecutionTrigger(t *testing.T) {
	api, emu, _ := newCodePipelineTest(t)
	ctx := context.Background()
	for _, tc := range []struct {
		trigger string
		want    types.TriggerType
	}{
		{"", types.TriggerTypeStartPipelineExecution},
		{"CreatePipeline", types.TriggerTypeCreatePipeline},
		{"StartPipelineExecution", types.TriggerTypeStartPipelineExecution},
		{"Webhook", types.TriggerTypeWebhook},
	} {
		id := emu.AddExecution("core-pipeline", Execution{CommitSHA: "c0ffee", Trigger: tc.trigger})
		got, err := api.GetPipelineExecution(ctx, &codepipeline.GetPipelineExecutionInput{
			PipelineName: aws.String("core-pipeline"), PipelineExecutionId: aws.String(id),
		})
		if err != nil {
			t.Fatal(err)
		}
		if tr := got.PipelineExecution.Trigger; tr == nil || tr.TriggerType != tc.want || aws.ToString(tr.TriggerDetail) == "" {
			t.Errorf("added with trigger %q: GetPipelineExecution trigger %+v, want %s", tc.trigger, tr, tc.want)
		}
		list, err := api.ListPipelineExecutions(ctx, &codepipeline.ListPipelineExecutionsInput{PipelineName: aws.String("core-pipeline")})
		if err != nil {
			t.Fatal(err)
		}
		listed := false
		for _, s := range list.PipelineExecutionSummaries {
			if aws.ToString(s.PipelineExecutionId) != id {
				continue
			}
			listed = true
			if s.Trigger == nil || s.Trigger.TriggerType != tc.want {
				t.Errorf("added with trigger %q: ListPipelineExecutions trigger %+v, want %s", tc.trigger, s.Trigger, tc.want)
			}
		}
		if !listed {
			t.Errorf("added with trigger %q: %s not listed", tc.trigger, id)
		}
	}
}

func TestCodePipelineState(t *testing.T) {
	clock := newTestClock()
	api, emu, _ := newCodePipelineTestAt(t, clock)
	ctx := context.Background()
	t0 := clock.Now()
	emu.SetStage("core-pipeline", StageState{Name: "Source", ExecutionID: "e1", Status: "Succeeded",
		Actions: []ActionState{{Name: "Source", Status: "Succeeded", Summary: "Merge branch 'x'", Updated: t0.Add(-time.Minute)}}})
	emu.SetStage("core-pipeline", StageState{Name: "Build", ExecutionID: "e1", Status: "InProgress",
		Actions: []ActionState{{Name: "Build", Status: "InProgress"}}})
	emu.SetStage("core-pipeline", StageState{Name: "Deploy", Actions: []ActionState{{Name: "Deploy"}}})
	t1 := clock.Add(2 * time.Minute)
	// Replacing a stage keeps its place.
	emu.SetStage("core-pipeline", StageState{Name: "Build", ExecutionID: "e1", Status: "Failed",
		Actions: []ActionState{
			{Name: "Unit", Status: "Succeeded"},
			{Name: "Build", Status: "Failed", Summary: "Build terminated with state: FAILED", Error: "exit status 2"},
			{Name: "Approve", Status: "InProgress", Token: "tok-1", ExecutionID: "act-1"},
		}})

	out, err := api.GetPipelineState(ctx, &codepipeline.GetPipelineStateInput{Name: aws.String("core-pipeline")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.PipelineName) != "core-pipeline" || aws.ToInt32(out.PipelineVersion) != 1 || out.Created == nil || out.Updated == nil {
		t.Fatalf("state %+v", out)
	}
	var names []string
	for _, s := range out.StageStates {
		names = append(names, aws.ToString(s.StageName))
	}
	if strings.Join(names, ",") != "Source,Build,Deploy" {
		t.Fatalf("stages %v", names)
	}
	src, build, deploy := out.StageStates[0], out.StageStates[1], out.StageStates[2]
	if le := src.LatestExecution; le == nil || aws.ToString(le.PipelineExecutionId) != "e1" || le.Status != types.StageExecutionStatusSucceeded || le.Type != types.ExecutionTypeStandard {
		t.Fatalf("Source latest execution %+v", src.LatestExecution)
	}
	if a := src.ActionStates[0].LatestExecution; a == nil || !aws.ToTime(a.LastStatusChange).Equal(t0.Add(-time.Minute)) || aws.ToString(a.Summary) != "Merge branch 'x'" {
		t.Fatalf("Source action %+v", a)
	}
	if le := build.LatestExecution; le == nil || le.Status != types.StageExecutionStatusFailed {
		t.Fatalf("Build latest execution %+v", build.LatestExecution)
	}
	if len(build.ActionStates) != 3 {
		t.Fatalf("Build actions %+v", build.ActionStates)
	}
	failed := build.ActionStates[1].LatestExecution
	if failed == nil || failed.Status != types.ActionExecutionStatusFailed || aws.ToString(failed.Summary) != "Build terminated with state: FAILED" ||
		failed.ErrorDetails == nil || aws.ToString(failed.ErrorDetails.Message) != "exit status 2" || aws.ToString(failed.ErrorDetails.Code) != "JobFailed" ||
		!aws.ToTime(failed.LastStatusChange).Equal(t1) || !awsUUIDPattern.MatchString(aws.ToString(failed.ActionExecutionId)) || failed.Token != nil {
		t.Fatalf("failed action %+v", failed)
	}
	approve := build.ActionStates[2].LatestExecution
	if approve == nil || aws.ToString(approve.Token) != "tok-1" || aws.ToString(approve.ActionExecutionId) != "act-1" || approve.Status != types.ActionExecutionStatusInProgress {
		t.Fatalf("approval action %+v", approve)
	}
	if deploy.LatestExecution != nil || len(deploy.ActionStates) != 1 || deploy.ActionStates[0].LatestExecution != nil || aws.ToString(deploy.ActionStates[0].ActionName) != "Deploy" {
		t.Fatalf("Deploy never ran: %+v", deploy)
	}

	_, err = api.GetPipelineState(ctx, &codepipeline.GetPipelineStateInput{Name: aws.String("nope")})
	var pnf *types.PipelineNotFoundException
	if !errors.As(err, &pnf) {
		t.Fatalf("unknown pipeline: %v", err)
	}
}

func TestCodePipelinePutApprovalResult(t *testing.T) {
	clock := newTestClock()
	api, emu, _ := newCodePipelineTestAt(t, clock)
	ctx := context.Background()
	emu.SetStage("core-pipeline", StageState{Name: "Prod", ExecutionID: "e1", Status: "InProgress", Actions: []ActionState{
		{Name: "Approve", Status: "InProgress", Token: "tok-1"},
		{Name: "Gate", Status: "InProgress", Token: "tok-2"},
	}})
	put := func(stage, action, token, status string) (*codepipeline.PutApprovalResultOutput, error) {
		return api.PutApprovalResult(ctx, &codepipeline.PutApprovalResultInput{
			PipelineName: aws.String("core-pipeline"), StageName: aws.String(stage), ActionName: aws.String(action),
			Token:  aws.String(token),
			Result: &types.ApprovalResult{Status: types.ApprovalStatus(status), Summary: aws.String(status + " by @ada via Slack")},
		})
	}

	_, err := put("Prod", "Approve", "tok-old", "Approved")
	var bad *types.InvalidApprovalTokenException
	if !errors.As(err, &bad) {
		t.Fatalf("wrong token: %v", err)
	}
	_, err = put("Staging", "Approve", "tok-1", "Approved")
	var snf *types.StageNotFoundException
	if !errors.As(err, &snf) {
		t.Fatalf("unknown stage: %v", err)
	}
	_, err = put("Prod", "Nope", "tok-1", "Approved")
	var anf *types.ActionNotFoundException
	if !errors.As(err, &anf) {
		t.Fatalf("unknown action: %v", err)
	}
	_, err = put("Prod", "Approve", "tok-1", "Maybe")
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Fatalf("bad status: %v", err)
	}
	if n := len(emu.Approvals()); n != 0 {
		t.Fatalf("%d approvals after errors", n)
	}

	at := clock.Add(time.Minute)
	out, err := put("Prod", "Approve", "tok-1", "Approved")
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToTime(out.ApprovedAt).Equal(at) {
		t.Fatalf("approvedAt %v, want %v", out.ApprovedAt, at)
	}
	_, err = put("Prod", "Approve", "tok-1", "Approved")
	var done *types.ApprovalAlreadyCompletedException
	if !errors.As(err, &done) {
		t.Fatalf("second approval: %v", err)
	}
	if _, err := put("Prod", "Gate", "tok-2", "Rejected"); err != nil {
		t.Fatal(err)
	}

	want := []Approval{
		{Pipeline: "core-pipeline", Stage: "Prod", Action: "Approve", Token: "tok-1", Status: "Approved", Summary: "Approved by @ada via Slack", At: at},
		{Pipeline: "core-pipeline", Stage: "Prod", Action: "Gate", Token: "tok-2", Status: "Rejected", Summary: "Rejected by @ada via Slack", At: at},
	}
	got := emu.Approvals()
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("approvals %+v\nwant %+v", got, want)
	}
	st, err := api.GetPipelineState(ctx, &codepipeline.GetPipelineStateInput{Name: aws.String("core-pipeline")})
	if err != nil {
		t.Fatal(err)
	}
	acts := st.StageStates[0].ActionStates
	if a := acts[0].LatestExecution; a.Status != types.ActionExecutionStatusSucceeded || aws.ToString(a.Summary) != "Approved by @ada via Slack" || !aws.ToTime(a.LastStatusChange).Equal(at) {
		t.Fatalf("approved action %+v", a)
	}
	if a := acts[1].LatestExecution; a.Status != types.ActionExecutionStatusFailed {
		t.Fatalf("rejected action %+v", a)
	}
	if s := emu.Stages("core-pipeline"); len(s) != 1 || s[0].Actions[0].Status != "Succeeded" {
		t.Fatalf("stages %+v", s)
	}
}

// Before lets a test change the state between two calls; OnApproval runs once an
// approval has taken effect, before pipegate hears of it.
func TestCodePipelineHooks(t *testing.T) {
	emu := NewCodePipeline("core-pipeline")
	var ops []string
	var onApproval []Approval
	emu.Before = func(op string) {
		ops = append(ops, op)
		if op == "PutApprovalResult" && len(ops) == 2 {
			// A person answers in the console first: the token pipegate read is stale.
			emu.SetStage("core-pipeline", StageState{Name: "Prod", ExecutionID: "e1", Status: "InProgress",
				Actions: []ActionState{{Name: "Approve", Status: "InProgress", Token: "tok-2"}}})
		}
	}
	emu.OnApproval = func(a Approval) {
		// Without the lock: the stand-in's own methods work from inside.
		if s := emu.Stages("core-pipeline"); s[0].Actions[0].Status != "Succeeded" {
			t.Errorf("OnApproval before the approval took effect: %+v", s)
		}
		onApproval = append(onApproval, a)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	api := codepipeline.NewFromConfig(awsTestConfig(srv))
	ctx := context.Background()
	emu.SetStage("core-pipeline", StageState{Name: "Prod", ExecutionID: "e1", Status: "InProgress",
		Actions: []ActionState{{Name: "Approve", Status: "InProgress", Token: "tok-1"}}})
	put := func(token string) error {
		_, err := api.PutApprovalResult(ctx, &codepipeline.PutApprovalResultInput{
			PipelineName: aws.String("core-pipeline"), StageName: aws.String("Prod"), ActionName: aws.String("Approve"),
			Token: aws.String(token), Result: &types.ApprovalResult{Status: types.ApprovalStatusApproved, Summary: aws.String("ok")},
		})
		return err
	}
	if _, err := api.GetPipelineState(ctx, &codepipeline.GetPipelineStateInput{Name: aws.String("core-pipeline")}); err != nil {
		t.Fatal(err)
	}
	var bad *types.InvalidApprovalTokenException
	if err := put("tok-1"); !errors.As(err, &bad) {
		t.Fatalf("token changed before PutApprovalResult: %v", err)
	}
	if len(onApproval) != 0 {
		t.Fatalf("OnApproval for a refused approval: %+v", onApproval)
	}
	if err := put("tok-2"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"GetPipelineState", "PutApprovalResult", "PutApprovalResult"}; strings.Join(ops, ",") != strings.Join(want, ",") {
		t.Errorf("Before saw %q, want %q", ops, want)
	}
	if len(onApproval) != 1 || onApproval[0].Token != "tok-2" || onApproval[0].Status != "Approved" {
		t.Errorf("OnApproval saw %+v, want the approval with tok-2", onApproval)
	}
}

// ListActionExecutions: an execution's action runs, newest first, a page at a
// time, and the errors of the real service.
func TestCodePipelineListActionExecutions(t *testing.T) {
	clock := newTestClock()
	api, emu, _ := newCodePipelineTestAt(t, clock)
	ctx := context.Background()
	t0 := clock.Now()
	exec := emu.AddExecution("core-pipeline", Execution{CommitSHA: "c0ffee1"})
	other := emu.AddExecution("core-pipeline", Execution{CommitSHA: "c0ffee2"})
	build := emu.AddActionExecution("core-pipeline", ActionExecution{PipelineExecutionID: exec, Stage: "Build", Action: "Build",
		Category: "Build", Provider: "CodeBuild", StartTime: t0.Add(10 * time.Second), LastUpdate: t0.Add(70 * time.Second), Summary: "exit 0"})
	source := emu.AddActionExecution("core-pipeline", ActionExecution{PipelineExecutionID: exec, Stage: "Source", Action: "Source",
		Category: "Source", Provider: "CodeStarSourceConnection", StartTime: t0})
	tests := emu.AddActionExecution("core-pipeline", ActionExecution{PipelineExecutionID: exec, Stage: "Build", Action: "UnitTests",
		Category: "Test", Provider: "CodeBuild", StartTime: t0.Add(12 * time.Second), Status: "InProgress"})
	emu.AddActionExecution("core-pipeline", ActionExecution{PipelineExecutionID: other, Stage: "Source", Action: "Source", StartTime: t0.Add(time.Hour)})

	list := func(in *codepipeline.ListActionExecutionsInput) (*codepipeline.ListActionExecutionsOutput, error) {
		in.PipelineName = aws.String("core-pipeline")
		return api.ListActionExecutions(ctx, in)
	}
	filter := &types.ActionExecutionFilter{PipelineExecutionId: aws.String(exec)}
	out, err := list(&codepipeline.ListActionExecutionsInput{Filter: filter, MaxResults: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ActionExecutionDetails) != 2 || aws.ToString(out.ActionExecutionDetails[0].ActionExecutionId) != tests ||
		aws.ToString(out.ActionExecutionDetails[1].ActionExecutionId) != build || out.NextToken == nil {
		t.Fatalf("first page %+v, next %v; want UnitTests, Build, and a next token", out.ActionExecutionDetails, out.NextToken)
	}
	b := out.ActionExecutionDetails[1]
	if aws.ToString(b.StageName) != "Build" || aws.ToString(b.ActionName) != "Build" || b.Status != types.ActionExecutionStatusSucceeded ||
		!aws.ToTime(b.StartTime).Equal(t0.Add(10*time.Second)) || !aws.ToTime(b.LastUpdateTime).Equal(t0.Add(70*time.Second)) ||
		aws.ToString(b.Output.ExecutionResult.ExternalExecutionSummary) != "exit 0" || aws.ToInt32(b.PipelineVersion) != 1 {
		t.Errorf("Build %+v", b)
	}
	if s := out.ActionExecutionDetails[0].Status; s != types.ActionExecutionStatusInProgress {
		t.Errorf("UnitTests %s, want InProgress", s)
	}
	out, err = list(&codepipeline.ListActionExecutionsInput{Filter: filter, MaxResults: aws.Int32(2), NextToken: out.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ActionExecutionDetails) != 1 || aws.ToString(out.ActionExecutionDetails[0].ActionExecutionId) != source || out.NextToken != nil {
		t.Fatalf("second page %+v, next %v; want Source alone", out.ActionExecutionDetails, out.NextToken)
	}
	if out, err := list(&codepipeline.ListActionExecutionsInput{}); err != nil || len(out.ActionExecutionDetails) != 4 {
		t.Fatalf("unfiltered: %v, %v; want all 4", out, err)
	}

	for _, tc := range []struct {
		name string
		in   *codepipeline.ListActionExecutionsInput
		want any // a pointer to the error type's pointer, for errors.As
	}{
		{"unknown pipeline", &codepipeline.ListActionExecutionsInput{}, new(*types.PipelineNotFoundException)},
		{"unknown execution", &codepipeline.ListActionExecutionsInput{Filter: &types.ActionExecutionFilter{PipelineExecutionId: aws.String("nope")}}, new(*types.PipelineExecutionNotFoundException)},
		{"bad next token", &codepipeline.ListActionExecutionsInput{NextToken: aws.String("forged")}, new(*types.InvalidNextTokenException)},
		{"maxResults 0", &codepipeline.ListActionExecutionsInput{MaxResults: aws.Int32(0)}, new(*types.ValidationException)},
		{"maxResults 101", &codepipeline.ListActionExecutionsInput{MaxResults: aws.Int32(101)}, new(*types.ValidationException)},
	} {
		in := tc.in
		var err error
		if tc.name == "unknown pipeline" {
			in.PipelineName = aws.String("nope")
			_, err = api.ListActionExecutions(ctx, in)
		} else {
			_, err = list(in)
		}
		if !errors.As(err, tc.want) {
			t.Errorf("%s: %v, want %T", tc.name, err, tc.want)
		}
	}
	if n := emu.Calls("ListActionExecutions"); n != 3+5 {
		t.Errorf("%d calls counted, want 8", n)
	}
}
