// Package codepipeline is pipegate's thin adapter over the AWS CodePipeline client:
// start an execution at a commit, look executions and stage states up, answer a
// manual approval, and name an execution's console page.
package codepipeline

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscp "github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline/types"

	"github.com/pipegate/pipegate/internal/awsretry"
)

// ErrNotFound is wrapped into errors for a pipeline or execution CodePipeline does not
// know; retrying those cannot help.
var ErrNotFound = errors.New("not found")

// Client starts and looks up pipeline executions.
type Client struct {
	api    *awscp.Client
	region string
}

// New builds the CodePipeline client from cfg with a quick retryer: pipegate must
// answer GitLab within 10 s, and work that still fails goes to the retry queue, so the
// SDK must not back off for seconds.
func New(cfg aws.Config) *Client {
	api := awscp.NewFromConfig(cfg, func(o *awscp.Options) {
		o.Retryer = awsretry.Quick()
		o.RetryMaxAttempts = 0 // keep AWS_MAX_ATTEMPTS from stretching the budget
	})
	return NewFromAPI(api, cfg.Region)
}

// NewFromAPI wraps an existing SDK client; region names the console pages.
func NewFromAPI(api *awscp.Client, region string) *Client {
	return &Client{api: api, region: region}
}

// StartInput says which pipeline to start at which commit.
type StartInput struct {
	Pipeline     string
	SourceAction string // the source action whose revision is set to the commit
	CommitSHA    string
	// ClientRequestToken makes CodePipeline itself refuse a second start of the same
	// delivery: 1-128 of [a-zA-Z0-9-].
	ClientRequestToken string
}

// Start starts the pipeline at the commit and returns the execution id. With the same
// ClientRequestToken CodePipeline returns the execution it already started.
func (c *Client) Start(ctx context.Context, in StartInput) (executionID string, err error) {
	out, err := c.api.StartPipelineExecution(ctx, &awscp.StartPipelineExecutionInput{
		Name: aws.String(in.Pipeline),
		SourceRevisions: []types.SourceRevisionOverride{{
			ActionName:    aws.String(in.SourceAction),
			RevisionType:  types.SourceRevisionTypeCommitId,
			RevisionValue: aws.String(in.CommitSHA),
		}},
		ClientRequestToken: nonEmpty(in.ClientRequestToken),
	})
	if err != nil {
		return "", fmt.Errorf("start pipeline %s: %w", in.Pipeline, notFound(err))
	}
	return aws.ToString(out.PipelineExecutionId), nil
}

// ExecutionURL is the execution's page in the CodePipeline console.
func (c *Client) ExecutionURL(pipeline, executionID string) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/codesuite/codepipeline/pipelines/%s/executions/%s/timeline?region=%s",
		c.region, url.PathEscape(pipeline), url.PathEscape(executionID), url.QueryEscape(c.region))
}

// Execution is what pipegate needs to know of a pipeline execution.
type Execution struct {
	Pipeline string
	ID       string
	Status   string // InProgress, Succeeded, Failed, Stopped, Stopping, Superseded, Cancelled
	// CommitSHA is the source revision the execution runs; empty when it has none yet.
	CommitSHA string
	// SourceAction is the name CodePipeline gives that revision (the artifact's name).
	SourceAction string
	// StatusSummary is CodePipeline's word on the status, e.g. why it stopped or
	// failed; often empty.
	StatusSummary string
	// Trigger is trigger.triggerType, what started the execution:
	// StartPipelineExecution (the API, the console's "Release change"),
	// CreatePipeline (the run CodePipeline starts by itself when the pipeline is
	// created), Webhook, CloudWatchEvent, ...; empty when CodePipeline gives none.
	Trigger string
}

// Execution looks an execution up with GetPipelineExecution.
func (c *Client) Execution(ctx context.Context, pipeline, id string) (Execution, error) {
	out, err := c.api.GetPipelineExecution(ctx, &awscp.GetPipelineExecutionInput{
		PipelineName:        aws.String(pipeline),
		PipelineExecutionId: aws.String(id),
	})
	if err != nil {
		return Execution{}, fmt.Errorf("get execution %s of pipeline %s: %w", id, pipeline, notFound(err))
	}
	pe := out.PipelineExecution
	if pe == nil {
		return Execution{}, fmt.Errorf("get execution %s of pipeline %s: empty answer", id, pipeline)
	}
	e := Execution{Pipeline: pipeline, ID: id, Status: string(pe.Status), StatusSummary: aws.ToString(pe.StatusSummary)}
	if pe.Trigger != nil {
		e.Trigger = string(pe.Trigger.TriggerType)
	}
	ids := make([]string, len(pe.ArtifactRevisions))
	for i, r := range pe.ArtifactRevisions {
		ids[i] = aws.ToString(r.RevisionId)
	}
	if i := commitIndex(ids); i >= 0 {
		e.CommitSHA = ids[i]
		e.SourceAction = aws.ToString(pe.ArtifactRevisions[i].Name)
	}
	return e, nil
}

// gitSHA matches a git commit id (SHA-1, or SHA-256 repositories).
var gitSHA = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// commitIndex picks the revision id that is a git commit: a pipeline may have other
// sources too (S3 object versions, image digests), and CodePipeline names revisions
// by their output artifact, not by the source action, so the shape is what tells.
// Without one it is the first revision; -1 when there is none.
func commitIndex(revisionIDs []string) int {
	for i, id := range revisionIDs {
		if gitSHA.MatchString(id) {
			return i
		}
	}
	if len(revisionIDs) > 0 {
		return 0
	}
	return -1
}

// notFound adds ErrNotFound to errors for an unknown pipeline, execution, stage
// or action.
func notFound(err error) error {
	var p *types.PipelineNotFoundException
	var e *types.PipelineExecutionNotFoundException
	var s *types.StageNotFoundException
	var a *types.ActionNotFoundException
	if errors.As(err, &p) || errors.As(err, &e) || errors.As(err, &s) || errors.As(err, &a) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
