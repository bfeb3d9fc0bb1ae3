package codepipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/pipegate/pipegate/internal/emulator"
)

// Every page of ListPipelines is read: 120 pipelines are more than one page.
func TestPipelineNamesReadsEveryPage(t *testing.T) {
	c, emu := newTest(t)
	for i := range 119 {
		emu.AddPipeline(fmt.Sprintf("p%03d", i))
	}
	names, err := c.PipelineNames(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 120 || !slices.Contains(names, "core-pipeline") || !slices.Contains(names, "p118") {
		t.Errorf("%d names: %v", len(names), names)
	}
	if emu.Calls("ListPipelines") < 2 {
		t.Errorf("%d ListPipelines calls for 120 pipelines", emu.Calls("ListPipelines"))
	}
}

func TestDeclaration(t *testing.T) {
	c, emu := newTest(t)
	shape := emulator.DefaultShape("Source", "Staging", "Production", "ApproveProduction")
	shape[0].Actions[0].Configuration = map[string]string{"FullRepositoryId": "acme/core", "BranchName": "main", "DetectChanges": "false"}
	emu.SetShape("core-pipeline", shape)
	d, err := c.Declaration(context.Background(), "core-pipeline")
	if err != nil {
		t.Fatal(err)
	}
	want := Declaration{Name: "core-pipeline", Stages: []StageDeclaration{
		{"Source", []ActionDeclaration{{"Source", "Source", "AWS", "CodeStarSourceConnection", "1", 1, map[string]string{"FullRepositoryId": "acme/core", "BranchName": "main", "DetectChanges": "false"}}}},
		{"Build", []ActionDeclaration{{"Build", "Build", "AWS", "CodeBuild", "1", 1, nil}}},
		{"Staging", []ActionDeclaration{{"Deploy", "Deploy", "AWS", "ECS", "1", 1, nil}}},
		{"Production", []ActionDeclaration{{"ApproveProduction", "Approval", "AWS", "Manual", "1", 1, nil}, {"Deploy", "Deploy", "AWS", "ECS", "1", 2, nil}}},
	}}
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("declaration\n got %+v\nwant %+v", d, want)
	}
	if _, err := c.Declaration(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown pipeline: %v, want ErrNotFound", err)
	}
}
