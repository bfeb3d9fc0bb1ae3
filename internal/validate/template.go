package validate

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/params"
)

// Template checks template.yaml against the routing file's parameters: it takes
// them (as lists, with no default of its own, its patterns accepting them), names
// no routed project or pipeline literally, sends PipelineEventsFunction the
// CodePipeline events of exactly the routed pipelines, gives GitLab a POST
// /webhook, grants each function the CodePipeline calls it makes on every routed
// pipeline, and fits AWS's size limits with them.
func Template(routes Routes, values params.Values, tpl File) []Check {
	root, err := parseYAML(tpl.Data)
	if err != nil {
		c := Check{Name: "template parses"}
		c.problem(tpl.Path, lineOf(err), "%v", err)
		return []Check{c}
	}
	nodes := &templateNodes{root: root}
	checks := []Check{
		parameters(routes, values, tpl.Path, root),
		literals(routes, tpl.Path, root),
	}
	ev, err := newEvaluator(root, values.Map())
	if err != nil {
		c := Check{Name: "template evaluates with the routing file's parameters"}
		c.problem(tpl.Path, 0, "%v", err)
		return append(checks, c, webhookRoute(tpl.Path, root))
	}
	return append(checks,
		eventsRule(routes, values, tpl.Path, root, ev),
		webhookRoute(tpl.Path, root),
		grants(routes, tpl.Path, ev.Template(), ev, nodes),
		sizes(routes, values, tpl.Path, ev, nodes),
	)
}

// parameters checks that the template declares the computed parameters as
// CloudFormation takes lists, with no default of its own, and that its patterns
// take the values.
func parameters(routes Routes, values params.Values, file string, root *yaml.Node) Check {
	c := Check{Name: "template.yaml takes " + strings.Join(params.Names, ", ") + " as the routing file makes them"}
	ps, psKey := get(root, "Parameters")
	m := values.Map()
	for _, name := range params.Names {
		p, pKey := get(ps, name)
		if p == nil {
			c.problem(file, line(psKey), "no parameter %s: what the routing file (%s) makes of it cannot reach the template; declare it as pipegate's template.yaml does", name, routes.Path)
			continue
		}
		if t, tKey := get(p, "Type"); literal(t) != "CommaDelimitedList" {
			c.problem(file, lineOr(tKey, pKey), "parameter %s is of type %s, want CommaDelimitedList: the policies, the events rule and the pipelines take it as a list", name, show(t))
		}
		if d, dKey := get(p, "Default"); d != nil && literal(d) != "" {
			c.problem(file, dKey.Line, "parameter %s has the default %s: a deploy without samconfig.toml's values would use it rather than what %s makes; remove it (samconfig.toml gets the values: %s)",
				name, show(d), routes.Path, fix)
		}
		pattern, patKey := get(p, "AllowedPattern")
		if pattern == nil {
			continue
		}
		re, err := regexp.Compile("^(?:" + literal(pattern) + ")$")
		if err != nil {
			c.problem(file, patKey.Line, "parameter %s: AllowedPattern does not compile: %v", name, err)
			continue
		}
		for _, v := range strings.Split(m[name], ",") {
			if re.MatchString(v) {
				continue
			}
			who := ""
			if s, ok := routes.service(strings.SplitN(strings.SplitN(v, "/", 2)[0], "|", 2)[0]); ok {
				who = fmt.Sprintf(", which service %s (%s) makes", s.Name, routes.at(s))
			}
			c.problem(file, patKey.Line, "parameter %s: AllowedPattern refuses %q%s: CloudFormation would refuse the deploy", name, v, who)
		}
	}
	return c
}

// nameChars are the characters of a GitLab path or a CodePipeline name: a
// template scalar is split at the others to find names written in it.
var nameChars = regexp.MustCompile(`[A-Za-z0-9._@/-]+`)

// literals checks that no value of the template names a routed GitLab project
// or pipeline: those come from the routing file through the parameters, and a
// name written into the template would not follow it.
func literals(routes Routes, file string, root *yaml.Node) Check {
	c := Check{Name: "template.yaml names no routed project or pipeline itself"}
	var walk func(n *yaml.Node, isKey bool)
	walk = func(n *yaml.Node, isKey bool) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, x := range n.Content {
				walk(x, false)
			}
		case yaml.MappingNode:
			for i, x := range n.Content {
				walk(x, i%2 == 0)
			}
		case yaml.AliasNode:
			walk(n.Alias, isKey)
		case yaml.ScalarNode:
			if isKey {
				return
			}
			for _, tok := range nameChars.FindAllString(n.Value, -1) {
				for _, s := range routes.Config.Services {
					what := ""
					switch {
					case strings.EqualFold(tok, s.Project):
						what = "GitLab project"
					case slices.Contains(strings.Split(tok, "/"), s.Pipeline):
						what = "pipeline"
					default:
						continue
					}
					c.problem(file, n.Line, "%q names %s, the %s of service %s (%s), itself: it would not follow the routing file; take it from the parameters pipegate params computes",
						n.Value, tok, what, s.Name, routes.at(s))
				}
			}
		}
	}
	walk(root, false)
	return c
}

// The CodePipeline events pipegate turns into statuses; action events carry the
// start of the production approval, which the gate waits for.
var codePipelineDetailTypes = []string{
	"CodePipeline Pipeline Execution State Change",
	"CodePipeline Stage Execution State Change",
	"CodePipeline Action Execution State Change",
}

// probePipeline is a pipeline name no routing file routes: the events rule must
// name it when PipelineNames does, or its pipelines do not follow PipelineNames.
const probePipeline = "pipegate-validate-probe"

func eventsRule(routes Routes, values params.Values, file string, root *yaml.Node, ev *cfn.Evaluator) Check {
	c := Check{Name: fmt.Sprintf("%s's EventBridge rule takes the CodePipeline events of every routed pipeline, and of no other", pipelineEventsFunction)}
	resources, resourcesKey := get(root, "Resources")
	fn, fnKey := get(resources, pipelineEventsFunction)
	if fn == nil {
		c.problem(file, line(resourcesKey), "no %s resource", pipelineEventsFunction)
		return c
	}
	probe := values
	probe.PipelineNames = append(slices.Clone(values.PipelineNames), probePipeline)
	probed, probeErr := newEvaluator(root, probe.Map())
	events, eventsKey := get(path(fn, "Properties"), "Events")
	keys, vals := entries(events)
	found := false
	for i, e := range vals {
		if literal(path(e, "Type")) != "EventBridgeRule" {
			continue
		}
		found = true
		where := fmt.Sprintf("%s event %s", pipelineEventsFunction, keys[i].Value)
		pattern, patternKey := get(path(e, "Properties"), "Pattern")
		if pattern == nil {
			c.problem(file, keys[i].Line, "%s has no Pattern: it would send every event to the function", where)
			continue
		}
		if src := path(pattern, "source"); !listHas(src, "aws.codepipeline") {
			c.problem(file, lineOr(src, patternKey), "%s: source %s, want aws.codepipeline", where, show(src))
		}
		types := path(pattern, "detail-type")
		for _, t := range codePipelineDetailTypes {
			if !listHas(types, t) {
				c.problem(file, lineOr(types, patternKey), "%s: detail-type lacks %q", where, t)
			}
		}
		pipeline, pipelineKey := get(path(pattern, "detail"), "pipeline")
		if pipeline == nil {
			c.problem(file, line(patternKey), "%s does not filter on detail.pipeline: it would send the function every pipeline's events; want !Ref PipelineNames", where)
			continue
		}
		got, err := evalStrings(ev, pipeline)
		if err != nil {
			c.problem(file, pipelineKey.Line, "%s: detail.pipeline %s: %v", where, show(pipeline), err)
			continue
		}
		for _, s := range routes.Config.Services {
			if !slices.Contains(got, s.Pipeline) {
				c.problem(file, pipelineKey.Line, "%s: detail.pipeline lacks %s, the pipeline of service %s (%s): its statuses and production gate would never move; want !Ref PipelineNames",
					where, s.Pipeline, s.Name, routes.at(s))
			}
		}
		for _, p := range got {
			if !slices.Contains(values.PipelineNames, p) {
				c.problem(file, pipelineKey.Line, "%s: detail.pipeline names %s, which %s does not route: want !Ref PipelineNames", where, p, routes.Path)
			}
		}
		if probeErr == nil {
			if more, err := evalStrings(probed, pipeline); err == nil && !slices.Contains(more, probePipeline) {
				c.problem(file, pipelineKey.Line, "%s: detail.pipeline %s does not follow PipelineNames: a pipeline added to the routing file would send it no event; want !Ref PipelineNames",
					where, show(pipeline))
			}
		}
	}
	if !found {
		c.problem(file, lineOr(eventsKey, fnKey), "%s has no EventBridgeRule event: no CodePipeline event would reach it", pipelineEventsFunction)
	}
	return c
}

// evalStrings evaluates a node to a list of strings (or one string).
func evalStrings(ev *cfn.Evaluator, n *yaml.Node) ([]string, error) {
	v, err := evalNode(ev, n)
	if err != nil {
		return nil, err
	}
	if s, ok := cfn.AsString(v); ok {
		return []string{s}, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%v is not a list", v)
	}
	var out []string
	for _, x := range list {
		s, ok := cfn.AsString(x)
		if !ok {
			return nil, fmt.Errorf("%v is not a string", x)
		}
		out = append(out, s)
	}
	return out, nil
}

func webhookRoute(file string, root *yaml.Node) Check {
	c := Check{Name: "a function answers POST /webhook"}
	resources, resourcesKey := get(root, "Resources")
	names, values := entries(resources)
	for i, r := range values {
		if literal(path(r, "Type")) != "AWS::Serverless::Function" {
			continue
		}
		evNames, events := entries(path(r, "Properties", "Events"))
		for j, ev := range events {
			typ := literal(path(ev, "Type"))
			if typ != "HttpApi" && typ != "Api" {
				continue
			}
			props := path(ev, "Properties")
			method := strings.ToUpper(literal(path(props, "Method")))
			if literal(path(props, "Path")) != "/webhook" || (method != "POST" && method != "ANY") {
				continue
			}
			c.Name = fmt.Sprintf("%s answers POST /webhook (event %s)", names[i].Value, evNames[j].Value)
			// The webhook function decodes events.APIGatewayV2HTTPRequest.
			if v, k := get(props, "PayloadFormatVersion"); typ == "HttpApi" && v != nil && literal(v) != "2.0" {
				c.problem(file, k.Line, "%s event %s: PayloadFormatVersion %q, want \"2.0\"", names[i].Value, evNames[j].Value, v.Value)
			}
			return c
		}
	}
	c.problem(file, line(resourcesKey), "no function has an HttpApi (or Api) event for POST /webhook: GitLab would have nowhere to deliver")
	return c
}

// sizes checks that the managed policies and the events rule fit AWS's limits
// with the routing file's pipelines: otherwise the deploy fails halfway, on a
// resource, after its parameters were taken.
func sizes(routes Routes, values params.Values, file string, ev *cfn.Evaluator, nodes *templateNodes) Check {
	c := Check{Name: "the policies and the events rule fit AWS's size limits with the routing file's pipelines"}
	got, err := Sizes(ev)
	if err != nil {
		c.problem(file, 0, "%v", err)
		return c
	}
	for _, s := range got {
		if s.Size > s.Max {
			c.problem(file, nodes.resourceLine(s.Resource), "%s with the %d pipelines of %s: name fewer pipelines or shorter ones in this stack (a second stack can take the rest)",
				s, len(values.PipelineNames), routes.Path)
		}
	}
	return c
}

// templateNodes finds the lines of template.yaml's resources.
type templateNodes struct {
	root *yaml.Node
}

func (t *templateNodes) resourceLine(name string) int {
	_, k := get(path(t.root, "Resources"), name)
	return line(k)
}

// policiesLine is the line of a function's Policies, else of the function.
func (t *templateNodes) policiesLine(fn string) int {
	r, k := get(path(t.root, "Resources"), fn)
	_, pk := get(path(r, "Properties"), "Policies")
	return lineOr(pk, k)
}
