package emulator

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
)

func TestListPipelinesPages(t *testing.T) {
	client, emu, _ := newCodePipelineTest(t)
	emu.AddPipeline("api-pipeline")
	emu.AddPipeline("web-deploy")
	var names []string
	pages := 0
	for p := codepipeline.NewListPipelinesPaginator(client, &codepipeline.ListPipelinesInput{MaxResults: aws.Int32(2)}); p.HasMorePages(); {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range out.Pipelines {
			names = append(names, aws.ToString(s.Name))
			if s.PipelineType != types.PipelineTypeV2 || aws.ToInt32(s.Version) != 1 || s.Created == nil {
				t.Errorf("summary %+v", s)
			}
		}
	}
	if want := []string{"api-pipeline", "core-pipeline", "web-deploy"}; pages != 2 || !slices.Equal(names, want) {
		t.Errorf("%d pages of %v, want 2 of %v", pages, names, want)
	}
	_, err := client.ListPipelines(context.Background(), &codepipeline.ListPipelinesInput{NextToken: aws.String("forged")})
	var bad *types.InvalidNextTokenException
	if !errors.As(err, &bad) {
		t.Errorf("a forged token: %v", err)
	}
}

func TestGetPipelineDeclaresTheShape(t *testing.T) {
	client, emu, _ := newCodePipelineTest(t)
	shape := DefaultShape("Checkout", "Staging", "Prod", "Approve")
	shape[0].Actions[0].Configuration = map[string]string{"FullRepositoryId": "acme/api", "BranchName": "main", "DetectChanges": "false"}
	emu.SetShape("api-pipeline", shape)

	out, err := client.GetPipeline(context.Background(), &codepipeline.GetPipelineInput{Name: aws.String("api-pipeline")})
	if err != nil {
		t.Fatal(err)
	}
	p := out.Pipeline
	if aws.ToString(p.Name) != "api-pipeline" || len(p.Stages) != 4 || aws.ToString(out.Metadata.PipelineArn) == "" {
		t.Fatalf("pipeline %+v", p)
	}
	src := p.Stages[0].Actions[0]
	if aws.ToString(src.Name) != "Checkout" || src.ActionTypeId.Category != types.ActionCategorySource ||
		aws.ToString(src.ActionTypeId.Provider) != "CodeStarSourceConnection" || src.ActionTypeId.Owner != types.ActionOwnerAws ||
		src.Configuration["FullRepositoryId"] != "acme/api" || src.Configuration["DetectChanges"] != "false" {
		t.Errorf("source action %+v", src)
	}
	prod := p.Stages[3]
	if aws.ToString(prod.Name) != "Prod" || len(prod.Actions) != 2 ||
		prod.Actions[0].ActionTypeId.Category != types.ActionCategoryApproval || aws.ToInt32(prod.Actions[0].RunOrder) != 1 ||
		prod.Actions[1].ActionTypeId.Category != types.ActionCategoryDeploy || aws.ToInt32(prod.Actions[1].RunOrder) != 2 {
		t.Errorf("production stage %+v", prod)
	}

	// A pipeline without a shape declares the one Run gives it.
	out, err = client.GetPipeline(context.Background(), &codepipeline.GetPipelineInput{Name: aws.String("core-pipeline")})
	if err != nil || len(out.Pipeline.Stages) != 4 || aws.ToString(out.Pipeline.Stages[3].Actions[0].Name) != "ApproveProduction" {
		t.Errorf("default shape: %v %+v", err, out)
	}

	_, err = client.GetPipeline(context.Background(), &codepipeline.GetPipelineInput{Name: aws.String("nope")})
	var nf *types.PipelineNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("an unknown pipeline: %v", err)
	}
}
