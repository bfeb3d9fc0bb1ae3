package validate

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/params"
	"github.com/pipegate/pipegate/internal/routing"
)

// PipelineTemplate is the TemplateURL of template.yaml's nested pipeline stacks,
// "" when it has none: before sam deploy packages it, a path relative to the
// template.
func PipelineTemplate(tpl []byte) string {
	root, err := parseYAML(tpl)
	if err != nil {
		return ""
	}
	if n := stackNode(root); n != nil {
		return literal(path(n, "Properties", "TemplateURL"))
	}
	return ""
}

// stackNode finds the nested stack of the template's Resources, in a loop too:
// the mapping whose Type is AWS::CloudFormation::Stack.
func stackNode(root *yaml.Node) *yaml.Node {
	var found *yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || found != nil {
			return
		}
		if n.Kind == yaml.MappingNode && literal(path(n, "Type")) == "AWS::CloudFormation::Stack" {
			found = n
			return
		}
		for _, x := range n.Content {
			walk(x)
		}
	}
	walk(path(root, "Resources"))
	return found
}

// The values the pipelines are evaluated with, besides the computed ones: what
// template.yaml asks of CreatePipelines=true, whose own values do not change
// which pipelines it creates.
func createValues(values params.Values) map[string]string {
	m := values.Map()
	m[createPipelines] = "true"
	m["ConnectionArn"] = "arn:aws:codeconnections:" + cfn.Region + ":" + cfn.AccountID + ":connection/00000000-0000-4000-8000-000000000000"
	m["EcsCluster"] = "pipegate-validate"
	return m
}

// Pipelines checks the pipelines template.yaml would create with
// CreatePipelines=true (its nested stacks of the pipeline template, from the
// routing file's parameters): one for each routed service that can have one,
// named as the routing file names its pipeline, whose source is the service's
// GitLab project on a branch it deploys, whose first stage has the source action
// pipegate sets the revision of, with the staging stage and the production stage
// with the manual approval action pipegate answers. Without nested stacks the
// pipelines are made elsewhere, and nothing is checked.
func Pipelines(routes Routes, values params.Values, tpl, pipeline File) []Check {
	root, err := parseYAML(tpl.Data)
	if err != nil {
		return []Check{{Name: "pipelines created by " + tpl.Path, Skip: "the template does not parse (Template reports it)"}}
	}
	sn := stackNode(root)
	if sn == nil {
		return []Check{{Name: "pipelines created by " + tpl.Path,
			Skip: "no nested stack (CreatePipelines): the pipelines are made elsewhere"}}
	}
	url := literal(path(sn, "Properties", "TemplateURL"))
	if len(pipeline.Data) == 0 {
		c := Check{Name: "pipeline template given"}
		c.problem(tpl.Path, sn.Line, "template.yaml creates pipelines from %q, but no pipeline template was given to check them against", url)
		return []Check{c}
	}
	proot, err := parseYAML(pipeline.Data)
	if err != nil {
		c := Check{Name: "pipeline template parses"}
		c.problem(pipeline.Path, lineOf(err), "%v", err)
		return []Check{c}
	}
	ev, err := newEvaluator(root, createValues(values))
	if err != nil {
		c := Check{Name: "template evaluates with CreatePipelines=true"}
		c.problem(tpl.Path, sn.Line, "%v", err)
		return []Check{c}
	}
	t := &pipelineCheck{routes: routes, tplFile: tpl.Path, file: pipeline.Path, stack: sn, proot: proot}

	// The stacks the template creates, by the pipeline they are given.
	created := Check{Name: "every pipeline " + tpl.Path + " creates is a routed service's"}
	byPipeline := map[string]map[string]string{}
	stackID := map[string]string{}
	resources, _ := cfn.Lookup(ev.Template(), "Resources").(map[string]any)
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		r := resources[id]
		if cfn.Lookup(r, "Type") != "AWS::CloudFormation::Stack" || cfn.Lookup(r, "Properties", "TemplateURL") != url {
			continue
		}
		if cond, ok := cfn.Lookup(r, "Condition").(string); ok {
			if on, err := ev.Condition(cond); err != nil || !on {
				continue
			}
		}
		values, err := t.stackParams(ev, r)
		if err != nil {
			created.problem(tpl.Path, sn.Line, "%s: %v", id, err)
			continue
		}
		p := values["PipelineName"]
		if _, ok := routes.service(p); !ok {
			created.problem(tpl.Path, t.paramLine("PipelineName"), "%s creates pipeline %q, which %s does not route: pipegate would never start it", id, p, routes.Path)
			continue
		}
		if _, dup := byPipeline[p]; dup {
			created.problem(tpl.Path, t.paramLine("PipelineName"), "%s creates pipeline %s a second time (also %s)", id, p, stackID[p])
			continue
		}
		byPipeline[p], stackID[p] = values, id
	}
	checks := []Check{created}
	noted := map[string]params.Note{}
	for _, n := range values.Notes {
		noted[n.Service] = n
	}
	for _, s := range routes.Config.Services {
		if n, ok := noted[s.Name]; ok {
			checks = append(checks, Check{Name: "service " + s.Name + "'s pipeline", Skip: tpl.Path + " cannot create it: " + n.Text})
			continue
		}
		stack, ok := byPipeline[s.Pipeline]
		if !ok {
			c := Check{Name: "service " + s.Name + "'s pipeline"}
			c.problem(tpl.Path, sn.Line, "CreatePipelines=true would create no pipeline %s for service %s (%s): the nested stacks must follow PipelineNames and PipelineSources",
				s.Pipeline, s.Name, routes.at(s))
			checks = append(checks, c)
			continue
		}
		checks = append(checks, t.service(s, stackID[s.Pipeline], stack))
	}
	return checks
}

type pipelineCheck struct {
	routes  Routes
	tplFile string
	file    string     // the pipeline template's
	stack   *yaml.Node // template.yaml's nested stack
	proot   *yaml.Node
}

// paramLine is the line of a parameter the template's nested stack passes.
func (t *pipelineCheck) paramLine(name string) int {
	_, k := get(path(t.stack, "Properties", "Parameters"), name)
	return lineOr(k, t.stack)
}

// stackParams evaluates the parameters a created nested stack passes.
func (t *pipelineCheck) stackParams(ev *cfn.Evaluator, r any) (map[string]string, error) {
	ps, err := ev.Eval(cfn.Lookup(r, "Properties", "Parameters"))
	if err != nil {
		return nil, err
	}
	m, _ := ps.(map[string]any)
	out := map[string]string{}
	for k, v := range m {
		s, ok := cfn.AsString(v)
		if !ok {
			return nil, fmt.Errorf("parameter %s: %v is not a string", k, v)
		}
		out[k] = s
	}
	return out, nil
}

// service checks the pipeline one nested stack creates for service s.
func (t *pipelineCheck) service(s routing.Service, id string, stack map[string]string) Check {
	p := s.Production
	c := Check{Name: fmt.Sprintf("service %s: %s creates %s from %s with source action %s, staging stage %s and %s/%s",
		s.Name, id, s.Pipeline, s.Project, s.SourceAction, s.StagingStage, p.Stage, p.ApprovalAction)}

	// The values must be ones the pipeline template takes, or its stack fails
	// halfway through the deploy.
	declared, declaredKey := get(t.proot, "Parameters")
	for _, k := range slices.Sorted(maps.Keys(stack)) {
		pd, _ := get(declared, k)
		if pd == nil {
			c.problem(t.tplFile, t.paramLine(k), "%s passes parameter %s, which the pipeline template (%s:%d) does not declare", id, k, t.file, line(declaredKey))
			continue
		}
		if pat, patKey := get(pd, "AllowedPattern"); pat != nil {
			if re, err := regexp.Compile("^(?:" + literal(pat) + ")$"); err == nil && !re.MatchString(stack[k]) {
				c.problem(t.tplFile, t.paramLine(k), "%s passes %s %q, which the pipeline template's AllowedPattern (%s:%d) refuses: the stack would fail while it is created; %s",
					id, k, stack[k], t.file, patKey.Line, fix)
			}
		}
	}
	pkeys, pvals := entries(declared)
	for i, pd := range pvals {
		if _, ok := stack[pkeys[i].Value]; !ok && path(pd, "Default") == nil {
			c.problem(t.tplFile, t.stack.Line, "%s does not pass %s, which the pipeline template (%s:%d) requires", id, pkeys[i].Value, t.file, pkeys[i].Line)
		}
	}

	ev, err := newEvaluator(t.proot, stack)
	if err != nil {
		c.problem(t.file, line(declaredKey), "cannot evaluate the pipeline template with %s's parameters: %v", id, err)
		return c
	}
	resources, resourcesKey := get(t.proot, "Resources")
	var res, resKey *yaml.Node
	names, rs := entries(resources)
	for i, r := range rs {
		if literal(path(r, "Type")) == "AWS::CodePipeline::Pipeline" {
			res, resKey = r, names[i]
			break
		}
	}
	if res == nil {
		c.problem(t.file, line(resourcesKey), "no AWS::CodePipeline::Pipeline resource")
		return c
	}
	props := path(res, "Properties")

	// The name: pipegate starts the pipeline the routing file names.
	nameNode, nameKey := get(props, "Name")
	switch name, err := evalString(ev, nameNode); {
	case nameNode == nil:
		c.problem(t.file, resKey.Line, "pipeline %s has no Name: CloudFormation would make one up, and pipegate starts %s", resKey.Value, s.Pipeline)
	case err != nil:
		c.problem(t.file, nameKey.Line, "cannot evaluate the pipeline's Name %s with %s's parameters: %v", show(nameNode), id, err)
	case name != s.Pipeline:
		c.problem(t.file, nameKey.Line, "%s's pipeline would be named %s, but service %s (%s) routes to %s (%s:%d passes PipelineName)",
			id, name, s.Name, t.routes.at(s), s.Pipeline, t.tplFile, t.paramLine("PipelineName"))
	}

	stagesNode, stagesKey := get(props, "Stages")
	stages := readStages(ev, stagesNode)
	for _, e := range stages.errs {
		c.problem(t.file, e.line, "%s", e.msg)
	}
	if len(stages.list) == 0 {
		c.problem(t.file, lineOr(stagesKey, resKey), "pipeline %s has no stages", resKey.Value)
		return c
	}

	// The source: CodePipeline keeps source actions in the first stage; its
	// repository must be the routed project, whose pushes start it.
	first := stages.list[0]
	if a, ok := first.action(s.SourceAction); !ok {
		c.problem(t.file, first.line, "the first stage, %s, would have no action %s (it has %s): pipegate sets the revision of source action %s of service %s (%s)",
			first.name, s.SourceAction, first.actionNames(), s.SourceAction, s.Name, t.routes.at(s))
	} else if a.category != "Source" {
		c.problem(t.file, a.line, "action %s/%s is of category %s, not Source: pipegate sets its revision as service %s's source action (%s)",
			first.name, a.name, a.category, s.Name, t.routes.at(s))
	} else {
		t.source(&c, s, id, ev, a)
	}

	if _, ok := stages.stage(s.StagingStage); !ok {
		c.problem(t.file, stagesKey.Line, "no stage %s (stages: %s): service %s (%s) names it its staging stage (statuses, badge, GitLab environment)",
			s.StagingStage, stages.names(), s.Name, t.routes.at(s))
	}
	prod, ok := stages.stage(p.Stage)
	if !ok {
		c.problem(t.file, stagesKey.Line, "no stage %s (stages: %s): service %s (%s) gates its production approval there",
			p.Stage, stages.names(), s.Name, t.routes.at(s))
		return c
	}
	if a, ok := prod.action(p.ApprovalAction); !ok {
		c.problem(t.file, prod.line, "stage %s would have no action %s (it has %s): service %s (%s) gates that approval",
			prod.name, p.ApprovalAction, prod.actionNames(), s.Name, t.routes.at(s))
	} else if a.category != "Approval" {
		c.problem(t.file, a.line, "action %s/%s is of category %s, not Approval: pipegate can only answer a manual approval",
			prod.name, a.name, a.category)
	}
	return c
}

// source checks the source action's repository and branch.
func (t *pipelineCheck) source(c *Check, s routing.Service, id string, ev *cfn.Evaluator, a pipelineAction) {
	cfg := path(a.node, "Configuration")
	repo, repoKey := get(cfg, "FullRepositoryId")
	if repo != nil {
		switch got, err := evalString(ev, repo); {
		case err != nil:
			c.problem(t.file, repoKey.Line, "cannot evaluate the source's FullRepositoryId %s with %s's parameters: %v", show(repo), id, err)
		case !strings.EqualFold(got, s.Project):
			c.problem(t.file, repoKey.Line, "%s's pipeline would take its source from %s, but service %s (%s) is project %s (%s:%d passes GitLabProject); %s",
				id, got, s.Name, t.routes.at(s), s.Project, t.tplFile, t.paramLine("GitLabProject"), fix)
		}
	}
	branch, branchKey := get(cfg, "BranchName")
	if branch != nil {
		if got, err := evalString(ev, branch); err == nil && !routing.MatchesAny(s.Branches, got) {
			c.problem(t.file, branchKey.Line, "%s's source would be branch %s, which service %s (%s) does not deploy (branches %v)",
				id, got, s.Name, t.routes.at(s), s.Branches)
		}
	}
}

type pipelineStage struct {
	name    string
	line    int
	actions []pipelineAction
}

type pipelineAction struct {
	name, category string
	line           int
	node           *yaml.Node
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

func (l stageList) stage(name string) (pipelineStage, bool) {
	i := slices.IndexFunc(l.list, func(st pipelineStage) bool { return st.name == name })
	if i < 0 {
		return pipelineStage{}, false
	}
	return l.list[i], true
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
// the stack's parameters (a name may be written with !Ref or !Sub).
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
				st.actions = append(st.actions, pipelineAction{name: aname, category: cat, line: an.Line, node: an})
			}
		}
		l.list = append(l.list, st)
	}
	return l
}
