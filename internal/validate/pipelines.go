package validate

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/routing"
)

// Stack is a nested stack of template.yaml that creates one service's pipeline
// from the pipeline template (CreatePipelines).
type Stack struct {
	Resource    string // its logical id, e.g. CorePipeline
	Line        int
	TemplateURL string // as written: a path relative to template.yaml before sam deploy
	Service     string // its ServiceName parameter
}

// Stacks lists the nested stacks (AWS::CloudFormation::Stack) of a template that
// pass a ServiceName parameter, in file order.
func Stacks(tpl []byte) ([]Stack, error) {
	root, err := parseYAML(tpl)
	if err != nil {
		return nil, err
	}
	var out []Stack
	for _, s := range stacks(root) {
		out = append(out, s.Stack)
	}
	return out, nil
}

type stack struct {
	Stack
	params     *yaml.Node // Properties.Parameters
	serviceKey *yaml.Node
}

func stacks(root *yaml.Node) []stack {
	var out []stack
	names, values := entries(path(root, "Resources"))
	for i, r := range values {
		if literal(path(r, "Type")) != "AWS::CloudFormation::Stack" {
			continue
		}
		params := path(r, "Properties", "Parameters")
		svc, svcKey := get(params, "ServiceName")
		if svc == nil {
			continue
		}
		out = append(out, stack{
			Stack: Stack{
				Resource:    names[i].Value,
				Line:        names[i].Line,
				TemplateURL: literal(path(r, "Properties", "TemplateURL")),
				Service:     literal(svc),
			},
			params:     params,
			serviceKey: svcKey,
		})
	}
	return out
}

// Pipelines checks the pipelines template.yaml creates (its nested stacks, each
// from the pipeline template with the service's parameters) against the routing
// file: each is a routed service's, is named as the routing file names its
// pipeline, has the source action pipegate sets the revision of in its first
// stage (where CodePipeline keeps source actions), and has the production stage
// with the approval action (category Approval) pipegate gates. Without nested
// stacks the pipelines are made elsewhere, and nothing is checked.
func Pipelines(routes Routes, tpl, pipeline File) []Check {
	root, err := parseYAML(tpl.Data)
	if err != nil {
		c := Check{Name: "template parses"}
		c.problem(tpl.Path, lineOf(err), "%v", err)
		return []Check{c}
	}
	all := stacks(root)
	if len(all) == 0 {
		return []Check{{Name: "pipelines created by " + tpl.Path,
			Skip: "no nested stack with a ServiceName parameter (CreatePipelines): the pipelines are made elsewhere"}}
	}
	if len(pipeline.Data) == 0 {
		c := Check{Name: "pipeline template given"}
		c.problem(tpl.Path, all[0].Line, "%s creates pipelines from %q, but no pipeline template was given to check them against", all[0].Resource, all[0].TemplateURL)
		return []Check{c}
	}
	proot, err := parseYAML(pipeline.Data)
	if err != nil {
		c := Check{Name: "pipeline template parses"}
		c.problem(pipeline.Path, lineOf(err), "%v", err)
		return []Check{c}
	}

	routed := Check{Name: "every pipeline " + tpl.Path + " creates is a routed service's"}
	byService := map[string]stack{}
	for _, st := range all {
		if _, dup := byService[st.Service]; dup {
			routed.problem(tpl.Path, st.serviceKey.Line, "%s creates a second pipeline for service %s", st.Resource, st.Service)
			continue
		}
		byService[st.Service] = st
		if !slices.ContainsFunc(routes.Config.Services, func(s routing.Service) bool { return s.Name == st.Service }) {
			routed.problem(tpl.Path, st.serviceKey.Line, "%s creates the pipeline of service %s, which %s does not route: pipegate would never start it",
				st.Resource, show(path(st.params, "ServiceName")), routes.Path)
		}
	}
	checks := []Check{routed}
	tev, err := newEvaluator(root, nil)
	if err != nil {
		c := Check{Name: "template evaluates"}
		_, paramsKey := get(root, "Parameters")
		c.problem(tpl.Path, line(paramsKey), "%v", err)
		return append(checks, c)
	}
	for _, s := range routes.Config.Services {
		st, ok := byService[s.Name]
		if !ok {
			checks = append(checks, Check{Name: "service " + s.Name + "'s pipeline",
				Skip: "no nested stack of " + tpl.Path + " creates it"})
			continue
		}
		checks = append(checks, servicePipeline(routes, s, tpl.Path, tev, st, pipeline.Path, proot))
	}
	return checks
}

// servicePipeline checks the pipeline one nested stack creates for service s.
func servicePipeline(routes Routes, s routing.Service, tplPath string, tev *cfn.Evaluator, st stack, file string, proot *yaml.Node) Check {
	p := s.Production
	c := Check{Name: fmt.Sprintf("service %s: %s creates %s with source action %s and %s/%s",
		s.Name, st.Resource, s.Pipeline, s.SourceAction, p.Stage, p.ApprovalAction)}
	// The stack's parameters, as template.yaml's defaults make them.
	params := map[string]string{}
	keys, values := entries(st.params)
	for i, v := range values {
		x, err := evalNode(tev, v)
		if list, ok := x.([]any); ok && err == nil {
			x = joinList(list)
		}
		str, ok := cfn.AsString(x)
		if err != nil || !ok {
			c.problem(tplPath, keys[i].Line, "%s parameter %s: cannot evaluate %s: %v", st.Resource, keys[i].Value, show(v), err)
			continue
		}
		params[keys[i].Value] = str
	}
	ev, err := newEvaluator(proot, params)
	if err != nil {
		_, paramsKey := get(proot, "Parameters")
		c.problem(file, line(paramsKey), "cannot evaluate the pipeline template with %s's parameters: %v", st.Resource, err)
		return c
	}

	resources, resourcesKey := get(proot, "Resources")
	var res, resKey *yaml.Node
	names, rs := entries(resources)
	for i, r := range rs {
		if literal(path(r, "Type")) == "AWS::CodePipeline::Pipeline" {
			res, resKey = r, names[i]
			break
		}
	}
	if res == nil {
		c.problem(file, line(resourcesKey), "no AWS::CodePipeline::Pipeline resource")
		return c
	}
	props := path(res, "Properties")

	// The name: pipegate starts the pipeline the routing file names.
	nameNode, nameKey := get(props, "Name")
	switch name, err := evalString(ev, nameNode); {
	case nameNode == nil:
		c.problem(file, resKey.Line, "pipeline %s has no Name: CloudFormation would make one up, and pipegate starts %s", resKey.Value, s.Pipeline)
	case err != nil:
		c.problem(file, nameKey.Line, "cannot evaluate the pipeline's Name %s with %s's parameters: %v", show(nameNode), st.Resource, err)
	case name != s.Pipeline:
		where, at := file, nameKey.Line
		if _, k := get(st.params, "PipelineName"); k != nil {
			where, at = tplPath, k.Line
		}
		c.problem(where, at, "%s's pipeline is named %s, but service %s (%s) routes to %s", st.Resource, name, s.Name, routes.at(s), s.Pipeline)
	}

	stagesNode, stagesKey := get(props, "Stages")
	stages := readStages(ev, stagesNode)
	for _, e := range stages.errs {
		c.problem(file, e.line, "%s", e.msg)
	}
	if len(stages.list) == 0 {
		c.problem(file, lineOr(stagesKey, resKey), "pipeline %s has no stages", resKey.Value)
		return c
	}

	// The source action: CodePipeline keeps source actions in the first stage.
	first := stages.list[0]
	if a, ok := first.action(s.SourceAction); !ok {
		c.problem(file, first.line, "the first stage, %s, has no action %s (it has %s): pipegate sets the revision of source action %s of service %s (%s)",
			first.name, s.SourceAction, first.actionNames(), s.SourceAction, s.Name, routes.at(s))
	} else if a.category != "Source" {
		c.problem(file, a.line, "action %s/%s is of category %s, not Source: pipegate sets its revision as service %s's source action (%s)",
			first.name, a.name, a.category, s.Name, routes.at(s))
	}

	// The production gate.
	i := slices.IndexFunc(stages.list, func(st pipelineStage) bool { return st.name == p.Stage })
	if i < 0 {
		c.problem(file, stagesKey.Line, "no stage %s (stages: %s): service %s (%s) gates its production approval there",
			p.Stage, stages.names(), s.Name, routes.at(s))
		return c
	}
	prod := stages.list[i]
	if a, ok := prod.action(p.ApprovalAction); !ok {
		c.problem(file, prod.line, "stage %s has no action %s (it has %s): service %s (%s) gates that approval",
			prod.name, p.ApprovalAction, prod.actionNames(), s.Name, routes.at(s))
	} else if a.category != "Approval" {
		c.problem(file, a.line, "action %s/%s is of category %s, not Approval: pipegate can only answer a manual approval",
			prod.name, a.name, a.category)
	}
	return c
}

func joinList(list []any) any {
	parts := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := cfn.AsString(x)
		if !ok {
			return list
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

type pipelineStage struct {
	name    string
	line    int
	actions []pipelineAction
}

type pipelineAction struct {
	name, category string
	line           int
}

func (s pipelineStage) action(name string) (pipelineAction, bool) {
	for _, a := range s.actions {
		if a.name == name {
			return a, true
		}
	}
	return pipelineAction{}, false
}

func (s pipelineStage) actionNames() string {
	var names []string
	for _, a := range s.actions {
		names = append(names, a.name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

type stageList struct {
	list []pipelineStage
	errs []struct {
		line int
		msg  string
	}
}

func (l stageList) names() string {
	var names []string
	for _, s := range l.list {
		names = append(names, s.name)
	}
	return strings.Join(names, ", ")
}

func (l *stageList) fail(line int, format string, args ...any) {
	l.errs = append(l.errs, struct {
		line int
		msg  string
	}{line, fmt.Sprintf(format, args...)})
}

// readStages reads the stages' and actions' names and categories, evaluated with
// the stack's parameters (a name may be written with !Sub).
func readStages(ev *cfn.Evaluator, n *yaml.Node) stageList {
	var l stageList
	if n == nil || n.Kind != yaml.SequenceNode {
		return l
	}
	for _, sn := range n.Content {
		name, err := evalString(ev, path(sn, "Name"))
		if err != nil {
			l.fail(sn.Line, "a stage's Name %s: %v", show(path(sn, "Name")), err)
			continue
		}
		st := pipelineStage{name: name, line: sn.Line}
		if acts := path(sn, "Actions"); acts != nil && acts.Kind == yaml.SequenceNode {
			for _, an := range acts.Content {
				aname, err := evalString(ev, path(an, "Name"))
				if err != nil {
					l.fail(an.Line, "an action's Name %s in stage %s: %v", show(path(an, "Name")), name, err)
					continue
				}
				cat, err := evalString(ev, path(an, "ActionTypeId", "Category"))
				if err != nil {
					l.fail(an.Line, "action %s/%s: ActionTypeId.Category %s: %v", name, aname, show(path(an, "ActionTypeId", "Category")), err)
				}
				st.actions = append(st.actions, pipelineAction{name: aname, category: cat, line: an.Line})
			}
		}
		l.list = append(l.list, st)
	}
	return l
}
