package deploy

import (
	"encoding/json"
	"fmt"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/params"
	"github.com/pipegate/pipegate/internal/routing"
)

// fixtureRouting is this package's routing file: the tests compute the
// template's parameters from it with the code `pipegate params` uses, and never
// read the bundled pipegate.yaml, so that a team's edits to it break no test.
const fixtureRouting = "testdata/routing.yaml"

// routeParams parses a routing file and computes the template parameters.
func routeParams(data []byte) (*routing.Config, params.Values, error) {
	cfg, err := routing.Parse(data)
	if err != nil {
		return nil, params.Values{}, fmt.Errorf("routing file: %w", err)
	}
	v, err := params.FromRouting(cfg)
	if err != nil {
		return nil, params.Values{}, fmt.Errorf("routing file: %w", err)
	}
	return cfg, v, nil
}

// expand evaluates a decoded template for the values and returns it as
// CloudFormation processes it: its Fn::ForEach loops expanded.
func expand(decoded map[string]any, values map[string]string) (map[string]any, *cfn.Evaluator, error) {
	ev, err := cfn.NewEvaluator(decoded, values)
	if err != nil {
		return nil, nil, err
	}
	return ev.Template(), ev, nil
}

// goformationOf parses an expanded template with goformation, which checks
// unknown properties but cannot read Fn::ForEach itself.
func goformationOf(tpl map[string]any) (*cloudformation.Template, error) {
	b, err := json.Marshal(tpl)
	if err != nil {
		return nil, err
	}
	return goformation.ParseJSON(b)
}
