package codepipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscp "github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
)

// ActionExecution is one run of an action, as ListActionExecutions reports it.
type ActionExecution struct {
	Stage, Action     string
	Status            string // InProgress, Succeeded, Failed, Abandoned
	Start, LastUpdate time.Time
}

// ActionExecutions lists the action runs of one execution of pipeline, newest
// first: one ListActionExecutions call filtered by pipelineExecutionId, its first
// page (up to 100 runs, more than an execution has unless its stages were retried
// many times).
func (c *Client) ActionExecutions(ctx context.Context, pipeline, executionID string) ([]ActionExecution, error) {
	out, err := c.api.ListActionExecutions(ctx, &awscp.ListActionExecutionsInput{
		PipelineName: aws.String(pipeline),
		Filter:       &types.ActionExecutionFilter{PipelineExecutionId: aws.String(executionID)},
		MaxResults:   aws.Int32(maxListResults),
	})
	if err != nil {
		return nil, fmt.Errorf("list action executions of execution %s of pipeline %s: %w", executionID, pipeline, notFound(err))
	}
	runs := make([]ActionExecution, 0, len(out.ActionExecutionDetails))
	for _, d := range out.ActionExecutionDetails {
		runs = append(runs, ActionExecution{
			Stage:      aws.ToString(d.StageName),
			Action:     aws.ToString(d.ActionName),
			Status:     string(d.Status),
			Start:      aws.ToTime(d.StartTime),
			LastUpdate: aws.ToTime(d.LastUpdateTime),
		})
	}
	return runs, nil
}

// StageStart is when stage began, as far as runs tell: the earliest start of its
// actions (the first action starts as the stage does; a retried stage began at
// its first attempt). Zero when none of its actions ran.
func StageStart(runs []ActionExecution, stage string) time.Time {
	var first time.Time
	for _, r := range runs {
		if r.Stage == stage && !r.Start.IsZero() && (first.IsZero() || r.Start.Before(first)) {
			first = r.Start
		}
	}
	return first
}
