// Command expand writes template.yaml as CloudFormation processes it for one
// routing file, so that scripts/test.sh can lint what a team would deploy:
// cfn-lint expands Fn::ForEach with the parameters' defaults only (and
// template.yaml has none for PipelineNames), so linting template.yaml alone
// never sees the pipelines' nested stacks as a real deploy makes them.
//
//	go run ./internal/deploy/testdata/expand ROUTING TEMPLATE OUT
//
// It computes the parameters from ROUTING as `pipegate params` does, adds
// CreatePipelines=true with a connection and a cluster, expands TEMPLATE's loops
// for them (package cfn) into OUT (JSON), with the pipeline template's path made
// absolute so that cfn-lint checks the nested stacks' parameters against it, and
// prints the parameter values for cfn-lint --parameters.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/params"
	"github.com/pipegate/pipegate/internal/routing"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: expand ROUTING TEMPLATE OUT")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "expand:", err)
		os.Exit(1)
	}
}

func run(routingPath, templatePath, out string) error {
	data, err := os.ReadFile(routingPath)
	if err != nil {
		return err
	}
	cfg, err := routing.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", routingPath, err)
	}
	v, err := params.FromRouting(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", routingPath, err)
	}
	values := v.Map()
	values["CreatePipelines"] = "true"
	values["ConnectionArn"] = "arn:aws:codeconnections:" + cfn.Region + ":" + cfn.AccountID + ":connection/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	values["EcsCluster"] = "acme"

	data, err = os.ReadFile(templatePath)
	if err != nil {
		return err
	}
	tpl, err := cfn.Decode(data)
	if err != nil {
		return err
	}
	ev, err := cfn.NewEvaluator(tpl, values)
	if err != nil {
		return err
	}
	expanded := ev.Template()
	// Nothing is left for AWS::LanguageExtensions to expand.
	var transforms []any
	if list, ok := expanded["Transform"].([]any); ok {
		for _, t := range list {
			if t != "AWS::LanguageExtensions" {
				transforms = append(transforms, t)
			}
		}
	}
	expanded["Transform"] = transforms
	resources, _ := expanded["Resources"].(map[string]any)
	for _, r := range resources {
		props, _ := cfn.Lookup(r, "Properties").(map[string]any)
		if url, ok := props["TemplateURL"].(string); ok && !strings.Contains(url, "://") {
			abs, err := filepath.Abs(filepath.Join(filepath.Dir(templatePath), url))
			if err != nil {
				return err
			}
			props["TemplateURL"] = abs
		}
	}
	b, err := json.MarshalIndent(expanded, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	var pairs []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range values {
			if !yield(k) {
				return
			}
		}
	}) {
		pairs = append(pairs, k+"="+values[k])
	}
	fmt.Println(strings.Join(pairs, " "))
	return nil
}
