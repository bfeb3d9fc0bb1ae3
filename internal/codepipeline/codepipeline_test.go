package codepipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/testenv"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

func newTest(t *testing.T) (*Client, *emulator.CodePipeline) {
	t.Helper()
	emu := emulator.NewCodePipeline("core-pipeline")
	cfg := testenv.AWSStandIn(t, emu)
	return New(cfg), emu
}

func start(token string) StartInput {
	return StartInput{Pipeline: "core-pipeline", SourceAction: "Source", CommitSHA: sha, ClientRequestToken: token}
}

func TestStartSameTokenStartsOnce(t *testing.T) {
	c, emu := newTest(t)
	ctx := context.Background()
	id1, err := c.Start(ctx, start("delivery-1"))
	if err != nil {
		t.Fatal(err)
	}
	id2, err := c.Start(ctx, start("delivery-1"))
	if err != nil {
		t.Fatal(err)
	}
	if id1 == "" || id1 != id2 {
		t.Fatalf("ids %q and %q, want one non-empty id", id1, id2)
	}
	got := emu.Executions()
	if len(got) != 1 {
		t.Fatalf("%d executions, want 1", len(got))
	}
	want := emulator.SourceRevision{ActionName: "Source", RevisionType: "COMMIT_ID", RevisionValue: sha}
	if e := got[0]; e.ID != id1 || e.ClientRequestToken != "delivery-1" || len(e.SourceRevisions) != 1 || e.SourceRevisions[0] != want {
		t.Fatalf("execution %+v", e)
	}
	id3, err := c.Start(ctx, start("delivery-2"))
	if err != nil || id3 == id1 {
		t.Fatalf("other token: id %q, err %v; want a new execution", id3, err)
	}
}

func TestStartRetriesThrottling(t *testing.T) {
	c, emu := newTest(t)
	emu.FailNext("StartPipelineExecution", 2, emulator.Throttling)
	if _, err := c.Start(context.Background(), start("t")); err != nil {
		t.Fatal(err)
	}
	if n := emu.Calls("StartPipelineExecution"); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
	if n := len(emu.Executions()); n != 1 {
		t.Fatalf("%d executions, want 1", n)
	}
}

func TestStartGivesUpQuickly(t *testing.T) {
	c, emu := newTest(t)
	emu.FailNext("StartPipelineExecution", 100, emulator.Throttling)
	begin := time.Now()
	_, err := c.Start(context.Background(), start("t"))
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" {
		t.Fatalf("err %v, want ThrottlingException", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("took %v, want well under the 10 s webhook budget", d)
	}
	if n := emu.Calls("StartPipelineExecution"); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
	if len(emu.Executions()) != 0 {
		t.Fatal("an execution was recorded")
	}
}

func TestStartHangEndsAtDeadline(t *testing.T) {
	c, emu := newTest(t)
	emu.FailNext("StartPipelineExecution", 1, emulator.Hang)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := c.Start(ctx, start("t"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("returned after %v", d)
	}
}

func TestStartUnknownPipeline(t *testing.T) {
	c, _ := newTest(t)
	in := start("t")
	in.Pipeline = "nope"
	_, err := c.Start(context.Background(), in)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err %v, want ErrNotFound", err)
	}
}

func TestExecution(t *testing.T) {
	c, emu := newTest(t)
	ctx := context.Background()
	id, err := c.Start(ctx, start("x"))
	if err != nil {
		t.Fatal(err)
	}
	emu.SetStatus("core-pipeline", id, "Succeeded")
	got, err := c.Execution(ctx, "core-pipeline", id)
	if err != nil {
		t.Fatal(err)
	}
	want := Execution{Pipeline: "core-pipeline", ID: id, Status: "Succeeded", CommitSHA: sha, SourceAction: "Source", Trigger: "StartPipelineExecution"}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	// The run CodePipeline starts by itself when a pipeline is created.
	created := emu.AddExecution("core-pipeline", emulator.Execution{CommitSHA: sha, Trigger: "CreatePipeline"})
	got, err = c.Execution(ctx, "core-pipeline", created)
	if err != nil {
		t.Fatal(err)
	}
	if got.Trigger != "CreatePipeline" || got.CommitSHA != sha {
		t.Fatalf("execution at creation: %+v, want trigger CreatePipeline", got)
	}
	if _, err := c.Execution(ctx, "core-pipeline", "00000000-0000-0000-0000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown execution: err %v, want ErrNotFound", err)
	}
}

func TestExecutionURL(t *testing.T) {
	c, _ := newTest(t)
	got := c.ExecutionURL("core-pipeline", "abc-123")
	want := "https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/core-pipeline/executions/abc-123/timeline?region=eu-west-1"
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}
