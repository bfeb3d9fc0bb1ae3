package deploy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/params"
)

// ruleFailures evaluates a template's Rules with the given parameter values as
// CloudFormation does when it creates a change set: it returns, for every rule
// whose RuleCondition holds, the AssertDescription of each assertion that fails.
func ruleFailures(tpl map[string]any, values map[string]string) ([]string, error) {
	ev, err := cfn.NewEvaluator(tpl, values)
	if err != nil {
		return nil, err
	}
	truth := func(what string, v any) (bool, error) {
		got, err := ev.Eval(v)
		if err != nil {
			return false, fmt.Errorf("%s: %w", what, err)
		}
		b, ok := got.(bool)
		if !ok {
			return false, fmt.Errorf("%s: %v is not true or false", what, got)
		}
		return b, nil
	}
	var failed []string
	rules, _ := cfn.Lookup(tpl, "Rules").(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(rules)) {
		if c := cfn.Lookup(rules[name], "RuleCondition"); c != nil {
			on, err := truth("rule "+name+" RuleCondition", c)
			if err != nil {
				return nil, err
			}
			if !on {
				continue
			}
		}
		asserts, _ := cfn.Lookup(rules[name], "Assertions").([]any)
		if len(asserts) == 0 {
			return nil, fmt.Errorf("rule %s: no Assertions", name)
		}
		for i, a := range asserts {
			ok, err := truth(fmt.Sprintf("rule %s assertion %d", name, i+1), cfn.Lookup(a, "Assert"))
			if err != nil {
				return nil, err
			}
			if !ok {
				failed = append(failed, fmt.Sprintf("rule %s: %v", name, cfn.Lookup(a, "AssertDescription")))
			}
		}
	}
	return failed, nil
}

// checkRules checks that template.yaml's Rules refuse, when the change set is
// created, what the nested pipeline stacks would refuse only while they are
// created (rolling back the whole deployment): CreatePipelines=true with an
// empty value for a parameter the pipeline template requires, or without the
// PipelineSources the stacks are made from. Which parameters those are follows
// from the templates: a nested stack parameter given as !Ref of a parameter of
// template.yaml, which the pipeline template declares without a default and does
// not take empty. The Rules must let both the routing file's values and a
// complete CreatePipelines=true deploy through.
func checkRules(decoded, pipeline map[string]any, v params.Values) []string {
	var problems []string
	base := v.Map()
	for _, tc := range []struct {
		label  string
		values map[string]string
	}{
		{"the routing file's parameters", base},
		{"CreatePipelines=true and a connection and cluster", merge(base, createPipelines())},
	} {
		failed, err := ruleFailures(decoded, tc.values)
		if err != nil {
			problems = append(problems, fmt.Sprintf("template.yaml: Rules: %v", err))
			return problems
		}
		if len(failed) > 0 {
			problems = append(problems, fmt.Sprintf("template.yaml: with %s the Rules refuse the deploy: %q", tc.label, failed))
		}
	}

	main, _, err := expand(decoded, merge(base, createPipelines()))
	if err != nil {
		return append(problems, "template.yaml: "+err.Error())
	}
	mainParams, _ := cfn.Lookup(main, "Parameters").(map[string]any)
	pipelineParams, _ := cfn.Lookup(pipeline, "Parameters").(map[string]any)
	required := map[string]bool{params.PipelineSources: true}
	resources, _ := cfn.Lookup(main, "Resources").(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(resources)) {
		if cfn.Lookup(resources[n], "Properties", "TemplateURL") != pipelineTemplate {
			continue
		}
		given, _ := cfn.Lookup(resources[n], "Properties", "Parameters").(map[string]any)
		for k, v := range given {
			ref, ok := cfn.Lookup(v, "Ref").(string)
			if !ok || mainParams[ref] == nil {
				continue
			}
			p := pipelineParams[k]
			if p != nil && cfn.Lookup(p, "Default") == nil && checkValue(p, "") != nil {
				required[ref] = true
			}
		}
	}
	for _, param := range slices.Sorted(maps.Keys(required)) {
		values := merge(base, createPipelines())
		values[param] = ""
		failed, err := ruleFailures(decoded, values)
		if err != nil {
			problems = append(problems, fmt.Sprintf("template.yaml: Rules: %v", err))
			continue
		}
		if !slices.ContainsFunc(failed, func(f string) bool { return strings.Contains(f, param) }) {
			problems = append(problems, fmt.Sprintf("template.yaml: CreatePipelines=true with %s empty passes the Rules (failed: %q): the nested stacks would refuse it only while they are created, rolling back the whole deployment; want an assertion whose AssertDescription names %s", param, failed, param))
		}
	}
	return problems
}
