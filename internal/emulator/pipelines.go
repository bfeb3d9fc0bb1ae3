package emulator

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
)

// The pipelines' structure as CodePipeline declares it: ListPipelines and
// GetPipeline, which `pipegate init --from-aws` and `pipegate doctor` read. A
// pipeline's declaration is its shape (SetShape), else DefaultShape, as Run
// runs it.

// cpDeclaredShape is the shape GetPipeline declares for p; c.mu must be held.
func cpDeclaredShape(p *cpPipeline) []StageSpec {
	if p.shape == nil {
		return DefaultShape("Source", "Staging", "Production", "ApproveProduction")
	}
	return p.shape
}

func (c *CodePipeline) listPipelines(body []byte) (any, error) {
	var in struct {
		MaxResults *int   `json:"maxResults"`
		NextToken  string `json:"nextToken"`
	}
	if err := cpProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	limit := 100
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 1000 {
			return nil, awsErrorf(http.StatusBadRequest, "ValidationException",
				"1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000", *in.MaxResults)
		}
		limit = *in.MaxResults
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	names := slices.Sorted(maps.Keys(c.pipelines))
	offset := 0
	if in.NextToken != "" {
		n, err := fmt.Sscanf(in.NextToken, "after-%d", &offset)
		if err != nil || n != 1 || offset < 1 || offset > len(names) {
			return nil, awsErrorf(http.StatusBadRequest, "InvalidNextTokenException", "The next token %s is not valid", in.NextToken)
		}
	}
	type summary struct {
		Name          string  `json:"name"`
		Version       int     `json:"version"`
		PipelineType  string  `json:"pipelineType"`
		ExecutionMode string  `json:"executionMode"`
		Created       float64 `json:"created"`
		Updated       float64 `json:"updated"`
	}
	page := names[offset:min(offset+limit, len(names))]
	list := make([]summary, 0, len(page))
	for _, name := range page {
		p := c.pipelines[name]
		list = append(list, summary{name, 1, "V2", "SUPERSEDED", awsTime(p.created), awsTime(p.created)})
	}
	out := map[string]any{"pipelines": list}
	if end := offset + len(page); end < len(names) {
		out["nextToken"] = fmt.Sprintf("after-%d", end)
	}
	return out, nil
}

func (c *CodePipeline) getPipeline(body []byte) (any, error) {
	var in struct {
		Name    string `json:"name"`
		Version *int   `json:"version"`
	}
	if err := cpProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	type actionTypeID struct {
		Category string `json:"category"`
		Owner    string `json:"owner"`
		Provider string `json:"provider"`
		Version  string `json:"version"`
	}
	type artifact struct {
		Name string `json:"name"`
	}
	type action struct {
		Name            string            `json:"name"`
		ActionTypeID    actionTypeID      `json:"actionTypeId"`
		RunOrder        int               `json:"runOrder"`
		Configuration   map[string]string `json:"configuration,omitempty"`
		OutputArtifacts []artifact        `json:"outputArtifacts"`
		InputArtifacts  []artifact        `json:"inputArtifacts"`
	}
	type stage struct {
		Name    string   `json:"name"`
		Actions []action `json:"actions"`
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pipelines[in.Name]
	if p == nil {
		return nil, cpPipelineNotFound(in.Name)
	}
	if in.Version != nil && *in.Version != 1 {
		return nil, awsErrorf(http.StatusBadRequest, "PipelineVersionNotFoundException",
			"Pipeline version %d of pipeline %s not found", *in.Version, in.Name)
	}
	stages := []stage{}
	for _, s := range cpDeclaredShape(p) {
		st := stage{Name: s.Name, Actions: []action{}}
		for i, a := range s.Actions {
			order := a.RunOrder
			if order == 0 {
				order = i + 1
			}
			st.Actions = append(st.Actions, action{
				Name:            a.Name,
				ActionTypeID:    actionTypeID{Category: a.Category, Owner: "AWS", Provider: a.Provider, Version: "1"},
				RunOrder:        order,
				Configuration:   maps.Clone(a.Configuration),
				OutputArtifacts: []artifact{},
				InputArtifacts:  []artifact{},
			})
		}
		stages = append(stages, st)
	}
	return map[string]any{
		"pipeline": map[string]any{
			"name":          in.Name,
			"roleArn":       fmt.Sprintf("arn:aws:iam::%s:role/%s-role", EventAccount, in.Name),
			"artifactStore": map[string]string{"type": "S3", "location": fmt.Sprintf("codepipeline-%s-%s", EventRegion, EventAccount)},
			"stages":        stages,
			"version":       1,
			"executionMode": "SUPERSEDED",
			"pipelineType":  "V2",
		},
		"metadata": map[string]any{
			"pipelineArn": fmt.Sprintf("arn:aws:codepipeline:%s:%s:%s", EventRegion, EventAccount, in.Name),
			"created":     awsTime(p.created),
			"updated":     awsTime(p.created),
		},
	}, nil
}
