package validate

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pipegate/pipegate/internal/cfn"
)

// Needs is what each function calls on a routed pipeline: the pipeline's own ARN
// (PipelineARN) for most actions, the production approval action's ARN for
// PutApprovalResult. internal/deploy checks the template grants exactly these.
//
// Every function evaluates production gates: the webhook on a merge request hook,
// the retry consumer when that failed, pipeline-events on the approval action's
// event and in the reconciler. A gate reads which execution waits, with which
// token (GetPipelineState), the commit of an execution the table does not know
// (GetPipelineExecution), and answers the approval action. Each starts pipelines:
// the webhook and the retry consumer a push's, the reconciler those of deliveries
// no invocation finished. Besides the gate, the reconciler reads recent executions
// and stage states, and the action runs that give a stage seen first as a success
// its start.
var Needs = map[string][]string{
	"WebhookFunction":        {"StartPipelineExecution", "GetPipelineExecution", "GetPipelineState", "PutApprovalResult"},
	"RetryFunction":          {"StartPipelineExecution", "GetPipelineExecution", "GetPipelineState", "PutApprovalResult"},
	"PipelineEventsFunction": {"StartPipelineExecution", "GetPipelineExecution", "ListPipelineExecutions", "ListActionExecutions", "GetPipelineState", "PutApprovalResult"},
}

// PipelineARN is the ARN of pipeline name in the stack's partition, region and
// account, as the checks evaluate them (cfn.Partition, cfn.Region, cfn.AccountID).
// PutApprovalResult is authorized on the action's ARN (resource type "action" of
// CodePipeline in the Service Authorization Reference): PipelineARN of
// <pipeline>/<stage>/<action>.
func PipelineARN(name string) string {
	return fmt.Sprintf("arn:%s:codepipeline:%s:%s:%s", cfn.Partition, cfn.Region, cfn.AccountID, name)
}

// The condition keys that narrow a wildcard region or account of a resource
// ARN to the stack's own: the region the request is made to (IAM's global
// aws:RequestedRegion, in every request) and the account that owns the resource
// (aws:ResourceAccount).
const (
	requestedRegion = "aws:RequestedRegion"
	resourceAccount = "aws:ResourceAccount"
)

// Narrow gives the resources a statement grants in effect: each ARN whose
// region or account is a wildcard, with the region and account its Condition
// holds it to (StringEquals on aws:RequestedRegion and aws:ResourceAccount), and
// a wildcard partition as the caller's own (cfn.Partition), since a request is
// only ever evaluated in its own partition. A wildcard the Condition does not
// narrow stays, as the wildcard it is. resources and condition are evaluated.
func Narrow(resources []string, condition any) []string {
	equals, _ := cfn.Lookup(condition, "StringEquals").(map[string]any)
	values := func(key string) []string {
		switch v := equals[key].(type) {
		case string:
			return []string{v}
		case []any:
			var out []string
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
			return out
		}
		return nil
	}
	var out []string
	for _, r := range resources {
		parts := strings.SplitN(r, ":", 6)
		if len(parts) != 6 || parts[0] != "arn" {
			out = append(out, r)
			continue
		}
		if parts[1] == "*" {
			parts[1] = cfn.Partition
		}
		regions, accounts := []string{parts[3]}, []string{parts[4]}
		if parts[3] == "*" && len(values(requestedRegion)) > 0 {
			regions = values(requestedRegion)
		}
		if parts[4] == "*" && len(values(resourceAccount)) > 0 {
			accounts = values(resourceAccount)
		}
		for _, region := range regions {
			for _, account := range accounts {
				out = append(out, strings.Join([]string{parts[0], parts[1], parts[2], region, account, parts[5]}, ":"))
			}
		}
	}
	return out
}

// grants checks that each function's IAM policies, evaluated with the computed
// parameters, allow the CodePipeline calls its code makes on every routed
// pipeline. A missing grant would only show in AWS, as AccessDenied on every
// push or event.
func grants(routes Routes, file string, root any, ev *cfn.Evaluator, nodes *templateNodes) Check {
	c := Check{Name: "each function may call CodePipeline on every routed pipeline"}
	doc, _ := root.(map[string]any)
	for _, fn := range slices.Sorted(maps.Keys(Needs)) {
		line := nodes.policiesLine(fn)
		allowed, err := allowedOf(doc, ev, fn)
		if err != nil {
			c.problem(file, line, "%s: %v", fn, err)
			continue
		}
		for _, s := range routes.Config.Services {
			for _, action := range Needs[fn] {
				resource := PipelineARN(s.Pipeline)
				if action == "PutApprovalResult" {
					resource = PipelineARN(s.Pipeline + "/" + s.Production.Stage + "/" + s.Production.ApprovalAction)
				}
				if !allowed.allows("codepipeline:"+action, resource) {
					c.problem(file, line, "%s may not call codepipeline:%s on %s, which service %s (%s) needs: check the policy and its parameters (pipegate params --write)",
						fn, action, resource, s.Name, routes.at(s))
				}
			}
		}
	}
	return c
}

// allowed is lower-cased action → the resource patterns it is allowed on.
type allowed map[string][]string

func (a allowed) allows(action, resource string) bool {
	return slices.ContainsFunc(a[strings.ToLower(action)], func(p string) bool { return globMatch(p, resource) })
}

// globMatch matches an IAM resource pattern: * any run of characters, ? one.
func globMatch(pattern, s string) bool {
	var re strings.Builder
	re.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	ok, _ := regexp.MatchString(re.String(), s)
	return ok
}

// allowedOf gathers fn's Allow statements, from its inline policies and the
// managed policies it references, their resources narrowed by their conditions.
func allowedOf(doc map[string]any, ev *cfn.Evaluator, fn string) (allowed, error) {
	policies, _ := cfn.Lookup(doc, "Resources", fn, "Properties", "Policies").([]any)
	if policies == nil {
		return nil, fmt.Errorf("no Policies")
	}
	out := allowed{}
	for _, p := range policies {
		var statements any
		switch p := p.(type) {
		case map[string]any:
			if ref, ok := p["Ref"].(string); ok {
				statements = cfn.Lookup(doc, "Resources", ref, "Properties", "PolicyDocument", "Statement")
			} else {
				statements = p["Statement"]
			}
		}
		list, _ := statements.([]any)
		for _, st := range list {
			st, _ := st.(map[string]any)
			if st["Effect"] != "Allow" {
				continue
			}
			actions, err := strs(ev, st["Action"])
			if err != nil {
				return nil, err
			}
			resources, err := strs(ev, st["Resource"])
			if err != nil {
				return nil, err
			}
			condition, err := ev.Eval(st["Condition"])
			if err != nil {
				return nil, err
			}
			resources = Narrow(resources, condition)
			for _, a := range actions {
				a = strings.ToLower(a)
				out[a] = append(out[a], resources...)
			}
		}
	}
	return out, nil
}

// strs evaluates a string or a list of strings.
func strs(ev *cfn.Evaluator, v any) ([]string, error) {
	v, err := ev.Eval(v)
	if err != nil {
		return nil, err
	}
	if s, ok := cfn.AsString(v); ok {
		return []string{s}, nil
	}
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := cfn.AsString(x); ok {
			out = append(out, s)
		}
	}
	return out, nil
}
