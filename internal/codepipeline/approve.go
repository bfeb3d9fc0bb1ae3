package codepipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscp "github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline/types"

	"github.com/pipegate/pipegate/internal/text"
)

// ErrApprovalGone is wrapped into Approve's error when CodePipeline no longer
// accepts the token (InvalidApprovalTokenException: answered already, or timed
// out) or the approval is already completed (ApprovalAlreadyCompletedException).
// For the gate that is not a failure: someone, perhaps an earlier evaluation,
// decided first.
var ErrApprovalGone = errors.New("approval no longer pending")

// Approval is the answer to one manual approval request.
type Approval struct {
	Pipeline, Stage, Action string
	Token                   string // latestExecution.token of the action, from GetPipelineState
	Approved                bool   // false: Rejected
	Summary                 string // cut to text.MaxApprovalSummary characters
}

// Approve answers the approval request with PutApprovalResult. A request that is
// no longer pending gives an error wrapping ErrApprovalGone; an unknown pipeline,
// stage or action one wrapping ErrNotFound.
func (c *Client) Approve(ctx context.Context, a Approval) error {
	status, verb := types.ApprovalStatusApproved, "approve"
	if !a.Approved {
		status, verb = types.ApprovalStatusRejected, "reject"
	}
	where := fmt.Sprintf("%s %s/%s/%s", verb, a.Pipeline, a.Stage, a.Action)
	if a.Token == "" {
		return fmt.Errorf("%s: no approval token", where)
	}
	summary := a.summary()
	_, err := c.api.PutApprovalResult(ctx, &awscp.PutApprovalResultInput{
		PipelineName: aws.String(a.Pipeline),
		StageName:    aws.String(a.Stage),
		ActionName:   aws.String(a.Action),
		Token:        aws.String(a.Token),
		Result: &types.ApprovalResult{
			Status:  status,
			Summary: aws.String(summary),
		},
	})
	if err == nil {
		return nil
	}
	var invalid *types.InvalidApprovalTokenException
	var done *types.ApprovalAlreadyCompletedException
	if errors.As(err, &invalid) || errors.As(err, &done) {
		return fmt.Errorf("%s: %w: %w", where, ErrApprovalGone, err)
	}
	return fmt.Errorf("%s: %w", where, notFound(err))
}

// summary is the result.summary Approve sends for a, as CodePipeline keeps it.
func (a Approval) summary() string {
	if a.Summary == "" {
		// The field is required; an empty one would leave the console blank.
		if a.Approved {
			return "Approved by pipegate"
		}
		return "Rejected by pipegate"
	}
	return text.Truncate(a.Summary, text.MaxApprovalSummary)
}

// Took reports whether a State answer shows a taken: the stage still runs
// executionID and the approval action's latest run ended as a says, with a's
// summary (and token, when CodePipeline shows one). It tells an answer of
// pipegate's whose reply was lost (the write landed, the SDK asked again and
// heard ApprovalAlreadyCompletedException) from one given in the console, or a
// timeout, which carry other summaries.
func Took(stages []StageState, executionID string, a Approval) bool {
	want := string(types.ActionExecutionStatusSucceeded)
	if !a.Approved {
		want = string(types.ActionExecutionStatusFailed)
	}
	for _, s := range stages {
		if s.Name != a.Stage {
			continue
		}
		if s.ExecutionID != executionID {
			return false
		}
		for _, act := range s.Actions {
			if act.Name == a.Action {
				return act.Status == want && act.Summary == a.summary() && (act.Token == "" || act.Token == a.Token)
			}
		}
	}
	return false
}

// Waiting reports the execution waiting at an approval action and the token to
// answer it with, from a State answer: ok when stage's latest execution is
// InProgress and action's latest execution is InProgress with a token. The
// execution is the stage's: CodePipeline says which execution a stage runs, not
// which one an action's latest run belongs to, and while the stage is InProgress
// the action's run is that execution's.
func Waiting(stages []StageState, stage, action string) (executionID, token string, ok bool) {
	for _, s := range stages {
		if s.Name != stage {
			continue
		}
		if s.Status != string(types.StageExecutionStatusInProgress) || s.ExecutionID == "" {
			return "", "", false
		}
		for _, a := range s.Actions {
			if a.Name == action && a.Status == string(types.ActionExecutionStatusInProgress) && a.Token != "" {
				return s.ExecutionID, a.Token, true
			}
		}
		return "", "", false
	}
	return "", "", false
}
