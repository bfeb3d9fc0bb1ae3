package validate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pipegate/pipegate/internal/cfn"
)

// needs is what each function calls on a routed pipeline: the pipeline's own ARN
// for most actions, the production approval action's ARN for PutApprovalResult.
var needs = map[string][]string{
	"WebhookFunction":        {"StartPipelineExecution", "GetPipelineExecution", "GetPipelineState", "PutApprovalResult"},
	"RetryFunction":          {"StartPipelineExecution", "GetPipelineExecution", "GetPipelineState", "PutApprovalResult"},
	"PipelineEventsFunction": {"StartPipelineExecution", "GetPipelineExecution", "ListPipelineExecutions", "ListActionExecutions", "GetPipelineState", "PutApprovalResult"},
}

// grants checks that each function's IAM policies, evaluated with the template's
// parameter defaults, allow the CodePipeline calls its code makes on every routed
// pipeline. A missing grant would only show in AWS, as AccessDenied on every push
// or event.
//
// It judges the policies alone: which pipelines PipelineNames names and which
// approval ProductionApproval names are the other checks' to report, so it looks
// at the routed pipelines PipelineNames has, at the approval ProductionApproval
// names, and skips when those parameters cannot be read.
func grants(routes Routes, file string, tpl []byte) Check {
	c := Check{Name: "each function may call CodePipeline on every routed pipeline"}
	doc, err := cfn.Decode(tpl)
	if err != nil {
		c.Skip = "the template does not parse"
		return c
	}
	ev, err := cfn.NewEvaluator(doc, nil)
	if err != nil {
		c.Skip = err.Error()
		return c
	}
	names, okNames := cfn.AsString(ev.Param(pipelineNamesParam))
	approval, okApproval := cfn.AsString(ev.Param(productionApprovalParam))
	if !okNames || !okApproval {
		c.Skip = "PipelineNames or ProductionApproval has no default"
		return c
	}
	named := strings.Split(names, ",")
	for _, fn := range slices.Sorted(maps.Keys(needs)) {
		allowed, err := allowedOf(doc, ev, fn)
		if err != nil {
			c.problem(file, 0, "%s: %v", fn, err)
			continue
		}
		for _, s := range routes.Config.Services {
			if !slices.Contains(named, s.Pipeline) {
				continue
			}
			arn := fmt.Sprintf("arn:%s:codepipeline:%s:%s:%s", cfn.Partition, cfn.Region, cfn.AccountID, s.Pipeline)
			for _, action := range needs[fn] {
				resource := arn
				if action == "PutApprovalResult" {
					resource = arn + "/" + approval
				}
				if !allowed["codepipeline:"+strings.ToLower(action)][resource] {
					c.problem(file, 0, "%s may not call codepipeline:%s on %s (service %s, %s)", fn, action, resource, s.Name, routes.at(s))
				}
			}
		}
	}
	return c
}

// allowedOf gathers fn's Allow statements, from its inline policies and the
// managed policies it references: lower-cased action → resource → allowed.
func allowedOf(doc map[string]any, ev *cfn.Evaluator, fn string) (map[string]map[string]bool, error) {
	policies, _ := cfn.Lookup(doc, "Resources", fn, "Properties", "Policies").([]any)
	if policies == nil {
		return nil, fmt.Errorf("no Policies")
	}
	allowed := map[string]map[string]bool{}
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
			for _, a := range actions {
				a = strings.ToLower(a)
				if allowed[a] == nil {
					allowed[a] = map[string]bool{}
				}
				for _, r := range resources {
					allowed[a][r] = true
				}
			}
		}
	}
	return allowed, nil
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
