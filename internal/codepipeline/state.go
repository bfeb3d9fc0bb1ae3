package codepipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscp "github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline/types"
)

// maxListResults is the most executions ListPipelineExecutions returns in one call.
const maxListResults = 100

// Summary is one execution as ListPipelineExecutions reports it.
type Summary struct {
	ID, Status string // API vocabulary (InProgress, Succeeded, ...)
	// CommitSHA is the source revision the execution runs: the git commit among
	// sourceRevisions[].revisionId if there is one, else the first revision; empty
	// when it has none yet.
	CommitSHA             string
	StartTime, LastUpdate time.Time
	StatusSummary         string // often empty
	Trigger               string // trigger.triggerType, e.g. StartPipelineExecution, CreatePipeline
}

// Recent lists the newest executions of pipeline, newest first, at most n (one call,
// maxResults n). n above 100, the API's limit, asks for 100; n below 1 asks for nothing.
func (c *Client) Recent(ctx context.Context, pipeline string, n int) ([]Summary, error) {
	if n < 1 {
		return nil, nil
	}
	n = min(n, maxListResults)
	out, err := c.api.ListPipelineExecutions(ctx, &awscp.ListPipelineExecutionsInput{
		PipelineName: aws.String(pipeline),
		MaxResults:   aws.Int32(int32(n)),
	})
	if err != nil {
		return nil, fmt.Errorf("list executions of pipeline %s: %w", pipeline, notFound(err))
	}
	list := make([]Summary, 0, len(out.PipelineExecutionSummaries))
	for _, pe := range out.PipelineExecutionSummaries {
		s := Summary{
			ID:            aws.ToString(pe.PipelineExecutionId),
			Status:        string(pe.Status),
			StartTime:     aws.ToTime(pe.StartTime),
			LastUpdate:    aws.ToTime(pe.LastUpdateTime),
			StatusSummary: aws.ToString(pe.StatusSummary),
		}
		if pe.Trigger != nil {
			s.Trigger = string(pe.Trigger.TriggerType)
		}
		ids := make([]string, len(pe.SourceRevisions))
		for i, r := range pe.SourceRevisions {
			ids[i] = aws.ToString(r.RevisionId)
		}
		if i := commitIndex(ids); i >= 0 {
			s.CommitSHA = ids[i]
		}
		list = append(list, s)
	}
	return list, nil
}

// StageState is one stage as GetPipelineState reports it.
type StageState struct {
	Name        string
	ExecutionID string    // latestExecution.pipelineExecutionId ("" if the stage never ran)
	Status      string    // latestExecution.status (API vocabulary)
	Updated     time.Time // the latest lastStatusChange of its actions
	Actions     []ActionState
}

// ActionState is one action of a stage. CodePipeline does not say which pipeline
// execution an action's latest run belongs to; only the stage does.
type ActionState struct {
	Name, Status string // latestExecution.status
	Summary      string // latestExecution.summary
	Error        string // latestExecution.errorDetails.message
	Token        string // latestExecution.token (approval actions)
	Updated      time.Time
}

// State reads GetPipelineState: the stages of pipeline in pipeline order.
func (c *Client) State(ctx context.Context, pipeline string) ([]StageState, error) {
	out, err := c.api.GetPipelineState(ctx, &awscp.GetPipelineStateInput{Name: aws.String(pipeline)})
	if err != nil {
		return nil, fmt.Errorf("get state of pipeline %s: %w", pipeline, notFound(err))
	}
	stages := make([]StageState, 0, len(out.StageStates))
	for _, st := range out.StageStates {
		s := StageState{Name: aws.ToString(st.StageName)}
		if le := st.LatestExecution; le != nil {
			s.ExecutionID = aws.ToString(le.PipelineExecutionId)
			s.Status = string(le.Status)
		}
		for _, as := range st.ActionStates {
			a := actionState(as)
			if a.Updated.After(s.Updated) {
				s.Updated = a.Updated
			}
			s.Actions = append(s.Actions, a)
		}
		stages = append(stages, s)
	}
	return stages, nil
}

func actionState(as types.ActionState) ActionState {
	a := ActionState{Name: aws.ToString(as.ActionName)}
	le := as.LatestExecution
	if le == nil {
		return a
	}
	a.Status = string(le.Status)
	a.Summary = aws.ToString(le.Summary)
	a.Token = aws.ToString(le.Token)
	a.Updated = aws.ToTime(le.LastStatusChange)
	if le.ErrorDetails != nil {
		a.Error = aws.ToString(le.ErrorDetails.Message)
	}
	return a
}

// FailureSummary says why stage failed in executionID, from a State answer:
// "<action>: <error message, else summary>" of its first Failed action that says
// anything; "" when unknown (the stage ran another execution since, is not Failed, or
// no action says why). stage "": any stage of that execution.
func FailureSummary(stages []StageState, executionID, stage string) string {
	for _, s := range stages {
		// An action keeps its last run until it runs again, so a Failed action in a
		// stage that now runs another execution (or has not failed) may be stale.
		if (stage != "" && s.Name != stage) || s.ExecutionID != executionID || s.Status != string(types.StageExecutionStatusFailed) {
			continue
		}
		for _, a := range s.Actions {
			if a.Status != string(types.ActionExecutionStatusFailed) {
				continue
			}
			why := a.Error
			if why == "" {
				why = a.Summary
			}
			if why != "" {
				return a.Name + ": " + why
			}
		}
	}
	return ""
}
