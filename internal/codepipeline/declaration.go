package codepipeline

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscp "github.com/aws/aws-sdk-go-v2/service/codepipeline"
)

// Declaration is a pipeline's structure, as GetPipeline declares it.
type Declaration struct {
	Name   string
	Stages []StageDeclaration
}

// StageDeclaration is one stage of a Declaration, its actions in declared order.
type StageDeclaration struct {
	Name    string
	Actions []ActionDeclaration
}

// ActionDeclaration is one action: its type (actionTypeId) and configuration.
type ActionDeclaration struct {
	Name                               string
	Category, Owner, Provider, Version string
	RunOrder                           int
	Configuration                      map[string]string
}

// PipelineNames lists the names of every pipeline of the account and region
// (ListPipelines, all pages).
func (c *Client) PipelineNames(ctx context.Context) ([]string, error) {
	var names []string
	for p := awscp.NewListPipelinesPaginator(c.api, &awscp.ListPipelinesInput{}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list pipelines: %w", err)
		}
		for _, s := range out.Pipelines {
			names = append(names, aws.ToString(s.Name))
		}
	}
	return names, nil
}

// Declaration reads the structure of pipeline (GetPipeline, its latest version).
// A pipeline CodePipeline does not know is ErrNotFound.
func (c *Client) Declaration(ctx context.Context, pipeline string) (Declaration, error) {
	out, err := c.api.GetPipeline(ctx, &awscp.GetPipelineInput{Name: aws.String(pipeline)})
	if err != nil {
		return Declaration{}, fmt.Errorf("get pipeline %s: %w", pipeline, notFound(err))
	}
	if out.Pipeline == nil {
		return Declaration{}, fmt.Errorf("get pipeline %s: empty answer", pipeline)
	}
	d := Declaration{Name: aws.ToString(out.Pipeline.Name)}
	for _, s := range out.Pipeline.Stages {
		st := StageDeclaration{Name: aws.ToString(s.Name)}
		for _, a := range s.Actions {
			ad := ActionDeclaration{
				Name:          aws.ToString(a.Name),
				RunOrder:      int(aws.ToInt32(a.RunOrder)),
				Configuration: a.Configuration,
			}
			if t := a.ActionTypeId; t != nil {
				ad.Category, ad.Owner = string(t.Category), string(t.Owner)
				ad.Provider, ad.Version = aws.ToString(t.Provider), aws.ToString(t.Version)
			}
			st.Actions = append(st.Actions, ad)
		}
		d.Stages = append(d.Stages, st)
	}
	return d, nil
}
