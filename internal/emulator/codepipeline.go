package emulator

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"
)

// CodePipeline is a local stand-in for AWS CodePipeline: an http.Handler speaking the
// AWS JSON 1.1 protocol of the real service, so the aws-sdk-go-v2 client talks to it
// with only BaseEndpoint changed. It keeps executions, stage states and action
// executions in memory.
// A test moves them on with SetStatus and SetStage; while Run runs, Run takes the
// executions started through their pipeline's stages.
type CodePipeline struct {
	// Now is the clock for start, update and approval times; nil means time.Now.
	// Set it before the stand-in serves.
	Now func() time.Time
	// Before, if set, is called with the name of each operation (e.g.
	// "PutApprovalResult") before the stand-in serves it, without its lock held:
	// a test changes CodePipeline's state there between two of pipegate's calls,
	// as a person in the console or a timeout would. Set it before the stand-in serves.
	Before func(op string)
	// OnApproval, if set, is called with each PutApprovalResult the stand-in
	// accepts, once it has taken effect and before the answer goes out, without
	// its lock held: what a test does there happens after CodePipeline accepted
	// the approval and before pipegate hears of it. Set it before the stand-in serves.
	OnApproval func(Approval)

	faults faults

	mu         sync.Mutex
	pipelines  map[string]*cpPipeline
	executions []*Execution      // in the order they were recorded
	made       int               // executions ever recorded, for their ids
	byToken    map[string]string // pipeline + "\x00" + clientRequestToken -> execution id
	approvals  []Approval
	actionRuns int // action executions ever set, for their ids
	// actionExecs are the action executions ListActionExecutions answers: those
	// Run ran and those AddActionExecution recorded, in the order they started.
	actionExecs []*ActionExecution

	runner *runner // the Run in progress, if any
	// virtual is the time of Run's virtual clock (RunOptions.Advance); zero when
	// the clock is real.
	virtual time.Time
	advance time.Duration
	waiting map[string]*approvalWait // by token: approvals a run waits for
}

// cpPipeline is what the stand-in knows of one pipeline besides its executions.
type cpPipeline struct {
	created time.Time
	stages  []StageState          // the order set; GetPipelineState answers in it
	shape   []StageSpec           // what Run takes executions through; nil until set or first run
	slots   map[string]*stageSlot // by stage name: who runs in it, who waits for it
}

// Execution is a pipeline execution the stand-in recorded.
type Execution struct {
	Pipeline           string
	ID                 string
	ClientRequestToken string
	SourceRevisions    []SourceRevision
	// CommitSHA is the commit it runs: the value of its COMMIT_ID source revision.
	// AddExecution turns it into a COMMIT_ID revision of action Source when
	// SourceRevisions is empty.
	CommitSHA     string
	Variables     map[string]string
	Status        string // InProgress, Succeeded, Failed, Stopped, Stopping, Superseded, Cancelled
	StatusSummary string // GetPipelineExecution's statusSummary; often empty
	StartedAt     time.Time
	LastUpdate    time.Time
	// Trigger is trigger.triggerType, what started it: StartPipelineExecution
	// (the API, the console's "Release change"), CreatePipeline (the run
	// CodePipeline starts by itself when a pipeline is created), Webhook, ...
	// Executions started through the API get StartPipelineExecution, as does
	// AddExecution's when it is empty.
	Trigger string
}

// SourceRevision is a source revision override of StartPipelineExecution.
type SourceRevision struct {
	ActionName, RevisionType, RevisionValue string
}

// StageState is what GetPipelineState answers for one stage; it mirrors
// codepipeline.StageState.
type StageState struct {
	Name        string
	ExecutionID string // latestExecution.pipelineExecutionId; "" if the stage never ran
	Status      string // latestExecution.status: InProgress, Succeeded, Failed, Stopped, Stopping, Cancelled, Skipped
	// Updated is the lastStatusChange of actions that have none of their own; zero
	// means when SetStage was called.
	Updated time.Time
	Actions []ActionState
	// Inbound is inboundExecution.pipelineExecutionId: the execution waiting in the
	// transition to enter the stage while another runs in it; "" if none.
	Inbound string
}

// ActionState is one action of a stage; an action without a Status never ran.
type ActionState struct {
	Name    string
	Status  string // latestExecution.status: InProgress, Succeeded, Failed, Abandoned
	Summary string // latestExecution.summary
	Error   string // latestExecution.errorDetails.message (code JobFailed)
	Token   string // latestExecution.token: an approval action waiting for PutApprovalResult
	Updated time.Time
	// ExecutionID is latestExecution.actionExecutionId; SetStage makes one up if empty.
	ExecutionID string
}

// ActionExecution is one run of an action, as ListActionExecutions answers it.
type ActionExecution struct {
	Pipeline            string
	PipelineExecutionID string
	Stage, Action       string
	Category, Provider  string // input.actionTypeId
	ID                  string // actionExecutionId; AddActionExecution makes one up if empty
	Status              string // InProgress, Succeeded, Failed, Abandoned
	Summary             string // output.executionResult.externalExecutionSummary
	StartTime           time.Time
	LastUpdate          time.Time
}

// Approval is a PutApprovalResult the stand-in accepted.
type Approval struct {
	Pipeline, Stage, Action string
	Token                   string
	Status                  string // Approved or Rejected
	Summary                 string
	At                      time.Time
}

// NewCodePipeline returns a stand-in that knows the named pipelines.
func NewCodePipeline(pipelines ...string) *CodePipeline {
	c := &CodePipeline{pipelines: map[string]*cpPipeline{}, byToken: map[string]string{}}
	for _, p := range pipelines {
		c.addPipeline(p)
	}
	return c
}

// AddPipeline makes a pipeline known.
func (c *CodePipeline) AddPipeline(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addPipeline(name)
}

// addPipeline makes a pipeline known and returns it; c.mu must be held (or c not yet shared).
func (c *CodePipeline) addPipeline(name string) *cpPipeline {
	p := c.pipelines[name]
	if p == nil {
		p = &cpPipeline{created: c.now()}
		c.pipelines[name] = p
	}
	return p
}

// now is the stand-in's clock; c.mu must be held (or c not yet shared).
func (c *CodePipeline) now() time.Time {
	if !c.virtual.IsZero() {
		return c.virtual
	}
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// AddExecution records an execution started outside pipegate, e.g. from the console,
// and returns its id. The pipeline becomes known. Defaults: a fresh ID, Status
// InProgress, StartedAt now, LastUpdate StartedAt, SourceRevisions from CommitSHA,
// Trigger StartPipelineExecution.
func (c *CodePipeline) AddExecution(pipeline string, e Execution) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addPipeline(pipeline)
	x := e.copy()
	x.Pipeline = pipeline
	if len(x.SourceRevisions) == 0 && x.CommitSHA != "" {
		x.SourceRevisions = []SourceRevision{{ActionName: "Source", RevisionType: "COMMIT_ID", RevisionValue: x.CommitSHA}}
	}
	if x.CommitSHA == "" {
		x.CommitSHA = commitOf(x.SourceRevisions)
	}
	if x.Status == "" {
		x.Status = "InProgress"
	}
	if x.Trigger == "" {
		x.Trigger = cpStartTrigger.TriggerType
	}
	if x.StartedAt.IsZero() {
		x.StartedAt = c.now()
	}
	if x.LastUpdate.IsZero() {
		x.LastUpdate = x.StartedAt
	}
	c.record(&x)
	return x.ID
}

// record adds e, giving it an id if it has none; c.mu must be held.
func (c *CodePipeline) record(e *Execution) {
	c.made++
	if e.ID == "" {
		e.ID = awsUUID(0xc, c.made)
	}
	c.executions = append(c.executions, e)
	if e.ClientRequestToken != "" {
		key := e.Pipeline + "\x00" + e.ClientRequestToken
		if _, seen := c.byToken[key]; !seen {
			c.byToken[key] = e.ID
		}
	}
}

// Executions returns a copy of the recorded executions in start order.
func (c *CodePipeline) Executions() []Execution {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Execution, len(c.executions))
	for i, e := range c.executions {
		out[i] = e.copy()
	}
	return out
}

// SetStatus sets the status of an execution, as CodePipeline would while it runs,
// and its LastUpdate to now. Its status summary is cleared.
func (c *CodePipeline) SetStatus(pipeline, id, status string) {
	c.SetStatusSummary(pipeline, id, status, "")
}

// SetStatusSummary is SetStatus with the statusSummary CodePipeline gives with it,
// e.g. why the execution stopped or failed.
func (c *CodePipeline) SetStatusSummary(pipeline, id, status, summary string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.find(pipeline, id); e != nil {
		e.Status = status
		e.StatusSummary = summary
		e.LastUpdate = c.now()
	}
}

// SetStage sets what GetPipelineState answers for the stage s.Name of pipeline,
// replacing what was set for it before; stages are answered in the order first set.
// The pipeline becomes known.
func (c *CodePipeline) SetStage(pipeline string, s StageState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.addPipeline(pipeline)
	s.Actions = slices.Clone(s.Actions)
	if s.Updated.IsZero() {
		s.Updated = c.now()
	}
	for i := range s.Actions {
		a := &s.Actions[i]
		if a.Status == "" {
			continue
		}
		if a.Updated.IsZero() {
			a.Updated = s.Updated
		}
		if a.ExecutionID == "" {
			c.actionRuns++
			a.ExecutionID = awsUUID(0xa, c.actionRuns)
		}
	}
	for i := range p.stages {
		if p.stages[i].Name == s.Name {
			p.stages[i] = s
			return
		}
	}
	p.stages = append(p.stages, s)
}

// AddActionExecution records an action execution that Run did not run, and
// returns its id. The pipeline becomes known. Defaults: a fresh ID, Status
// Succeeded, StartTime now, LastUpdate StartTime.
func (c *CodePipeline) AddActionExecution(pipeline string, a ActionExecution) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addPipeline(pipeline)
	a.Pipeline = pipeline
	if a.ID == "" {
		c.actionRuns++
		a.ID = awsUUID(0xa, c.actionRuns)
	}
	if a.Status == "" {
		a.Status = "Succeeded"
	}
	if a.StartTime.IsZero() {
		a.StartTime = c.now()
	}
	if a.LastUpdate.IsZero() {
		a.LastUpdate = a.StartTime
	}
	c.actionExecs = append(c.actionExecs, &a)
	return a.ID
}

// ActionExecutions returns a copy of the action executions of pipeline, in the
// order they started.
func (c *CodePipeline) ActionExecutions(pipeline string) []ActionExecution {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []ActionExecution
	for _, a := range c.actionExecs {
		if a.Pipeline == pipeline {
			out = append(out, *a)
		}
	}
	return out
}

// actionExec returns the action execution with that id, or nil; c.mu must be held.
func (c *CodePipeline) actionExec(id string) *ActionExecution {
	for _, a := range c.actionExecs {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// Stages returns a copy of what is set for pipeline's stages, as SetStage and
// PutApprovalResult left them.
func (c *CodePipeline) Stages(pipeline string) []StageState {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pipelines[pipeline]
	if p == nil {
		return nil
	}
	out := slices.Clone(p.stages)
	for i := range out {
		out[i].Actions = slices.Clone(out[i].Actions)
	}
	return out
}

// Approvals returns the accepted PutApprovalResult calls in order.
func (c *CodePipeline) Approvals() []Approval {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.approvals)
}

// Calls is how many requests of op (e.g. "StartPipelineExecution") arrived, faulted
// ones included.
func (c *CodePipeline) Calls(op string) int { return c.faults.count(op) }

// FailNext makes the next n calls of op answer with f.
func (c *CodePipeline) FailNext(op string, n int, f Fault) { c.faults.add(op, n, f) }

// Recover drops the faults still queued for op.
func (c *CodePipeline) Recover(op string) { c.faults.clear(op) }

var cpProtocol = awsProtocol{
	target:      "CodePipeline_20150709",
	contentType: "application/x-amz-json-1.1",
	messageKey:  "message",
}

func (c *CodePipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, body, ok := cpProtocol.operation(w, r)
	if !ok {
		return
	}
	if f, faulted := c.faults.take(op); faulted {
		cpProtocol.fault(w, r, f)
		return
	}
	if c.Before != nil {
		c.Before(op)
	}
	var out any
	var err error
	switch op {
	case "StartPipelineExecution":
		out, err = c.startPipelineExecution(body)
	case "GetPipelineExecution":
		out, err = c.getPipelineExecution(body)
	case "ListPipelineExecutions":
		out, err = c.listPipelineExecutions(body)
	case "GetPipelineState":
		out, err = c.getPipelineState(body)
	case "PutApprovalResult":
		var ap Approval
		out, ap, err = c.putApprovalResult(body)
		if err == nil && c.OnApproval != nil {
			c.OnApproval(ap)
		}
	case "ListActionExecutions":
		out, err = c.listActionExecutions(body)
	case "ListPipelines":
		out, err = c.listPipelines(body)
	case "GetPipeline":
		out, err = c.getPipeline(body)
	default:
		err = awsErrorf(http.StatusBadRequest, "UnknownOperationException", "operation %s is not supported by the stand-in", op)
	}
	cpProtocol.respond(w, out, err)
}

// cpTokenPattern is the documented shape of clientRequestToken; checking it here catches
// a token derivation that real CodePipeline would refuse.
var cpTokenPattern = regexp.MustCompile(`^[a-zA-Z0-9-]{1,128}$`)

var cpRevisionTypes = map[string]bool{
	"COMMIT_ID": true, "IMAGE_DIGEST": true, "S3_OBJECT_VERSION_ID": true, "S3_OBJECT_KEY": true,
}

func (c *CodePipeline) startPipelineExecution(body []byte) (any, error) {
	var in struct {
		Name               string `json:"name"`
		ClientRequestToken string `json:"clientRequestToken"`
		SourceRevisions    []struct {
			ActionName    string `json:"actionName"`
			RevisionType  string `json:"revisionType"`
			RevisionValue string `json:"revisionValue"`
		} `json:"sourceRevisions"`
		Variables []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"variables"`
	}
	if err := cpProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	if in.ClientRequestToken != "" && !cpTokenPattern.MatchString(in.ClientRequestToken) {
		return nil, awsErrorf(http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value '%s' at 'clientRequestToken' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9-]+$", in.ClientRequestToken)
	}
	e := &Execution{Pipeline: in.Name, ClientRequestToken: in.ClientRequestToken, Status: "InProgress", Trigger: cpStartTrigger.TriggerType}
	for _, s := range in.SourceRevisions {
		if s.ActionName == "" || s.RevisionValue == "" || !cpRevisionTypes[s.RevisionType] {
			return nil, awsErrorf(http.StatusBadRequest, "ValidationException", "invalid source revision %+v", s)
		}
		e.SourceRevisions = append(e.SourceRevisions, SourceRevision{s.ActionName, s.RevisionType, s.RevisionValue})
	}
	for _, v := range in.Variables {
		if e.Variables == nil {
			e.Variables = map[string]string{}
		}
		e.Variables[v.Name] = v.Value
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pipelines[in.Name] == nil {
		return nil, cpPipelineNotFound(in.Name)
	}
	key := in.Name + "\x00" + in.ClientRequestToken
	if id, seen := c.byToken[key]; seen && in.ClientRequestToken != "" {
		// CodePipeline is idempotent on the token: the same execution, nothing new.
		return map[string]string{"pipelineExecutionId": id}, nil
	}
	e.CommitSHA = commitOf(e.SourceRevisions)
	e.StartedAt = c.now()
	e.LastUpdate = e.StartedAt
	c.record(e)
	if c.runner != nil {
		c.startRun(c.pipelines[in.Name], e)
	}
	return map[string]string{"pipelineExecutionId": e.ID}, nil
}

func (c *CodePipeline) getPipelineExecution(body []byte) (any, error) {
	var in struct {
		PipelineName        string `json:"pipelineName"`
		PipelineExecutionID string `json:"pipelineExecutionId"`
	}
	if err := cpProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pipelines[in.PipelineName] == nil {
		return nil, cpPipelineNotFound(in.PipelineName)
	}
	e := c.find(in.PipelineName, in.PipelineExecutionID)
	if e == nil {
		return nil, awsErrorf(http.StatusBadRequest, "PipelineExecutionNotFoundException",
			"Pipeline execution with id %s not found in pipeline %s", in.PipelineExecutionID, in.PipelineName)
	}
	type artifactRevision struct {
		Name       string  `json:"name"`
		RevisionID string  `json:"revisionId"`
		Created    float64 `json:"created"`
	}
	type variable struct {
		Name          string `json:"name"`
		ResolvedValue string `json:"resolvedValue"`
	}
	x := struct {
		PipelineName        string             `json:"pipelineName"`
		PipelineVersion     int                `json:"pipelineVersion"`
		PipelineExecutionID string             `json:"pipelineExecutionId"`
		Status              string             `json:"status"`
		StatusSummary       string             `json:"statusSummary,omitempty"`
		ExecutionMode       string             `json:"executionMode"`
		ExecutionType       string             `json:"executionType"`
		ArtifactRevisions   []artifactRevision `json:"artifactRevisions"`
		Trigger             cpTrigger          `json:"trigger"`
		Variables           []variable         `json:"variables,omitempty"`
	}{
		PipelineName:        e.Pipeline,
		PipelineVersion:     1,
		PipelineExecutionID: e.ID,
		Status:              e.Status,
		StatusSummary:       e.StatusSummary,
		ExecutionMode:       "SUPERSEDED",
		ExecutionType:       "STANDARD",
		ArtifactRevisions:   []artifactRevision{},
		Trigger:             e.trigger(),
	}
	for _, s := range e.SourceRevisions {
		x.ArtifactRevisions = append(x.ArtifactRevisions, artifactRevision{s.ActionName, s.RevisionValue, awsTime(e.StartedAt)})
	}
	for _, name := range slices.Sorted(maps.Keys(e.Variables)) {
		x.Variables = append(x.Variables, variable{name, e.Variables[name]})
	}
	return map[string]any{"pipelineExecution": x}, nil
}

func (c *CodePipeline) listPipelineExecutions(body []byte) (any, error) {
	var in struct {
		PipelineName string `json:"pipelineName"`
		MaxResults   *int   `json:"maxResults"`
	}
	if err := cpProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	limit, err := cpMaxResults(in.MaxResults)
	if err != nil {
		return nil, err
	}
	type sourceRevision struct {
		ActionName string `json:"actionName"`
		RevisionID string `json:"revisionId"`
	}
	type summary struct {
		PipelineExecutionID string           `json:"pipelineExecutionId"`
		Status              string           `json:"status"`
		StatusSummary       string           `json:"statusSummary,omitempty"`
		StartTime           float64          `json:"startTime"`
		LastUpdateTime      float64          `json:"lastUpdateTime"`
		SourceRevisions     []sourceRevision `json:"sourceRevisions"`
		Trigger             cpTrigger        `json:"trigger"`
		ExecutionMode       string           `json:"executionMode"`
		ExecutionType       string           `json:"executionType"`
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pipelines[in.PipelineName] == nil {
		return nil, cpPipelineNotFound(in.PipelineName)
	}
	// Newest first by start time; of equal starts the one recorded last first.
	var execs []*Execution
	for i := len(c.executions) - 1; i >= 0; i-- {
		if e := c.executions[i]; e.Pipeline == in.PipelineName {
			execs = append(execs, e)
		}
	}
	slices.SortStableFunc(execs, func(a, b *Execution) int { return b.StartedAt.Compare(a.StartedAt) })
	out := []summary{}
	for _, e := range execs[:min(limit, len(execs))] {
		s := summary{
			PipelineExecutionID: e.ID,
			Status:              e.Status,
			StatusSummary:       e.StatusSummary,
			StartTime:           awsTime(e.StartedAt),
			LastUpdateTime:      awsTime(e.LastUpdate),
			SourceRevisions:     []sourceRevision{},
			Trigger:             e.trigger(),
			ExecutionMode:       "SUPERSEDED",
			ExecutionType:       "STANDARD",
		}
		for _, r := range e.SourceRevisions {
			s.SourceRevisions = append(s.SourceRevisions, sourceRevision{r.ActionName, r.RevisionValue})
		}
		out = append(out, s)
	}
	return map[string]any{"pipelineExecutionSummaries": out}, nil
}

func (c *CodePipeline) getPipelineState(body []byte) (any, error) {
	var in struct {
		Name string `json:"name"`
	}
	if err := cpProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	type errorDetails struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	type actionExecution struct {
		ActionExecutionID string        `json:"actionExecutionId"`
		Status            string        `json:"status"`
		Summary           string        `json:"summary,omitempty"`
		LastStatusChange  float64       `json:"lastStatusChange"`
		Token             string        `json:"token,omitempty"`
		ErrorDetails      *errorDetails `json:"errorDetails,omitempty"`
	}
	type actionState struct {
		ActionName      string           `json:"actionName"`
		LatestExecution *actionExecution `json:"latestExecution,omitempty"`
	}
	type stageExecution struct {
		PipelineExecutionID string `json:"pipelineExecutionId"`
		Status              string `json:"status"`
		Type                string `json:"type"`
	}
	type stageState struct {
		StageName        string          `json:"stageName"`
		InboundExecution *stageExecution `json:"inboundExecution,omitempty"`
		LatestExecution  *stageExecution `json:"latestExecution,omitempty"`
		ActionStates     []actionState   `json:"actionStates"`
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pipelines[in.Name]
	if p == nil {
		return nil, cpPipelineNotFound(in.Name)
	}
	stages := []stageState{}
	for _, s := range p.stages {
		st := stageState{StageName: s.Name, ActionStates: []actionState{}}
		if s.ExecutionID != "" {
			st.LatestExecution = &stageExecution{s.ExecutionID, s.Status, "STANDARD"}
		}
		if s.Inbound != "" {
			st.InboundExecution = &stageExecution{s.Inbound, "InProgress", "STANDARD"}
		}
		for _, a := range s.Actions {
			as := actionState{ActionName: a.Name}
			if a.Status != "" {
				ae := &actionExecution{
					ActionExecutionID: a.ExecutionID,
					Status:            a.Status,
					Summary:           a.Summary,
					LastStatusChange:  awsTime(a.Updated),
					Token:             a.Token,
				}
				if a.Error != "" {
					ae.ErrorDetails = &errorDetails{Code: "JobFailed", Message: a.Error}
				}
				as.LatestExecution = ae
			}
			st.ActionStates = append(st.ActionStates, as)
		}
		stages = append(stages, st)
	}
	return map[string]any{
		"pipelineName":    in.Name,
		"pipelineVersion": 1,
		"stageStates":     stages,
		"created":         awsTime(p.created),
		"updated":         awsTime(p.created),
	}, nil
}

// putApprovalResult approves or rejects an approval action that waits. When the
// action is no longer waiting that is reported before a token mismatch.
func (c *CodePipeline) putApprovalResult(body []byte) (any, Approval, error) {
	var in struct {
		PipelineName string `json:"pipelineName"`
		StageName    string `json:"stageName"`
		ActionName   string `json:"actionName"`
		Token        string `json:"token"`
		Result       *struct {
			Summary string `json:"summary"`
			Status  string `json:"status"`
		} `json:"result"`
	}
	if err := cpProtocol.decode(body, &in); err != nil {
		return nil, Approval{}, err
	}
	if in.Result == nil || in.Result.Summary == "" || (in.Result.Status != "Approved" && in.Result.Status != "Rejected") || in.Token == "" {
		return nil, Approval{}, awsErrorf(http.StatusBadRequest, "ValidationException",
			"result with a summary and status Approved or Rejected, and token, are required")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pipelines[in.PipelineName]
	if p == nil {
		return nil, Approval{}, cpPipelineNotFound(in.PipelineName)
	}
	i := slices.IndexFunc(p.stages, func(s StageState) bool { return s.Name == in.StageName })
	if i < 0 {
		return nil, Approval{}, awsErrorf(http.StatusBadRequest, "StageNotFoundException",
			"Stage %s not found in pipeline %s", in.StageName, in.PipelineName)
	}
	stage := &p.stages[i]
	j := slices.IndexFunc(stage.Actions, func(a ActionState) bool { return a.Name == in.ActionName })
	if j < 0 {
		return nil, Approval{}, awsErrorf(http.StatusBadRequest, "ActionNotFoundException",
			"Action %s not found in stage %s of pipeline %s", in.ActionName, in.StageName, in.PipelineName)
	}
	a := &stage.Actions[j]
	if a.Status != "InProgress" {
		return nil, Approval{}, awsErrorf(http.StatusBadRequest, "ApprovalAlreadyCompletedException",
			"Approval for action %s in stage %s of pipeline %s has already been completed", in.ActionName, in.StageName, in.PipelineName)
	}
	if a.Token != in.Token {
		return nil, Approval{}, awsErrorf(http.StatusBadRequest, "InvalidApprovalTokenException",
			"The approval token %s is not valid for action %s", in.Token, in.ActionName)
	}
	w := c.waiting[in.Token]
	now := c.now()
	if w != nil {
		// A run waits for it: the approval is one of the run's state changes.
		now = c.tick()
	}
	a.Status = "Succeeded"
	if in.Result.Status == "Rejected" {
		a.Status = "Failed"
	}
	a.Summary = in.Result.Summary
	a.Updated = now
	if ae := c.actionExec(a.ExecutionID); ae != nil {
		ae.Status, ae.Summary, ae.LastUpdate = a.Status, a.Summary, now
	}
	ap := Approval{
		Pipeline: in.PipelineName, Stage: in.StageName, Action: in.ActionName,
		Token: in.Token, Status: in.Result.Status, Summary: in.Result.Summary, At: now,
	}
	c.approvals = append(c.approvals, ap)
	if w != nil {
		delete(c.waiting, in.Token)
		w.e.LastUpdate = now
		w.result <- ap // buffered: the run may be busy sending the action's STARTED event
	}
	return map[string]any{"approvedAt": awsTime(now)}, ap, nil
}

// listActionExecutions answers the action executions of a pipeline, newest
// first, optionally of one pipeline execution, a page of maxResults (default
// 100) at a time.
func (c *CodePipeline) listActionExecutions(body []byte) (any, error) {
	var in struct {
		PipelineName string `json:"pipelineName"`
		Filter       *struct {
			PipelineExecutionID string `json:"pipelineExecutionId"`
			LatestIn            any    `json:"latestInPipelineExecution"`
		} `json:"filter"`
		MaxResults *int   `json:"maxResults"`
		NextToken  string `json:"nextToken"`
	}
	if err := cpProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	limit, err := cpMaxResults(in.MaxResults)
	if err != nil {
		return nil, err
	}
	if in.Filter != nil && in.Filter.LatestIn != nil {
		return nil, awsErrorf(http.StatusBadRequest, "ValidationException", "filter.latestInPipelineExecution is not supported by the stand-in")
	}
	offset := 0
	if in.NextToken != "" {
		n, err := fmt.Sscanf(in.NextToken, "after-%d", &offset)
		if err != nil || n != 1 || offset < 1 {
			return nil, awsErrorf(http.StatusBadRequest, "InvalidNextTokenException", "The next token %s is not valid", in.NextToken)
		}
	}
	type actionTypeID struct {
		Category string `json:"category"`
		Owner    string `json:"owner"`
		Provider string `json:"provider"`
		Version  string `json:"version"`
	}
	type input struct {
		ActionTypeID   actionTypeID      `json:"actionTypeId"`
		Configuration  map[string]string `json:"configuration"`
		Region         string            `json:"region"`
		InputArtifacts []any             `json:"inputArtifacts"`
	}
	type result struct {
		ExternalExecutionSummary string `json:"externalExecutionSummary,omitempty"`
	}
	type output struct {
		OutputArtifacts []any             `json:"outputArtifacts"`
		ExecutionResult *result           `json:"executionResult,omitempty"`
		OutputVariables map[string]string `json:"outputVariables"`
	}
	type detail struct {
		PipelineExecutionID string  `json:"pipelineExecutionId"`
		ActionExecutionID   string  `json:"actionExecutionId"`
		PipelineVersion     int     `json:"pipelineVersion"`
		StageName           string  `json:"stageName"`
		ActionName          string  `json:"actionName"`
		StartTime           float64 `json:"startTime"`
		LastUpdateTime      float64 `json:"lastUpdateTime"`
		Status              string  `json:"status"`
		Input               input   `json:"input"`
		Output              output  `json:"output"`
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pipelines[in.PipelineName] == nil {
		return nil, cpPipelineNotFound(in.PipelineName)
	}
	var execID string
	if in.Filter != nil && in.Filter.PipelineExecutionID != "" {
		execID = in.Filter.PipelineExecutionID
		if c.find(in.PipelineName, execID) == nil {
			return nil, awsErrorf(http.StatusBadRequest, "PipelineExecutionNotFoundException",
				"Pipeline execution with id %s not found in pipeline %s", execID, in.PipelineName)
		}
	}
	// Newest first by start time; of equal starts the one recorded last first.
	var runs []*ActionExecution
	for i := len(c.actionExecs) - 1; i >= 0; i-- {
		a := c.actionExecs[i]
		if a.Pipeline == in.PipelineName && (execID == "" || a.PipelineExecutionID == execID) {
			runs = append(runs, a)
		}
	}
	slices.SortStableFunc(runs, func(a, b *ActionExecution) int { return b.StartTime.Compare(a.StartTime) })
	if offset > len(runs) {
		return nil, awsErrorf(http.StatusBadRequest, "InvalidNextTokenException", "The next token %s is not valid", in.NextToken)
	}
	out := map[string]any{}
	page := runs[offset:min(offset+limit, len(runs))]
	if end := offset + len(page); end < len(runs) {
		out["nextToken"] = fmt.Sprintf("after-%d", end)
	}
	details := []detail{}
	for _, a := range page {
		d := detail{
			PipelineExecutionID: a.PipelineExecutionID,
			ActionExecutionID:   a.ID,
			PipelineVersion:     1,
			StageName:           a.Stage,
			ActionName:          a.Action,
			StartTime:           awsTime(a.StartTime),
			LastUpdateTime:      awsTime(a.LastUpdate),
			Status:              a.Status,
			Input: input{
				ActionTypeID:   actionTypeID{Category: a.Category, Owner: "AWS", Provider: a.Provider, Version: "1"},
				Configuration:  map[string]string{},
				Region:         EventRegion,
				InputArtifacts: []any{},
			},
			Output: output{OutputArtifacts: []any{}, OutputVariables: map[string]string{}},
		}
		if a.Summary != "" {
			d.Output.ExecutionResult = &result{ExternalExecutionSummary: a.Summary}
		}
		details = append(details, d)
	}
	out["actionExecutionDetails"] = details
	return out, nil
}

type cpTrigger struct {
	TriggerType   string `json:"triggerType"`
	TriggerDetail string `json:"triggerDetail"`
}

var cpStartTrigger = cpTrigger{
	TriggerType:   "StartPipelineExecution",
	TriggerDetail: "arn:aws:sts::000000000000:assumed-role/pipegate/emulator",
}

// trigger is what GetPipelineExecution and ListPipelineExecutions say started e.
// The detail is the role that started or created it; CodePipeline gives a
// webhook's or rule's ARN for those triggers, which nothing here reads.
func (e *Execution) trigger() cpTrigger {
	t := cpStartTrigger
	if e.Trigger != "" {
		t.TriggerType = e.Trigger
	}
	return t
}

func cpPipelineNotFound(name string) *awsError {
	return awsErrorf(http.StatusBadRequest, "PipelineNotFoundException",
		"Account '000000000000' does not have a pipeline with name '%s'", name)
}

// commitOf is the value of the first COMMIT_ID revision.
func commitOf(revs []SourceRevision) string {
	for _, r := range revs {
		if r.RevisionType == "COMMIT_ID" {
			return r.RevisionValue
		}
	}
	return ""
}

// find returns the execution; c.mu must be held.
func (c *CodePipeline) find(pipeline, id string) *Execution {
	for _, e := range c.executions {
		if e.Pipeline == pipeline && e.ID == id {
			return e
		}
	}
	return nil
}

func (e *Execution) copy() Execution {
	x := *e
	x.SourceRevisions = append([]SourceRevision(nil), e.SourceRevisions...)
	x.Variables = maps.Clone(e.Variables)
	return x
}

// cpMaxResults is a list operation's maxResults: 1 to 100, 100 when unset (the
// documented default).
func cpMaxResults(n *int) (int, error) {
	if n == nil {
		return 100, nil
	}
	if *n < 1 || *n > 100 {
		return 0, awsErrorf(http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100", *n)
	}
	return *n, nil
}
