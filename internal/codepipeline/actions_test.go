package codepipeline

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/emulator"
)

func TestActionExecutions(t *testing.T) {
	c, emu := newTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)
	id, err := c.Start(ctx, start("a1"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.Start(ctx, start("a2"))
	if err != nil {
		t.Fatal(err)
	}
	emu.AddActionExecution("core-pipeline", emulator.ActionExecution{PipelineExecutionID: id, Stage: "Source", Action: "Source",
		StartTime: t0, LastUpdate: t0.Add(3 * time.Second)})
	emu.AddActionExecution("core-pipeline", emulator.ActionExecution{PipelineExecutionID: id, Stage: "Build", Action: "Build",
		StartTime: t0.Add(4 * time.Second), Status: "InProgress"})
	emu.AddActionExecution("core-pipeline", emulator.ActionExecution{PipelineExecutionID: other, Stage: "Source", Action: "Source",
		StartTime: t0.Add(time.Minute)})

	got, err := c.ActionExecutions(ctx, "core-pipeline", id)
	if err != nil {
		t.Fatal(err)
	}
	want := []ActionExecution{
		{Stage: "Build", Action: "Build", Status: "InProgress", Start: t0.Add(4 * time.Second), LastUpdate: t0.Add(4 * time.Second)},
		{Stage: "Source", Action: "Source", Status: "Succeeded", Start: t0, LastUpdate: t0.Add(3 * time.Second)},
	}
	if !slices.EqualFunc(got, want, func(a, b ActionExecution) bool {
		return a.Stage == b.Stage && a.Action == b.Action && a.Status == b.Status && a.Start.Equal(b.Start) && a.LastUpdate.Equal(b.LastUpdate)
	}) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if n := emu.Calls("ListActionExecutions"); n != 1 {
		t.Errorf("%d ListActionExecutions calls, want 1", n)
	}
	if _, err := c.ActionExecutions(ctx, "core-pipeline", "no-such-execution"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown execution: %v, want ErrNotFound", err)
	}
	if _, err := c.ActionExecutions(ctx, "nope", id); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown pipeline: %v, want ErrNotFound", err)
	}
	emu.FailNext("ListActionExecutions", 3, emulator.ServerError)
	if _, err := c.ActionExecutions(ctx, "core-pipeline", id); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("CodePipeline failing: %v, want an error that is not ErrNotFound", err)
	}
}

func TestStageStart(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	runs := []ActionExecution{
		{Stage: "Build", Action: "UnitTests", Start: t0.Add(12 * time.Second)},
		{Stage: "Build", Action: "Build", Start: t0.Add(10 * time.Second)},
		{Stage: "Build", Action: "Build", Start: t0.Add(90 * time.Second)}, // a retry
		{Stage: "Build", Action: "Lint"},                                   // no start: ignored
		{Stage: "Source", Action: "Source", Start: t0},
	}
	for _, tt := range []struct {
		stage string
		want  time.Time
	}{
		{"Build", t0.Add(10 * time.Second)},
		{"Source", t0},
		{"Staging", time.Time{}},
	} {
		if got := StageStart(runs, tt.stage); !got.Equal(tt.want) {
			t.Errorf("StageStart(%s) = %v, want %v", tt.stage, got, tt.want)
		}
	}
	if got := StageStart(nil, "Build"); !got.IsZero() {
		t.Errorf("no runs: %v", got)
	}
}
