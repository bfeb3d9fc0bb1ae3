package codepipeline

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/testenv"
)

const sha2 = "89abcdef0123456789abcdef0123456789abcdef"

func TestRecent(t *testing.T) {
	emu := emulator.NewCodePipeline("core-pipeline")
	now := time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)
	emu.Now = func() time.Time { return now } // set before the stand-in serves
	c := New(testenv.AWSStandIn(t, emu))
	ctx := context.Background()

	ours, err := c.Start(ctx, start("r1"))
	if err != nil {
		t.Fatal(err)
	}
	emu.SetStatusSummary("core-pipeline", ours, "Failed", "Stage Build failed")
	// Started from the console an hour later, with an S3 source besides the git one.
	console := emu.AddExecution("core-pipeline", emulator.Execution{
		StartedAt: now.Add(time.Hour),
		SourceRevisions: []emulator.SourceRevision{
			{ActionName: "Config", RevisionValue: "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"},
			{ActionName: "Source", RevisionValue: sha2},
		},
	})
	old := emu.AddExecution("core-pipeline", emulator.Execution{StartedAt: now.Add(-time.Hour), Status: "Succeeded"})

	got, err := c.Recent(ctx, "core-pipeline", 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []Summary{
		{ID: console, Status: "InProgress", CommitSHA: sha2, StartTime: now.Add(time.Hour), LastUpdate: now.Add(time.Hour)},
		{ID: ours, Status: "Failed", CommitSHA: sha, StartTime: now, LastUpdate: now, StatusSummary: "Stage Build failed"},
	}
	if !slices.EqualFunc(got, want, sameSummary) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	all, err := c.Recent(ctx, "core-pipeline", 1000) // more than the API allows: asks for 100
	if err != nil || len(all) != 3 || all[2].ID != old || all[2].CommitSHA != "" {
		t.Fatalf("all: %+v, %v", all, err)
	}
	if none, err := c.Recent(ctx, "core-pipeline", 0); err != nil || len(none) != 0 {
		t.Fatalf("n 0: %+v, %v", none, err)
	}
	if n := emu.Calls("ListPipelineExecutions"); n != 2 {
		t.Fatalf("%d ListPipelineExecutions calls, want 2", n)
	}
	if _, err := c.Recent(ctx, "nope", 5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown pipeline: err %v, want ErrNotFound", err)
	}
}

func sameSummary(a, b Summary) bool {
	return a.ID == b.ID && a.Status == b.Status && a.CommitSHA == b.CommitSHA && a.StatusSummary == b.StatusSummary &&
		a.StartTime.Equal(b.StartTime) && a.LastUpdate.Equal(b.LastUpdate)
}

func TestExecutionStatusSummary(t *testing.T) {
	c, emu := newTest(t)
	ctx := context.Background()
	id, err := c.Start(ctx, start("s"))
	if err != nil {
		t.Fatal(err)
	}
	emu.SetStatusSummary("core-pipeline", id, "Stopped", "Stopped by alice: hotfix first")
	got, err := c.Execution(ctx, "core-pipeline", id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "Stopped" || got.StatusSummary != "Stopped by alice: hotfix first" {
		t.Fatalf("got %+v", got)
	}
}

func TestState(t *testing.T) {
	c, emu := newTest(t)
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	emu.SetStage("core-pipeline", emulator.StageState{Name: "Source", ExecutionID: "e2", Status: "Succeeded", Actions: []emulator.ActionState{
		{Name: "Source", Status: "Succeeded", Summary: "Merge branch 'x'", Updated: t0},
	}})
	emu.SetStage("core-pipeline", emulator.StageState{Name: "Build", ExecutionID: "e2", Status: "Failed", Actions: []emulator.ActionState{
		{Name: "Lint", Status: "Succeeded", Updated: t0.Add(time.Minute)},
		{Name: "Compile", Status: "Failed", Summary: "Build terminated with state: FAILED", Error: "exit status 2", Updated: t0.Add(3 * time.Minute)},
		{Name: "Test", Status: "Failed", Summary: "tests failed", Updated: t0.Add(2 * time.Minute)},
	}})
	emu.SetStage("core-pipeline", emulator.StageState{Name: "Prod", ExecutionID: "e1", Status: "InProgress", Actions: []emulator.ActionState{
		{Name: "Approve", Status: "InProgress", Token: "tok-1", Updated: t0.Add(-time.Hour)},
		{Name: "Deploy"},
	}})

	got, err := c.State(context.Background(), "core-pipeline")
	if err != nil {
		t.Fatal(err)
	}
	want := []StageState{
		{Name: "Source", ExecutionID: "e2", Status: "Succeeded", Updated: t0, Actions: []ActionState{
			{Name: "Source", Status: "Succeeded", Summary: "Merge branch 'x'", Updated: t0},
		}},
		{Name: "Build", ExecutionID: "e2", Status: "Failed", Updated: t0.Add(3 * time.Minute), Actions: []ActionState{
			{Name: "Lint", Status: "Succeeded", Updated: t0.Add(time.Minute)},
			{Name: "Compile", Status: "Failed", Summary: "Build terminated with state: FAILED", Error: "exit status 2", Updated: t0.Add(3 * time.Minute)},
			{Name: "Test", Status: "Failed", Summary: "tests failed", Updated: t0.Add(2 * time.Minute)},
		}},
		{Name: "Prod", ExecutionID: "e1", Status: "InProgress", Updated: t0.Add(-time.Hour), Actions: []ActionState{
			{Name: "Approve", Status: "InProgress", Token: "tok-1", Updated: t0.Add(-time.Hour)},
			{Name: "Deploy"},
		}},
	}
	if !slices.EqualFunc(got, want, sameStage) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if _, err := c.State(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown pipeline: err %v, want ErrNotFound", err)
	}
}

func sameStage(a, b StageState) bool {
	return a.Name == b.Name && a.ExecutionID == b.ExecutionID && a.Status == b.Status && a.Updated.Equal(b.Updated) &&
		slices.EqualFunc(a.Actions, b.Actions, func(x, y ActionState) bool {
			return x.Name == y.Name && x.Status == y.Status && x.Summary == y.Summary && x.Error == y.Error &&
				x.Token == y.Token && x.Updated.Equal(y.Updated)
		})
}

func TestFailureSummary(t *testing.T) {
	stages := []StageState{
		{Name: "Source", ExecutionID: "e2", Status: "Succeeded", Actions: []ActionState{{Name: "Source", Status: "Succeeded"}}},
		{Name: "Build", ExecutionID: "e2", Status: "Failed", Actions: []ActionState{
			{Name: "Lint", Status: "Succeeded"},
			{Name: "Notify", Status: "Failed"}, // says nothing
			{Name: "Compile", Status: "Failed", Summary: "Build terminated with state: FAILED", Error: "exit status 2"},
			{Name: "Test", Status: "Failed", Summary: "tests failed"},
		}},
		{Name: "Check", ExecutionID: "e2", Status: "Failed", Actions: []ActionState{{Name: "Scan", Status: "Failed", Summary: "3 findings"}}},
		// Prod now runs e3; its action still shows how e1 ended there.
		{Name: "Prod", ExecutionID: "e3", Status: "InProgress", Actions: []ActionState{{Name: "Deploy", Status: "Failed", Error: "old failure"}}},
		{Name: "Never"},
	}
	for _, tc := range []struct {
		execution, stage, want string
	}{
		{"e2", "Build", "Compile: exit status 2"},
		{"e2", "Check", "Scan: 3 findings"},
		{"e2", "", "Compile: exit status 2"},
		{"e2", "Source", ""},
		{"e1", "Prod", ""},
		{"e3", "Prod", ""},
		{"e2", "Nope", ""},
		{"", "Never", ""},
	} {
		if got := FailureSummary(stages, tc.execution, tc.stage); got != tc.want {
			t.Errorf("FailureSummary(%s, %q) = %q, want %q", tc.execution, tc.stage, got, tc.want)
		}
	}
}
