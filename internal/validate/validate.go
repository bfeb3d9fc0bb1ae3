// Package validate checks, offline, that the routing file, the SAM template and the
// per-service pipeline template agree: that template.yaml grants the functions
// what the routing file asks of them, and that each pipeline it creates has the
// stages and actions the routing file names. It does no I/O and calls no AWS API:
// each check takes the files' bytes and returns what it found, with file and line.
package validate

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/routing"
)

// File is one input: its bytes and the name problems give it.
type File struct {
	Path string
	Data []byte
}

// Routes is a parsed routing file and the name problems give it.
type Routes struct {
	Path   string
	Config *routing.Config
}

// at names a service's place in the routing file.
func (r Routes) at(s routing.Service) string {
	return fmt.Sprintf("%s:%d", r.Path, s.Line)
}

// Problem is one thing wrong, where it is.
type Problem struct {
	File    string
	Line    int // 0: the file as a whole
	Message string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return p.File + ": " + p.Message
}

// Check is one thing checked: ok when it has no Problems, not checked at all
// when Skip says why.
type Check struct {
	Name     string
	Problems []Problem
	Skip     string
}

// OK reports whether the check passed (or was skipped).
func (c Check) OK() bool { return len(c.Problems) == 0 }

func (c *Check) problem(file string, line int, format string, args ...any) {
	c.Problems = append(c.Problems, Problem{file, line, fmt.Sprintf(format, args...)})
}

// MaxPipelines is how many pipelines template.yaml's policies grant: one policy
// resource per position of PipelineNames.
const MaxPipelines = 20

// The parameter and resource names of template.yaml that the functions' grants
// and the events rule are built from.
const (
	pipelineNamesParam      = "PipelineNames"
	productionApprovalParam = "ProductionApproval"
	pipelineEventsFunction  = "PipelineEventsFunction"
)

var lineNumber = regexp.MustCompile(`line (\d+)`)

// Routing parses a routing file. Parse's errors name the line; the problem carries
// it too, so that it prints as file:line.
func Routing(f File) (*routing.Config, Check) {
	c := Check{Name: "routing file parses"}
	cfg, err := routing.Parse(f.Data)
	if err != nil {
		n := 0
		if m := lineNumber.FindStringSubmatch(err.Error()); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		c.problem(f.Path, n, "%s", strings.Join(strings.Fields(err.Error()), " "))
		return nil, c
	}
	c.Name = fmt.Sprintf("routing file %s parses: %d services", f.Path, len(cfg.Services))
	return cfg, c
}

// Template checks that the SAM template grants what the routing file needs:
// PipelineNames names every routed pipeline (the functions' permissions and the
// events rule are built from it), the pipeline-events function's EventBridge rule
// takes the CodePipeline events of exactly those pipelines, ProductionApproval is
// every service's production approval, GitLab has a POST /webhook to call, and
// each function's IAM policies allow the CodePipeline calls it makes.
func Template(routes Routes, tpl File) []Check {
	root, err := parseYAML(tpl.Data)
	if err != nil {
		c := Check{Name: "template parses"}
		c.problem(tpl.Path, lineOf(err), "%v", err)
		return []Check{c}
	}
	return []Check{
		pipelineNames(routes, tpl.Path, root),
		eventsRule(tpl.Path, root),
		productionApproval(routes, tpl.Path, root),
		webhookRoute(tpl.Path, root),
		grants(routes, tpl.Path, tpl.Data),
	}
}

func lineOf(err error) int {
	if m := lineNumber.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// paramDefault finds a parameter's default; the Check gets the problem when there
// is none.
func paramDefault(c *Check, file string, root *yaml.Node, name string) (string, *yaml.Node, bool) {
	params, paramsKey := get(root, "Parameters")
	p, pKey := get(params, name)
	if p == nil {
		c.problem(file, line(paramsKey), "no %s parameter", name)
		return "", nil, false
	}
	def, defKey := get(p, "Default")
	if def == nil || literal(def) == "" {
		c.problem(file, lineOr(defKey, pKey), "parameter %s has no literal Default", name)
		return "", nil, false
	}
	return def.Value, def, true
}

func pipelineNames(routes Routes, file string, root *yaml.Node) Check {
	c := Check{Name: fmt.Sprintf("%s names every routed pipeline (at most %d)", pipelineNamesParam, MaxPipelines)}
	def, node, ok := paramDefault(&c, file, root, pipelineNamesParam)
	if !ok {
		return c
	}
	var names []string
	for _, n := range strings.Split(def, ",") {
		names = append(names, strings.TrimSpace(n))
	}
	if len(names) > MaxPipelines {
		c.problem(file, node.Line, "%s's default names %d pipelines, but the policies grant only %d", pipelineNamesParam, len(names), MaxPipelines)
	}
	for _, s := range routes.Config.Services {
		if !slices.Contains(names, s.Pipeline) {
			c.problem(file, node.Line, "%s's default does not name %s, the pipeline of service %s (%s): pipegate could not start it, and its events would not reach pipegate",
				pipelineNamesParam, s.Pipeline, s.Name, routes.at(s))
		}
	}
	return c
}

// The CodePipeline events pipegate turns into statuses; action events carry the
// start of the production approval, which the gate waits for.
var codePipelineDetailTypes = []string{
	"CodePipeline Pipeline Execution State Change",
	"CodePipeline Stage Execution State Change",
	"CodePipeline Action Execution State Change",
}

func eventsRule(file string, root *yaml.Node) Check {
	c := Check{Name: fmt.Sprintf("%s's EventBridge rule takes the CodePipeline events of %s", pipelineEventsFunction, pipelineNamesParam)}
	resources, resourcesKey := get(root, "Resources")
	fn, fnKey := get(resources, pipelineEventsFunction)
	if fn == nil {
		c.problem(file, line(resourcesKey), "no %s resource", pipelineEventsFunction)
		return c
	}
	events, eventsKey := get(path(fn, "Properties"), "Events")
	keys, values := entries(events)
	found := false
	for i, ev := range values {
		if literal(path(ev, "Type")) != "EventBridgeRule" {
			continue
		}
		found = true
		where := fmt.Sprintf("%s event %s", pipelineEventsFunction, keys[i].Value)
		pattern, patternKey := get(path(ev, "Properties"), "Pattern")
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
			c.problem(file, line(patternKey), "%s does not filter on detail.pipeline: want !Split [\",\", !Ref %s]", where, pipelineNamesParam)
			continue
		}
		if !splitsParam(pipeline, pipelineNamesParam) {
			c.problem(file, pipelineKey.Line, "%s: detail.pipeline is %s, not !Split [\",\", !Ref %s]: the rule and the pipelines pipegate may start would drift apart",
				where, show(pipeline), pipelineNamesParam)
		}
	}
	if !found {
		c.problem(file, lineOr(eventsKey, fnKey), "%s has no EventBridgeRule event: no CodePipeline event would reach it", pipelineEventsFunction)
	}
	return c
}

// lineOr is the line of the first node given.
func lineOr(nodes ...*yaml.Node) int {
	for _, n := range nodes {
		if n != nil {
			return n.Line
		}
	}
	return 0
}

// listHas reports whether a node is s or a list holding s.
func listHas(n *yaml.Node, s string) bool {
	if n == nil {
		return false
	}
	if n.Kind == yaml.ScalarNode {
		return literal(n) == s
	}
	return slices.ContainsFunc(n.Content, func(c *yaml.Node) bool { return literal(c) == s })
}

// splitsParam reports whether n is Fn::Split [",", Ref param], in either form.
func splitsParam(n *yaml.Node, param string) bool {
	v, err := cfn.DecodeNode(n)
	if err != nil {
		return false
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	args, ok := m["Fn::Split"].([]any)
	if !ok || len(args) != 2 || args[0] != "," {
		return false
	}
	ref, ok := args[1].(map[string]any)
	return ok && len(ref) == 1 && ref["Ref"] == param
}

func productionApproval(routes Routes, file string, root *yaml.Node) Check {
	c := Check{Name: fmt.Sprintf("%s is every service's production stage/approval_action", productionApprovalParam)}
	def, node, ok := paramDefault(&c, file, root, productionApprovalParam)
	if !ok {
		return c
	}
	for _, s := range routes.Config.Services {
		want := s.Production.Stage + "/" + s.Production.ApprovalAction
		if def != want {
			c.problem(file, node.Line, "%s's default is %q, but service %s (%s) gates %s: pipegate could not answer that approval",
				productionApprovalParam, def, s.Name, routes.at(s), want)
		}
	}
	return c
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
