package emulator

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"
)

// Detail types of the CodePipeline state change events on EventBridge.
const (
	PipelineStateChange = "CodePipeline Pipeline Execution State Change"
	StageStateChange    = "CodePipeline Stage Execution State Change"
	ActionStateChange   = "CodePipeline Action Execution State Change"
)

// Where the events built here come from.
const (
	EventRegion  = "eu-west-1"
	EventAccount = "123456789012"
)

// PipelineEvent is the EventBridge envelope of a pipeline execution state change
// (state in the event vocabulary: STARTED, SUCCEEDED, FAILED, ...).
func PipelineEvent(pipeline, executionID, state string, at time.Time) []byte {
	return StateChange{DetailType: PipelineStateChange, Pipeline: pipeline, ExecutionID: executionID, State: state, Time: at}.JSON()
}

// StageEvent is the EventBridge envelope of a stage execution state change.
func StageEvent(pipeline, executionID, stage, state string, at time.Time) []byte {
	return StateChange{DetailType: StageStateChange, Pipeline: pipeline, ExecutionID: executionID, Stage: stage, State: state, Time: at}.JSON()
}

// ActionEvent is the EventBridge envelope of an action execution state change;
// category and provider are detail.type's (e.g. "Build", "CodeBuild").
func ActionEvent(pipeline, executionID, stage, action, category, provider, state string, at time.Time) []byte {
	return StateChange{
		DetailType: ActionStateChange, Pipeline: pipeline, ExecutionID: executionID,
		Stage: stage, Action: action, Category: category, Provider: provider, State: state, Time: at,
	}.JSON()
}

// StateChange is one CodePipeline state change event, for the cases PipelineEvent,
// StageEvent and ActionEvent do not cover. JSON renders it as AWS sends it.
type StateChange struct {
	DetailType  string // PipelineStateChange, StageStateChange or ActionStateChange
	ID          string // envelope id; "" means a fresh one
	Pipeline    string
	ExecutionID string
	Stage       string // stage and action events
	Action      string // action events
	State       string // event vocabulary: STARTED, SUCCEEDED, FAILED, ...
	// Time is the envelope's time. AWS sends it in whole seconds, so JSON drops the
	// fraction; zero means now.
	Time time.Time
	// StartTime is detail.start-time, when the execution began (milliseconds);
	// zero leaves it out.
	StartTime time.Time

	// Action events: detail.type, detail.action-execution-id ("" means a fresh one)
	// and detail.execution-result. A FAILED action event always carries
	// execution-result, with error-code JobFailed unless ErrorCode says otherwise.
	Category, Provider string
	Owner              string // "" means AWS
	ActionExecutionID  string
	Summary            string // execution-result.external-execution-summary
	ExternalID         string // execution-result.external-execution-id
	ExternalURL        string // execution-result.external-execution-url
	ErrorCode          string // execution-result.error-code

	PipelineVersion int // detail.version, the pipeline structure's version; 0 means 1
	Attempt         int // detail.pipeline-execution-attempt; 0 means 1
}

// JSON renders the event as EventBridge delivers it to a Lambda function. Like AWS
// it sends detail.version and pipeline-execution-attempt as floats ("1.0") and
// detail.type.version as a string ("1"): aws-lambda-go's
// events.CodePipelineEventBridgeEvent cannot decode that (aws/aws-lambda-go#552).
func (s StateChange) JSON() []byte {
	type executionResult struct {
		ExternalURL     string `json:"external-execution-url,omitempty"`
		ExternalSummary string `json:"external-execution-summary,omitempty"`
		ExternalID      string `json:"external-execution-id,omitempty"`
		ErrorCode       string `json:"error-code,omitempty"`
	}
	type actionType struct {
		Owner    string `json:"owner"`
		Provider string `json:"provider"`
		Category string `json:"category"`
		Version  string `json:"version"`
	}
	// Field order follows the examples in the CodePipeline user guide.
	type detail struct {
		Pipeline          string           `json:"pipeline"`
		ExecutionID       string           `json:"execution-id"`
		StartTime         string           `json:"start-time,omitempty"`
		Stage             string           `json:"stage,omitempty"`
		ExecutionResult   *executionResult `json:"execution-result,omitempty"`
		ActionExecutionID string           `json:"action-execution-id,omitempty"`
		Action            string           `json:"action,omitempty"`
		State             string           `json:"state"`
		Region            string           `json:"region,omitempty"`
		Type              *actionType      `json:"type,omitempty"`
		Version           json.Number      `json:"version"`
		Attempt           json.Number      `json:"pipeline-execution-attempt"`
	}
	d := detail{
		Pipeline:    s.Pipeline,
		ExecutionID: s.ExecutionID,
		Stage:       s.Stage,
		State:       s.State,
		Version:     awsFloat(s.PipelineVersion),
		Attempt:     awsFloat(s.Attempt),
	}
	if !s.StartTime.IsZero() {
		d.StartTime = s.StartTime.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	if s.DetailType == ActionStateChange {
		d.Action = s.Action
		d.Region = EventRegion // the action's region; the pipeline's unless cross-region
		d.ActionExecutionID = s.ActionExecutionID
		if d.ActionExecutionID == "" {
			d.ActionExecutionID = newUUID()
		}
		owner := s.Owner
		if owner == "" {
			owner = "AWS"
		}
		d.Type = &actionType{Owner: owner, Provider: s.Provider, Category: s.Category, Version: "1"}
		r := executionResult{ExternalURL: s.ExternalURL, ExternalSummary: s.Summary, ExternalID: s.ExternalID, ErrorCode: s.ErrorCode}
		if s.State == "FAILED" && r.ErrorCode == "" {
			r.ErrorCode = "JobFailed"
		}
		if r != (executionResult{}) {
			d.ExecutionResult = &r
		}
	}
	at := s.Time
	if at.IsZero() {
		at = time.Now()
	}
	id := s.ID
	if id == "" {
		id = newUUID()
	}
	env := struct {
		Version    string   `json:"version"`
		ID         string   `json:"id"`
		DetailType string   `json:"detail-type"`
		Source     string   `json:"source"`
		Account    string   `json:"account"`
		Time       string   `json:"time"`
		Region     string   `json:"region"`
		Resources  []string `json:"resources"`
		Detail     detail   `json:"detail"`
	}{
		Version:    "0",
		ID:         id,
		DetailType: s.DetailType,
		Source:     "aws.codepipeline",
		Account:    EventAccount,
		Time:       at.UTC().Format(time.RFC3339),
		Region:     EventRegion,
		Resources:  []string{PipelineARN(s.Pipeline)},
		Detail:     d,
	}
	b, err := json.Marshal(env)
	if err != nil {
		panic(fmt.Sprintf("encode CodePipeline event: %v", err)) // only strings and numbers: cannot fail
	}
	return b
}

// PipelineARN is the ARN of a pipeline in EventRegion and EventAccount, as events
// name it in resources.
func PipelineARN(pipeline string) string {
	return "arn:aws:codepipeline:" + EventRegion + ":" + EventAccount + ":" + pipeline
}

// awsFloat writes n (0 meaning 1) the way CodePipeline events carry counts: "3.0".
func awsFloat(n int) json.Number {
	if n == 0 {
		n = 1
	}
	return json.Number(fmt.Sprintf("%d.0", n))
}

// newUUID is a random (version 4) UUID, the shape of EventBridge event ids.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
