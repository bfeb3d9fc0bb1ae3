package emulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

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
	emu := NewCodePipeline("core-pipeline")
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return codepipeline.NewFromConfig(awsTestConfig(srv)), emu, srv
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
	if len(execs) != 1 || execs[0].Variables["ENV"] != "prod" || execs[0].Status != "InProgress" || execs[0].StartedAt.IsZero() {
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
	if pe.Trigger == nil || pe.Trigger.TriggerType != types.TriggerTypeStartPipelineExecution {
		t.Fatalf("trigger %+v", pe.Trigger)
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
