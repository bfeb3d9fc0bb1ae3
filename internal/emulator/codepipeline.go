package emulator

import (
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"
)

// CodePipeline is a local stand-in for AWS CodePipeline: an http.Handler speaking the
// AWS JSON 1.1 protocol of the real service, so the aws-sdk-go-v2 client talks to it
// with only BaseEndpoint changed. It keeps executions in memory; nothing runs them,
// a test moves them on with SetStatus.
type CodePipeline struct {
	faults faults

	mu         sync.Mutex
	pipelines  map[string]bool
	executions []*Execution      // start order
	byToken    map[string]string // pipeline + "\x00" + clientRequestToken -> execution id
}

// Execution is a pipeline execution the stand-in recorded.
type Execution struct {
	Pipeline           string
	ID                 string
	ClientRequestToken string
	SourceRevisions    []SourceRevision
	Variables          map[string]string
	Status             string // InProgress, Succeeded, Failed, Stopped, Stopping, Superseded, Cancelled
	StartedAt          time.Time
}

// SourceRevision is a source revision override of StartPipelineExecution.
type SourceRevision struct {
	ActionName, RevisionType, RevisionValue string
}

// NewCodePipeline returns a stand-in that knows the named pipelines.
func NewCodePipeline(pipelines ...string) *CodePipeline {
	c := &CodePipeline{pipelines: map[string]bool{}, byToken: map[string]string{}}
	for _, p := range pipelines {
		c.pipelines[p] = true
	}
	return c
}

// AddPipeline makes a pipeline known.
func (c *CodePipeline) AddPipeline(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pipelines[name] = true
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

// SetStatus sets the status of an execution, as CodePipeline would while it runs.
func (c *CodePipeline) SetStatus(pipeline, id, status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.find(pipeline, id); e != nil {
		e.Status = status
	}
}

// Calls is how many requests of op (e.g. "StartPipelineExecution") arrived, faulted
// ones included.
func (c *CodePipeline) Calls(op string) int { return c.faults.count(op) }

// FailNext makes the next n calls of op answer with f.
func (c *CodePipeline) FailNext(op string, n int, f Fault) { c.faults.add(op, n, f) }

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
	var out any
	var err error
	switch op {
	case "StartPipelineExecution":
		out, err = c.startPipelineExecution(body)
	case "GetPipelineExecution":
		out, err = c.getPipelineExecution(body)
	case "ListPipelineExecutions":
		out, err = c.listPipelineExecutions(body)
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
	e := &Execution{Pipeline: in.Name, ClientRequestToken: in.ClientRequestToken, Status: "InProgress"}
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
	if !c.pipelines[in.Name] {
		return nil, cpPipelineNotFound(in.Name)
	}
	key := in.Name + "\x00" + in.ClientRequestToken
	if id, seen := c.byToken[key]; seen && in.ClientRequestToken != "" {
		// CodePipeline is idempotent on the token: the same execution, nothing new.
		return map[string]string{"pipelineExecutionId": id}, nil
	}
	e.ID = awsUUID(0xc, len(c.executions)+1)
	e.StartedAt = time.Now().UTC()
	c.executions = append(c.executions, e)
	if in.ClientRequestToken != "" {
		c.byToken[key] = e.ID
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
	if !c.pipelines[in.PipelineName] {
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
		ExecutionMode:       "SUPERSEDED",
		ExecutionType:       "STANDARD",
		ArtifactRevisions:   []artifactRevision{},
		Trigger:             cpStartTrigger,
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
		MaxResults   int    `json:"maxResults"`
	}
	if err := cpProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	if in.MaxResults <= 0 {
		in.MaxResults = 100
	}
	type sourceRevision struct {
		ActionName string `json:"actionName"`
		RevisionID string `json:"revisionId"`
	}
	type summary struct {
		PipelineExecutionID string           `json:"pipelineExecutionId"`
		Status              string           `json:"status"`
		StartTime           float64          `json:"startTime"`
		LastUpdateTime      float64          `json:"lastUpdateTime"`
		SourceRevisions     []sourceRevision `json:"sourceRevisions"`
		Trigger             cpTrigger        `json:"trigger"`
		ExecutionMode       string           `json:"executionMode"`
		ExecutionType       string           `json:"executionType"`
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pipelines[in.PipelineName] {
		return nil, cpPipelineNotFound(in.PipelineName)
	}
	out := []summary{}
	for i := len(c.executions) - 1; i >= 0 && len(out) < in.MaxResults; i-- {
		e := c.executions[i]
		if e.Pipeline != in.PipelineName {
			continue
		}
		s := summary{
			PipelineExecutionID: e.ID,
			Status:              e.Status,
			StartTime:           awsTime(e.StartedAt),
			LastUpdateTime:      awsTime(e.StartedAt),
			SourceRevisions:     []sourceRevision{},
			Trigger:             cpStartTrigger,
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

type cpTrigger struct {
	TriggerType   string `json:"triggerType"`
	TriggerDetail string `json:"triggerDetail"`
}

var cpStartTrigger = cpTrigger{
	TriggerType:   "StartPipelineExecution",
	TriggerDetail: "arn:aws:sts::000000000000:assumed-role/pipegate/emulator",
}

func cpPipelineNotFound(name string) *awsError {
	return awsErrorf(http.StatusBadRequest, "PipelineNotFoundException",
		"Account '000000000000' does not have a pipeline with name '%s'", name)
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
