package deploy

// Checks of pipelines/service-pipeline.yaml, the per-service CodePipeline that
// pipegate drives, of the nested stacks template.yaml creates from it, and of
// the agreement between those pipelines and the routing file. goformation parses
// each template (unknown properties); the references, parameter values, IAM
// actions and names are checked here on the yaml.v3 reading with the evaluator.

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/params"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/validate"
)

const pipelineTemplate = "pipelines/service-pipeline.yaml"

// pipelineParams are the values the standalone checks deploy the pipeline
// template with: the required parameters, and names of the team's own for the
// ones pipegate uses (so that a name written into the template shows), the
// others at their defaults.
func pipelineParams() map[string]string {
	return map[string]string{
		"ServiceName":     "core",
		"GitLabProject":   "acme/core",
		"ConnectionArn":   "arn:aws:codeconnections:eu-west-1:123456789012:connection/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
		"EcrRepository":   "core",
		"EcsCluster":      "acme",
		"BranchName":      "trunk",
		"SourceAction":    "Checkout",
		"StagingStage":    "QA",
		"ProductionStage": "Release",
		"ApprovalAction":  "Go",
	}
}

// createPipelines are template.yaml's parameters that create the pipelines.
func createPipelines() map[string]string {
	p := pipelineParams()
	return map[string]string{
		"CreatePipelines": "true",
		"ConnectionArn":   p["ConnectionArn"],
		"EcsCluster":      p["EcsCluster"],
	}
}

// pipelineGrants is, per role, the exact set of IAM actions (lower case) and the
// resources each is granted on, with pipelineParams.
func pipelineGrants() map[string]map[string][]string {
	const (
		bucket  = "{GetAtt:ArtifactBucket.Arn}"
		objects = "{GetAtt:ArtifactBucket.Arn}/*"
		repo    = "arn:aws:ecr:eu-west-1:123456789012:repository/core"
		svc     = "arn:aws:ecs:eu-west-1:123456789012:service/acme/"
	)
	conn := pipelineParams()["ConnectionArn"]
	services := []string{svc + "core-prod", svc + "core-staging"}
	return map[string]map[string][]string{
		"PipelineRole": {
			"s3:getobject":                       {objects},
			"s3:getobjectversion":                {objects},
			"s3:putobject":                       {objects},
			"s3:getbucketlocation":               {bucket},
			"s3:getbucketversioning":             {bucket},
			"codestar-connections:useconnection": {conn},
			"codeconnections:useconnection":      {conn},
			"codebuild:startbuild":               {"{GetAtt:BuildProject.Arn}"},
			"codebuild:batchgetbuilds":           {"{GetAtt:BuildProject.Arn}"},
			"ecs:describeservices":               services,
			"ecs:updateservice":                  services,
			// No resource-level permissions exist for these.
			"ecs:describetaskdefinition": {"*"},
			"ecs:registertaskdefinition": {"*"},
			"ecs:describetasks":          {"*"},
			"ecs:listtasks":              {"*"},
			"ecs:tagresource":            {"arn:aws:ecs:eu-west-1:123456789012:task-definition/*"},
			"iam:passrole":               {"arn:aws:iam::123456789012:role/*"},
		},
		"BuildRole": {
			"logs:createlogstream": {"{GetAtt:BuildLogGroup.Arn}"},
			"logs:putlogevents":    {"{GetAtt:BuildLogGroup.Arn}"},
			"s3:getobject":         {objects},
			"s3:getobjectversion":  {objects},
			"s3:putobject":         {objects},
			// AWS's documented minimum for a CodeBuild service role.
			"s3:getbucketacl":                 {bucket},
			"s3:getbucketlocation":            {bucket},
			"ecr:getauthorizationtoken":       {"*"},
			"ecr:batchchecklayeravailability": {repo},
			"ecr:batchgetimage":               {repo},
			"ecr:getdownloadurlforlayer":      {repo},
			"ecr:initiatelayerupload":         {repo},
			"ecr:uploadlayerpart":             {repo},
			"ecr:completelayerupload":         {repo},
			"ecr:putimage":                    {repo},
			// Whether the commit's image is there already (no second push).
			"ecr:describeimages": {repo},
		},
	}
}

// pipelineConditions are the IAM conditions a grant must carry, as
// action -> operator -> key -> value.
var pipelineConditions = map[string]string{
	"iam:passrole":    "StringEquals iam:PassedToService=ecs-tasks.amazonaws.com",
	"ecs:tagresource": "StringEquals ecs:CreateAction=RegisterTaskDefinition",
}

// attributes are the Fn::GetAtt attributes of the resource types the templates
// use; a type missing here cannot be the target of a GetAtt.
var attributes = map[string][]string{
	"AWS::S3::Bucket":             {"Arn", "DomainName", "RegionalDomainName", "DualStackDomainName", "WebsiteURL"},
	"AWS::IAM::Role":              {"Arn", "RoleId"},
	"AWS::CodeBuild::Project":     {"Arn"},
	"AWS::Logs::LogGroup":         {"Arn"},
	"AWS::CodePipeline::Pipeline": {"Version"},
	"AWS::SQS::Queue":             {"Arn", "QueueName", "QueueUrl"},
	"AWS::DynamoDB::Table":        {"Arn", "StreamArn"},
	"AWS::SecretsManager::Secret": {"Id"},
	"AWS::Serverless::Function":   {"Arn"},
}

var pseudoParameters = []string{"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}

// templates are the inputs of the pipeline checks; the tests break copies.
type templates struct {
	main     []byte // template.yaml
	pipeline []byte // pipelines/service-pipeline.yaml
	routing  []byte // this package's routing file
}

func readTemplates(t *testing.T) templates {
	t.Helper()
	var in templates
	for _, f := range []struct {
		dst  *[]byte
		path string
	}{{&in.main, filepath.Join(root, "template.yaml")}, {&in.pipeline, filepath.Join(root, pipelineTemplate)}, {&in.routing, fixtureRouting}} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		*f.dst = data
	}
	return in
}

// parse reads a template with yaml.v3 and expands its loops for the values,
// and runs goformation on the expansion: the template as written, and as
// CloudFormation processes it.
func parse(name string, data []byte, values map[string]string) (decoded, expanded map[string]any, err error) {
	if decoded, err = cfn.Decode(data); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if expanded, _, err = expand(decoded, values); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, err := goformationOf(expanded); err != nil {
		return nil, nil, fmt.Errorf("%s: goformation cannot parse it: %w", name, err)
	}
	return decoded, expanded, nil
}

// checkTemplates runs every check of this file; dir is a scratch directory.
func checkTemplates(dir string, in templates) []string {
	var problems []string
	_, v, err := routeParams(in.routing)
	if err != nil {
		return []string{err.Error()}
	}
	decoded, main, err := parse("template.yaml", in.main, v.Map())
	if err != nil {
		return []string{err.Error()}
	}
	_, pipeline, err := parse("service-pipeline.yaml", in.pipeline, nil)
	if err != nil {
		return []string{err.Error()}
	}
	problems = append(problems, checkRefs("template.yaml", main)...)
	problems = append(problems, checkRefs(pipelineTemplate, pipeline)...)
	problems = append(problems, checkDefaults("template.yaml", main)...)
	problems = append(problems, checkDefaults(pipelineTemplate, pipeline)...)
	problems = append(problems, checkPipeline(pipeline)...)
	problems = append(problems, checkNestedStacks(decoded, pipeline, v)...)
	problems = append(problems, checkRules(decoded, pipeline, v)...)
	problems = append(problems, checkRouting(in)...)
	problems = append(problems, checkBuild(dir, pipeline)...)
	return problems
}

// checkRefs checks, statically and in both branches of every Fn::If, that each
// Ref, GetAtt, Sub variable and condition names something that exists.
func checkRefs(name string, tpl map[string]any) []string {
	var problems []string
	resources, _ := cfn.Lookup(tpl, "Resources").(map[string]any)
	params, _ := cfn.Lookup(tpl, "Parameters").(map[string]any)
	conditions, _ := cfn.Lookup(tpl, "Conditions").(map[string]any)
	ref := func(where, target string) {
		if _, ok := params[target]; ok {
			return
		}
		if _, ok := resources[target]; ok {
			return
		}
		if slices.Contains(pseudoParameters, target) {
			return
		}
		problems = append(problems, fmt.Sprintf("%s: %s: Ref %s: no such parameter, resource or pseudo parameter", name, where, target))
	}
	getAtt := func(where, res, attr string) {
		r, ok := resources[res]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: %s: GetAtt %s.%s: no such resource", name, where, res, attr))
			return
		}
		typ, _ := cfn.Lookup(r, "Type").(string)
		if typ == "AWS::CloudFormation::Stack" && strings.HasPrefix(attr, "Outputs.") {
			return
		}
		if !slices.Contains(attributes[typ], attr) {
			problems = append(problems, fmt.Sprintf("%s: %s: GetAtt %s.%s: %s has no attribute %s (it has %v)", name, where, res, attr, typ, attr, attributes[typ]))
		}
	}
	cond := func(where string, c any) {
		s, ok := c.(string)
		if _, exists := conditions[s]; !ok || !exists {
			problems = append(problems, fmt.Sprintf("%s: %s: condition %v: no such condition", name, where, c))
		}
	}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case []any:
			for _, x := range v {
				walk(where, x)
			}
		case map[string]any:
			if len(v) == 1 {
				for k, arg := range v {
					switch k {
					case "Ref":
						ref(where, fmt.Sprint(arg))
						return
					case "Condition":
						if _, ok := arg.(string); ok {
							cond(where, arg)
							return
						}
					case "Fn::GetAtt":
						if l, ok := arg.([]any); ok && len(l) == 2 {
							getAtt(where, fmt.Sprint(l[0]), fmt.Sprint(l[1]))
						} else {
							problems = append(problems, fmt.Sprintf("%s: %s: GetAtt %v: want resource.attribute", name, where, arg))
						}
						return
					case "Fn::If":
						if l, ok := arg.([]any); ok && len(l) == 3 {
							cond(where, l[0])
							walk(where, l[1:])
						} else {
							problems = append(problems, fmt.Sprintf("%s: %s: Fn::If %v: want [condition, then, else]", name, where, arg))
						}
						return
					case "Fn::Sub":
						s, vars := arg, map[string]any{}
						if l, ok := arg.([]any); ok && len(l) == 2 {
							s = l[0]
							vars, _ = l[1].(map[string]any)
							walk(where, l[1])
						}
						str, _ := s.(string)
						for _, v := range cfn.SubVariables(str) {
							if _, ok := vars[v]; ok {
								continue
							}
							if res, attr, ok := strings.Cut(v, "."); ok {
								getAtt(where, res, attr)
							} else {
								ref(where, v)
							}
						}
						return
					}
				}
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(where, v[k])
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(resources)) {
		if c := cfn.Lookup(resources[n], "Condition"); c != nil {
			cond(n, c)
		}
		walk(n, cfn.Lookup(resources[n], "Properties"))
	}
	for _, n := range slices.Sorted(maps.Keys(conditions)) {
		walk("condition "+n, conditions[n])
	}
	rules, _ := cfn.Lookup(tpl, "Rules").(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(rules)) {
		walk("rule "+n, rules[n])
	}
	outputs, _ := cfn.Lookup(tpl, "Outputs").(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(outputs)) {
		walk("output "+n, outputs[n])
	}
	return problems
}

// checkValue checks a parameter value against the parameter's constraints.
func checkValue(p any, value string) error {
	if pattern, ok := cfn.Lookup(p, "AllowedPattern").(string); ok {
		// CloudFormation matches the whole value.
		re, err := regexp.Compile("^(?:" + pattern + ")$")
		if err != nil {
			return fmt.Errorf("AllowedPattern %q: %w", pattern, err)
		}
		if !re.MatchString(value) {
			return fmt.Errorf("%q does not match AllowedPattern %q", value, pattern)
		}
	}
	if allowed, ok := cfn.Lookup(p, "AllowedValues").([]any); ok {
		if !slices.ContainsFunc(allowed, func(a any) bool { return fmt.Sprint(a) == value }) {
			return fmt.Errorf("%q is not one of AllowedValues %v", value, allowed)
		}
	}
	if cfn.Lookup(p, "Type") == "Number" {
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", value)
		}
		if lo, ok := cfn.Lookup(p, "MinValue").(int); ok && n < float64(lo) {
			return fmt.Errorf("%v is under MinValue %d", value, lo)
		}
		if hi, ok := cfn.Lookup(p, "MaxValue").(int); ok && n > float64(hi) {
			return fmt.Errorf("%v is over MaxValue %d", value, hi)
		}
	}
	return nil
}

// checkDefaults checks every parameter default against its own constraints.
func checkDefaults(name string, tpl map[string]any) []string {
	var problems []string
	params, _ := cfn.Lookup(tpl, "Parameters").(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(params)) {
		def := cfn.Lookup(params[n], "Default")
		if def == nil {
			continue
		}
		if err := checkValue(params[n], fmt.Sprint(def)); err != nil {
			problems = append(problems, fmt.Sprintf("%s: parameter %s: default %v", name, n, err))
		}
	}
	return problems
}

// deployParams checks the values a stack is deployed with: every parameter
// without a default is given, none is unknown, each meets its constraints.
func deployParams(name string, tpl map[string]any, values map[string]string) []string {
	var problems []string
	params, _ := cfn.Lookup(tpl, "Parameters").(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(values)) {
		p, ok := params[n]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: parameter %s is given but not declared", name, n))
			continue
		}
		if err := checkValue(p, values[n]); err != nil {
			problems = append(problems, fmt.Sprintf("%s: parameter %s: %v", name, n, err))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(params)) {
		if _, ok := values[n]; !ok && cfn.Lookup(params[n], "Default") == nil {
			problems = append(problems, fmt.Sprintf("%s: parameter %s has no default and is not given", name, n))
		}
	}
	return problems
}

// evalResources evaluates every resource's properties and every output.
func evalResources(name string, tpl map[string]any, ev *cfn.Evaluator) []string {
	var problems []string
	resources, _ := cfn.Lookup(tpl, "Resources").(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(resources)) {
		if c, ok := cfn.Lookup(resources[n], "Condition").(string); ok {
			if on, err := ev.Condition(c); err != nil || !on {
				continue
			}
		}
		if _, err := ev.Eval(cfn.Lookup(resources[n], "Properties")); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s: %v", name, n, err))
		}
	}
	outputs, _ := cfn.Lookup(tpl, "Outputs").(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(outputs)) {
		if _, err := ev.Eval(cfn.Lookup(outputs[n], "Value")); err != nil {
			problems = append(problems, fmt.Sprintf("%s: output %s: %v", name, n, err))
		}
	}
	return problems
}

// action is one evaluated pipeline action.
type action struct {
	Stage, Name, Category, Provider string
	RunOrder                        int
	Config                          map[string]any
}

// pipelineActions evaluates the Pipeline resource: its name and its actions in
// stage order.
func pipelineActions(tpl map[string]any, ev *cfn.Evaluator) (string, []string, []action, error) {
	props, err := ev.Eval(cfn.Lookup(tpl, "Resources", "Pipeline", "Properties"))
	if err != nil {
		return "", nil, nil, fmt.Errorf("Pipeline: %w", err)
	}
	name, _ := cfn.Lookup(props, "Name").(string)
	stages, _ := cfn.Lookup(props, "Stages").([]any)
	var names []string
	var actions []action
	for _, s := range stages {
		stage, _ := cfn.Lookup(s, "Name").(string)
		names = append(names, stage)
		list, _ := cfn.Lookup(s, "Actions").([]any)
		for _, a := range list {
			order, ok := toInt(cfn.Lookup(a, "RunOrder"))
			if !ok {
				order = 1
			}
			cfg, _ := cfn.Lookup(a, "Configuration").(map[string]any)
			actions = append(actions, action{
				Stage:    stage,
				Name:     fmt.Sprint(cfn.Lookup(a, "Name")),
				Category: fmt.Sprint(cfn.Lookup(a, "ActionTypeId", "Category")),
				Provider: fmt.Sprint(cfn.Lookup(a, "ActionTypeId", "Provider")),
				RunOrder: order,
				Config:   cfg,
			})
		}
	}
	return name, names, actions, nil
}

// checkPipeline checks the pipeline template on its own, deployed with
// pipelineParams.
func checkPipeline(tpl map[string]any) []string {
	var problems []string
	errorf := func(format string, args ...any) {
		problems = append(problems, pipelineTemplate+": "+fmt.Sprintf(format, args...))
	}
	problems = append(problems, deployParams(pipelineTemplate, tpl, pipelineParams())...)
	ev, err := cfn.NewEvaluator(tpl, pipelineParams())
	if err != nil {
		return append(problems, err.Error())
	}
	problems = append(problems, evalResources(pipelineTemplate, tpl, ev)...)

	props := cfn.Lookup(tpl, "Resources", "Pipeline", "Properties")
	if cfn.Lookup(tpl, "Resources", "Pipeline", "Type") != "AWS::CodePipeline::Pipeline" {
		errorf("no AWS::CodePipeline::Pipeline named Pipeline")
		return problems
	}
	if v := cfn.Lookup(props, "PipelineType"); v != "V2" {
		errorf("PipelineType %v, want V2", v)
	}
	if v := cfn.Lookup(props, "ExecutionMode"); v != "QUEUED" && v != "SUPERSEDED" {
		errorf("ExecutionMode %v, want QUEUED or SUPERSEDED (PARALLEL deploys commits side by side)", v)
	}
	if v, err := ev.Eval(cfn.Lookup(props, "ArtifactStore", "Location")); err != nil || v != "{Ref:ArtifactBucket}" {
		errorf("ArtifactStore Location %v %v, want !Ref ArtifactBucket", v, err)
	}
	name, stages, actions, err := pipelineActions(tpl, ev)
	if err != nil {
		return append(problems, err.Error())
	}
	if name != "core-pipeline" {
		errorf("Name %q with ServiceName core, want core-pipeline", name)
	}
	p := pipelineParams()
	// The stage and action names pipegate uses are the parameters'.
	if want := []string{"Source", "Build", p["StagingStage"], p["ProductionStage"]}; !slices.Equal(stages, want) {
		errorf("stages %v, want %v", stages, want)
	}
	var (
		source   = "Source/" + p["SourceAction"]
		staging  = p["StagingStage"] + "/DeployStaging"
		approval = p["ProductionStage"] + "/" + p["ApprovalAction"]
		deploy   = p["ProductionStage"] + "/DeployProduction"
	)
	want := map[string]string{ // stage/action -> category/provider
		source:        "Source/CodeStarSourceConnection",
		"Build/Build": "Build/CodeBuild",
		staging:       "Deploy/ECS",
		approval:      "Approval/Manual",
		deploy:        "Deploy/ECS",
	}
	got := map[string]action{}
	for _, a := range actions {
		got[a.Stage+"/"+a.Name] = a
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		a, ok := got[k]
		if !ok {
			errorf("no action %s", k)
			continue
		}
		if a.Category+"/"+a.Provider != want[k] {
			errorf("action %s is %s/%s, want %s", k, a.Category, a.Provider, want[k])
		}
	}
	config := func(k, key string) any { return got[k].Config[key] }
	for key, v := range map[string]string{
		"ConnectionArn":        p["ConnectionArn"],
		"FullRepositoryId":     p["GitLabProject"],
		"BranchName":           p["BranchName"],
		"DetectChanges":        "false", // pipegate starts it
		"OutputArtifactFormat": "CODE_ZIP",
	} {
		if got := fmt.Sprint(config(source, key)); got != v {
			errorf("Source action %s %q, want %q", key, got, v)
		}
	}
	if v := config("Build/Build", "ProjectName"); v != "{Ref:BuildProject}" {
		errorf("Build action ProjectName %v, want !Ref BuildProject", v)
	}
	for k, svc := range map[string]string{staging: "core-staging", deploy: "core-prod"} {
		if v := config(k, "ServiceName"); v != svc {
			errorf("%s ServiceName %v, want %s", k, v, svc)
		}
		if v := config(k, "ClusterName"); v != p["EcsCluster"] {
			errorf("%s ClusterName %v, want %s", k, v, p["EcsCluster"])
		}
		if v := config(k, "FileName"); v != "imagedefinitions.json" {
			errorf("%s FileName %v, want imagedefinitions.json", k, v)
		}
	}
	if a, d := got[approval], got[deploy]; a.RunOrder != 1 || d.RunOrder <= a.RunOrder {
		errorf("%s runs %s at %d and DeployProduction at %d: the approval must come first", p["ProductionStage"], p["ApprovalAction"], a.RunOrder, d.RunOrder)
	}
	// Overridden service names replace the derived ones.
	if ev2, err := cfn.NewEvaluator(tpl, map[string]string{"ServiceName": "core", "GitLabProject": "acme/core", "ConnectionArn": p["ConnectionArn"], "EcrRepository": "core", "EcsCluster": "acme", "ProductionService": "core-live"}); err == nil {
		_, _, acts, err := pipelineActions(tpl, ev2)
		if err == nil && !slices.ContainsFunc(acts, func(a action) bool { return a.Name == "DeployProduction" && a.Config["ServiceName"] == "core-live" }) {
			errorf("ProductionService core-live does not reach DeployProduction")
		}
	}

	spec, _ := cfn.Lookup(tpl, "Resources", "BuildProject", "Properties", "Source", "BuildSpec").(string)
	for _, s := range []string{"CODEBUILD_RESOLVED_SOURCE_VERSION", "docker build", "docker push", "imagedefinitions.json", "$CONTAINER_NAME"} {
		if !strings.Contains(spec, s) {
			errorf("BuildProject's buildspec lacks %s", s)
		}
	}
	if v := cfn.Lookup(tpl, "Resources", "BuildProject", "Properties", "Environment", "PrivilegedMode"); v != true {
		errorf("BuildProject PrivilegedMode %v: docker build needs true", v)
	}
	problems = append(problems, checkBucket(tpl, ev)...)
	problems = append(problems, checkRoles(tpl, ev)...)
	return problems
}

func checkBucket(tpl map[string]any, ev *cfn.Evaluator) []string {
	var problems []string
	errorf := func(format string, args ...any) {
		problems = append(problems, pipelineTemplate+": "+fmt.Sprintf(format, args...))
	}
	b := cfn.Lookup(tpl, "Resources", "ArtifactBucket", "Properties")
	rules, _ := cfn.Lookup(b, "BucketEncryption", "ServerSideEncryptionConfiguration").([]any)
	if len(rules) == 0 || cfn.Lookup(rules[0], "ServerSideEncryptionByDefault", "SSEAlgorithm") == nil {
		errorf("ArtifactBucket: no default encryption")
	}
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if cfn.Lookup(b, "PublicAccessBlockConfiguration", k) != true {
			errorf("ArtifactBucket: PublicAccessBlockConfiguration %s is not true", k)
		}
	}
	// CloudFormation cannot delete a bucket that holds objects: deleting the
	// stack (or replacing the bucket) would fail on it unless it stays.
	for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if v := cfn.Lookup(tpl, "Resources", "ArtifactBucket", policy); v != "Retain" {
			errorf("ArtifactBucket: %s %v, want Retain: a bucket with artifacts in it fails the stack's deletion", policy, v)
		}
	}
	policy, err := ev.Eval(cfn.Lookup(tpl, "Resources", "ArtifactBucketPolicy", "Properties"))
	if err != nil {
		errorf("ArtifactBucketPolicy: %v", err)
		return problems
	}
	tls := false
	stmts, _ := cfn.Lookup(policy, "PolicyDocument", "Statement").([]any)
	for _, s := range stmts {
		res, _ := strings1(cfn.Lookup(s, "Resource"))
		if cfn.Lookup(s, "Effect") == "Deny" && cfn.Lookup(s, "Principal") == "*" && fmt.Sprint(cfn.Lookup(s, "Condition", "Bool", "aws:SecureTransport")) == "false" &&
			slices.Contains(res, "{GetAtt:ArtifactBucket.Arn}") && slices.Contains(res, "{GetAtt:ArtifactBucket.Arn}/*") {
			tls = true
		}
	}
	if cfn.Lookup(policy, "Bucket") != "{Ref:ArtifactBucket}" || !tls {
		errorf("ArtifactBucketPolicy: no statement denying requests without TLS (aws:SecureTransport false) on the bucket and its objects")
	}
	return problems
}

// checkRoles compares each role's grants with pipelineGrants, exactly.
func checkRoles(tpl map[string]any, ev *cfn.Evaluator) []string {
	var problems []string
	errorf := func(format string, args ...any) {
		problems = append(problems, pipelineTemplate+": "+fmt.Sprintf(format, args...))
	}
	wantAll := pipelineGrants()
	resources, _ := cfn.Lookup(tpl, "Resources").(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(resources)) {
		typ, _ := cfn.Lookup(resources[n], "Type").(string)
		if strings.HasPrefix(typ, "AWS::IAM::") && typ != "AWS::IAM::Role" || typ == "AWS::IAM::Role" && wantAll[n] == nil {
			errorf("%s: %s that the checks do not know", n, typ)
		}
	}
	for _, role := range slices.Sorted(maps.Keys(wantAll)) {
		want := wantAll[role]
		got := map[string][]string{}
		policies, err := ev.Eval(cfn.Lookup(tpl, "Resources", role, "Properties", "Policies"))
		if err != nil {
			errorf("%s: %v", role, err)
			continue
		}
		if cfn.Lookup(tpl, "Resources", role, "Properties", "ManagedPolicyArns") != nil {
			errorf("%s: ManagedPolicyArns grant more than the pipeline needs", role)
		}
		list, _ := policies.([]any)
		for _, p := range list {
			stmts, _ := cfn.Lookup(p, "PolicyDocument", "Statement").([]any)
			for _, s := range stmts {
				if cfn.Lookup(s, "Effect") != "Allow" {
					errorf("%s: a statement's Effect is %v", role, cfn.Lookup(s, "Effect"))
				}
				for _, k := range []string{"NotAction", "NotResource"} {
					if cfn.Lookup(s, k) != nil {
						errorf("%s: a statement uses %s", role, k)
					}
				}
				actions, err := strings1(cfn.Lookup(s, "Action"))
				if err != nil {
					errorf("%s: Action: %v", role, err)
					continue
				}
				res, err := strings1(cfn.Lookup(s, "Resource"))
				if err != nil {
					errorf("%s: Resource of %v: %v", role, actions, err)
					continue
				}
				for _, a := range actions {
					a = strings.ToLower(a)
					got[a] = append(got[a], res...)
					if c, ok := pipelineConditions[a]; ok {
						op, rest, _ := strings.Cut(c, " ")
						key, val, _ := strings.Cut(rest, "=")
						if v := cfn.Lookup(s, "Condition", op, key); v != val {
							errorf("%s: %s without the condition %s", role, a, c)
						}
					}
				}
			}
		}
		for _, a := range slices.Sorted(maps.Keys(got)) {
			slices.Sort(got[a])
			w := slices.Clone(want[a])
			slices.Sort(w)
			switch {
			case want[a] == nil:
				errorf("%s may call %s, which the pipeline does not need", role, a)
			case !slices.Equal(slices.Compact(got[a]), w):
				errorf("%s may call %s on %v, want %v", role, a, got[a], w)
			}
		}
		for _, a := range slices.Sorted(maps.Keys(want)) {
			if got[a] == nil {
				errorf("%s cannot call %s", role, a)
			}
		}
	}
	return problems
}

// nestedStacks returns the stacks of the pipeline template that template.yaml
// creates for the parameter values and CreatePipelines, by the pipeline they
// create, their parameters evaluated.
func nestedStacks(decoded map[string]any, values map[string]string) (map[string]map[string]string, []string) {
	var problems []string
	tpl, ev, err := expand(decoded, merge(values, createPipelines()))
	if err != nil {
		return nil, []string{"template.yaml: " + err.Error()}
	}
	out := map[string]map[string]string{}
	resources, _ := cfn.Lookup(tpl, "Resources").(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(resources)) {
		r := resources[n]
		if cfn.Lookup(r, "Type") != "AWS::CloudFormation::Stack" || cfn.Lookup(r, "Properties", "TemplateURL") != pipelineTemplate {
			continue
		}
		if c := cfn.Lookup(r, "Condition"); c != "CreatePipelines" {
			problems = append(problems, fmt.Sprintf("template.yaml: %s: Condition %v, want CreatePipelines (the pipelines are optional)", n, c))
		}
		ps, err := ev.Eval(cfn.Lookup(r, "Properties", "Parameters"))
		if err != nil {
			problems = append(problems, fmt.Sprintf("template.yaml: %s: %v", n, err))
			continue
		}
		values := map[string]string{}
		m, _ := ps.(map[string]any)
		for k, v := range m {
			values[k] = fmt.Sprint(v)
		}
		name := values["PipelineName"]
		if out[name] != nil {
			problems = append(problems, fmt.Sprintf("template.yaml: %s: a second stack for pipeline %q", n, name))
		}
		out[name] = values
	}
	return out, problems
}

func merge(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// checkNestedStacks checks the stacks template.yaml creates from the pipeline
// template: one per pipeline of PipelineNames, for a list of any length, each
// given what its PipelineSources entry says, values the pipeline template takes;
// a pipeline without an entry gets values it refuses, not another's.
func checkNestedStacks(decoded, pipeline map[string]any, v params.Values) []string {
	stacks, problems := nestedStacks(decoded, v.Map())
	if len(stacks) == 0 {
		problems = append(problems, "template.yaml: no AWS::CloudFormation::Stack of "+pipelineTemplate)
	}
	_, ev, err := expand(decoded, v.Map())
	if err != nil {
		return append(problems, "template.yaml: "+err.Error())
	}
	if on, err := ev.Condition("CreatePipelines"); err != nil {
		problems = append(problems, fmt.Sprintf("template.yaml: %v", err))
	} else if on {
		problems = append(problems, "template.yaml: CreatePipelines is true by default, want false: the pipelines need a connection and a cluster first")
	}
	for _, p := range slices.Sorted(maps.Keys(stacks)) {
		problems = append(problems, deployParams("template.yaml stack of "+p, pipeline, stacks[p])...)
	}

	// The stacks follow PipelineNames and PipelineSources: other routing
	// files, other pipelines, each once, each with its own entry's values.
	for _, team := range []params.Values{v, pipelines(1, 8), pipelines(30, 40)} {
		stacks, more := nestedStacks(decoded, team.Map())
		problems = append(problems, more...)
		if got := slices.Sorted(maps.Keys(stacks)); !slices.Equal(got, slices.Sorted(slices.Values(team.PipelineNames))) {
			problems = append(problems, fmt.Sprintf("template.yaml: with PipelineNames %v the stacks create %v: want each pipeline of PipelineNames once", team.PipelineNames, got))
			continue
		}
		sources, err := team.Sources()
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, src := range sources {
			want := map[string]string{
				"PipelineName": src.Pipeline, "ServiceName": src.Service, "EcrRepository": src.Service,
				"GitLabProject": src.Project, "BranchName": src.Branch, "SourceAction": src.SourceAction,
				"StagingStage": src.StagingStage, "ProductionStage": src.ProductionStage, "ApprovalAction": src.ApprovalAction,
			}
			for k, w := range want {
				if got := stacks[src.Pipeline][k]; got != w {
					problems = append(problems, fmt.Sprintf("template.yaml: the stack of %s passes %s %q, want %q from its PipelineSources entry %s", src.Pipeline, k, got, w, src))
				}
			}
		}
	}
	// A pipeline without an entry: its stack is refused when it is created,
	// rather than made from another's entry.
	lacking := v
	lacking.PipelineSources = v.PipelineSources[1:]
	stacks, _ = nestedStacks(decoded, lacking.Map())
	if missing := v.PipelineNames[0]; len(deployParams("", pipeline, stacks[missing])) == 0 {
		problems = append(problems, fmt.Sprintf("template.yaml: without a PipelineSources entry, the stack of %s passes %v, which the pipeline template takes", missing, stacks[missing]))
	}
	return problems
}

// checkRouting runs pipegate validate's check of the pipelines template.yaml
// would create against the routing file: each service's, named as it names its
// pipeline, from its project, with the source action, stages and approval
// action it uses.
func checkRouting(in templates) []string {
	cfg, err := routing.Parse(in.routing)
	if err != nil {
		return []string{"routing file: " + err.Error()}
	}
	routes := validate.Routes{Path: "pipegate.yaml", Config: cfg}
	values, c := validate.Params(routes)
	checks := []validate.Check{c}
	if c.OK() {
		checks = validate.Pipelines(routes, values, validate.File{Path: "template.yaml", Data: in.main}, validate.File{Path: pipelineTemplate, Data: in.pipeline})
	}
	var problems []string
	for _, c := range checks {
		for _, p := range c.Problems {
			problems = append(problems, p.String())
		}
	}
	return problems
}

func TestPipelineTemplates(t *testing.T) {
	for _, p := range checkTemplates(t.TempDir(), readTemplates(t)) {
		t.Error(p)
	}
}

// The pipelines follow the routing file: whatever it names, the template
// creates with no edit of its own.
func TestPipelinesFollowTheRoutingFile(t *testing.T) {
	in := readTemplates(t)
	for _, tc := range []struct{ name, old, new string }{
		{"a moved project", "project: acme/core", "project: acme/kernel"},
		{"a renamed pipeline", "pipeline: core-pipeline", "pipeline: core-deploy"},
		{"another approval action", "approval_action: ApproveRelease", "approval_action: Ship"},
		{"another production stage", "stage: Release", "stage: Live"},
		{"another source action", "source_action: Checkout", "source_action: GitLab"},
		{"another branch", "branches: [\"main\"]", "branches: [\"trunk\", \"release/*\"]"},
		{"one more service", "services:\n", "services:\n  - name: ledger\n    project: acme/ledger\n    pipeline: ledger-pipeline\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(in.routing), tc.old) {
				t.Fatalf("the routing file has no %q", tc.old)
			}
			changed := in
			changed.routing = []byte(strings.Replace(string(in.routing), tc.old, tc.new, 1))
			for _, p := range checkTemplates(t.TempDir(), changed) {
				t.Error(p)
			}
		})
	}
}

// TestPipelineChecksCatch breaks a copy of one input each and expects a problem
// that names what broke.
func TestPipelineChecksCatch(t *testing.T) {
	in := readTemplates(t)
	edit := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("the text to replace is not there: %q", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	editAll := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("the text to replace is not there: %q", old)
			}
			return strings.ReplaceAll(s, old, new)
		}
	}
	dropLineWith := func(prefix string) func(string) string {
		return func(s string) string {
			lines := strings.SplitAfter(s, "\n")
			i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
			if i < 0 {
				t.Fatalf("no line starts with %q", prefix)
			}
			return strings.Join(slices.Delete(lines, i, i+1), "")
		}
	}
	tests := []struct {
		name                    string
		main, pipeline, routing func(string) string
		want                    string
	}{
		// The parse and the reference checks.
		{name: "unknown property", pipeline: edit("      PipelineType: V2\n", "      PipelineType: V2\n      Colour: blue\n"), want: "goformation cannot parse"},
		{name: "dangling reference", pipeline: edit("ProjectName: !Ref BuildProject", "ProjectName: !Ref BuildProjekt"), want: "Ref BuildProjekt: no such parameter"},
		{name: "dangling Sub variable", pipeline: edit("repository/${EcrRepository}", "repository/${EcrRepo}"), want: "Ref EcrRepo: no such parameter"},
		{name: "dangling reference in the unused branch", pipeline: edit("!Ref ContainerName]", "!Ref ContainerNam]"), want: "Ref ContainerNam"},
		{name: "dangling condition", pipeline: edit("!If [DeriveContainerName,", "!If [DeriveContainer,"), want: "condition DeriveContainer: no such condition"},
		{name: "wrong attribute", pipeline: edit("RoleArn: !GetAtt PipelineRole.Arn", "RoleArn: !GetAtt PipelineRole.RoleArn"), want: "AWS::IAM::Role has no attribute RoleArn"},
		{name: "wrong attribute in Sub", pipeline: edit(`Resource: !Sub "${ArtifactBucket.Arn}/*"`, `Resource: !Sub "${ArtifactBucket.BucketArn}/*"`), want: "GetAtt ArtifactBucket.BucketArn"},
		{name: "dangling reference in template.yaml", main: edit("            EcsCluster: !Ref EcsCluster\n", "            EcsCluster: !Ref Cluster\n"), want: "template.yaml: corepipelineStack: Ref Cluster"},
		{name: "bad parameter default", pipeline: edit("    Default: 8080\n", "    Default: 80800\n"), want: "parameter ContainerPort: default 80800 is over MaxValue"},
		{name: "default outside its pattern", pipeline: edit("    Default: \"\"\n    AllowedPattern: '^([A-Za-z0-9.@_-]{1,100})?$'", "    Default: \"my pipeline\"\n    AllowedPattern: '^([A-Za-z0-9.@_-]{1,100})?$'"), want: "parameter PipelineName: default \"my pipeline\" does not match"},
		{name: "bad CreatePipelines default", main: edit("    Default: \"false\"\n    AllowedValues: [\"true\", \"false\"]", "    Default: \"no\"\n    AllowedValues: [\"true\", \"false\"]"), want: "parameter CreatePipelines: default \"no\" is not one of"},
		{name: "bad value passed to a pipeline", main: edit("            EcsCluster: !Ref EcsCluster\n", "            EcsCluster: !Ref EcsCluster\n            ContainerPort: \"80800\"\n"), want: "template.yaml stack of core-pipeline: parameter ContainerPort: 80800 is over MaxValue"},
		{name: "unknown parameter passed to a pipeline", main: edit("            EcsCluster: !Ref EcsCluster\n", "            EcsCluster: !Ref EcsCluster\n            Repository: core\n"), want: "parameter Repository is given but not declared"},
		{name: "required parameter not passed", main: dropLineWith("            EcrRepository: "), want: "template.yaml stack of core-pipeline: parameter EcrRepository has no default"},
		{name: "pipelines created by default", main: edit("    Default: \"false\"\n    AllowedValues: [\"true\", \"false\"]", "    Default: \"true\"\n    AllowedValues: [\"true\", \"false\"]"), want: "CreatePipelines is true by default"},
		{name: "pipeline name written out", main: edit("PipelineName: !Ref Name", "PipelineName: core-pipeline"), want: "want each pipeline of PipelineNames once"},
		{name: "one logical ID for every stack", main: edit(`"&{Name}Stack":`, `"PipelinesStack":`), want: "PipelinesStack is made twice"},
		{name: "a field of another entry", main: edit("BranchName: !Select [2, !Split", "BranchName: !Select [1, !Split"), want: `the stack of core-pipeline passes BranchName "acme/core", want "main"`},
		{name: "a pipeline without an entry made from another's", main: editAll(`!Sub ",${Name}|NoPipelineSourcesEntry|-|-|-|-|-|-"`, `",core-pipeline|core|acme/core|main|Source|Staging|Production|ApproveProduction"`), want: "without a PipelineSources entry, the stack of core-pipeline passes"},

		// The pipeline itself.
		{name: "V1 pipeline", pipeline: edit("PipelineType: V2", "PipelineType: V1"), want: "PipelineType V1"},
		{name: "parallel executions", pipeline: edit("ExecutionMode: QUEUED", "ExecutionMode: PARALLEL"), want: "ExecutionMode PARALLEL"},
		{name: "source detects changes", pipeline: edit(`DetectChanges: "false"`, `DetectChanges: "true"`), want: "DetectChanges \"true\""},
		{name: "source on another branch", pipeline: edit("BranchName: !Ref BranchName", "BranchName: develop"), want: `BranchName "develop"`},
		{name: "approval after the deploy", pipeline: edit("                FileName: imagedefinitions.json\n              InputArtifacts:\n                - Name: BuildOutput\n              RunOrder: 2", "                FileName: imagedefinitions.json\n              InputArtifacts:\n                - Name: BuildOutput\n              RunOrder: 1"), want: "the approval must come first"},
		{name: "staging deploys production", pipeline: edit(`!Sub "${ServiceName}-staging", !Ref StagingService]`+"\n                FileName", `!Sub "${ServiceName}-prod", !Ref StagingService]`+"\n                FileName"), want: "QA/DeployStaging ServiceName core-prod"},
		{name: "buildspec without the commit tag", pipeline: edit(`TAG=$(echo "$CODEBUILD_RESOLVED_SOURCE_VERSION" | cut -c1-40)`, `TAG=latest`), want: "lacks CODEBUILD_RESOLVED_SOURCE_VERSION"},
		{name: "public bucket", pipeline: edit("RestrictPublicBuckets: true", "RestrictPublicBuckets: false"), want: "RestrictPublicBuckets is not true"},
		{name: "bucket without TLS policy", pipeline: edit(`aws:SecureTransport: "false"`, `aws:SecureTransport: "true"`), want: "without TLS"},
		{name: "unencrypted bucket", pipeline: edit("              SSEAlgorithm: AES256\n", ""), want: "no default encryption"},

		// IAM: the exact set.
		{name: "ECS wildcard action", pipeline: edit("                  - ecs:ListTasks\n", "                  - ecs:ListTasks\n                  - ecs:*\n"), want: "PipelineRole may call ecs:*"},
		{name: "update any service", pipeline: edit("                  - ecs:DescribeServices\n                  - ecs:UpdateService\n                Resource:\n", "                  - ecs:DescribeServices\n                  - ecs:UpdateService\n                Resource:\n                  - \"*\"\n"), want: "PipelineRole may call ecs:describeservices on [*"},
		{name: "PassRole to any service", pipeline: edit("                    iam:PassedToService: ecs-tasks.amazonaws.com\n", "                    iam:PassedToService: lambda.amazonaws.com\n"), want: "iam:passrole without the condition"},
		{name: "build cannot push", pipeline: edit("                  - ecr:PutImage\n", ""), want: "BuildRole cannot call ecr:putimage"},
		{name: "build pushes anywhere", pipeline: edit("repository/${EcrRepository}", "repository/*"), want: "BuildRole may call ecr:putimage on [arn:aws:ecr:eu-west-1:123456789012:repository/*]"},
		{name: "pipeline without the connection", pipeline: edit("                  - codestar-connections:UseConnection\n", ""), want: "PipelineRole cannot call codestar-connections:useconnection"},

		// The pipelines and the routing file agree (the routing file's side:
		// TestPipelinesFollowTheRoutingFile).
		{name: "renamed production stage", pipeline: edit("        - Name: !Ref ProductionStage\n", "        - Name: Production\n"), want: "no stage Release (stages: Source, Build, QA, Production): service search"},
		{name: "renamed approval action", pipeline: edit("            - Name: !Ref ApprovalAction\n", "            - Name: Approve\n"), want: "stage Production would have no action ApproveProduction (it has Approve, DeployProduction): service core"},
		{name: "renamed source action", pipeline: edit("            - Name: !Ref SourceAction\n", "            - Name: GitLab\n"), want: "the first stage, Source, would have no action Source (it has GitLab): pipegate sets the revision of source action Source of service core"},
		{name: "source repository of its own", pipeline: edit("FullRepositoryId: !Ref GitLabProject", `FullRepositoryId: !Sub "acme/${ServiceName}"`), want: "billingpipelineStack's pipeline would take its source from acme/billing, but service billing"},
		// Review fixes: change-set Rules, retained bucket, the build role's
		// bucket grants, and no second push of a commit's image.
		{name: "no rule for the cluster", main: edit("      - Assert: !Not [!Equals [!Ref EcsCluster, \"\"]]\n        AssertDescription: CreatePipelines=true needs EcsCluster, the ECS cluster that runs the services.\n", ""), want: "CreatePipelines=true with EcsCluster empty passes the Rules"},
		{name: "no rules at all", main: edit("Rules:\n  CreatePipelinesNeedsConnectionAndCluster:", "Metadata:\n  CreatePipelinesNeedsConnectionAndCluster:"), want: "CreatePipelines=true with ConnectionArn empty passes the Rules"},
		{name: "rules without their condition", main: edit("RuleCondition: !Equals [!Ref CreatePipelines, \"true\"]", "RuleCondition: !Equals [!Ref CreatePipelines, \"false\"]"), want: "with the routing file's parameters the Rules refuse the deploy"},
		{name: "rule asserting the opposite", main: edit("!Not [!Equals [!Ref ConnectionArn, \"\"]]", "!Equals [!Ref ConnectionArn, \"\"]"), want: "with CreatePipelines=true and a connection and cluster the Rules refuse"},
		{name: "dangling reference in a rule", main: edit("!Ref EcsCluster, \"\"", "!Ref Cluster, \"\""), want: "rule CreatePipelinesNeedsConnectionAndCluster: Ref Cluster"},
		{name: "bucket deleted with the stack", pipeline: edit("    DeletionPolicy: Retain\n", ""), want: "ArtifactBucket: DeletionPolicy <nil>, want Retain"},
		{name: "bucket replaced without keeping it", pipeline: edit("    UpdateReplacePolicy: Retain\n", ""), want: "ArtifactBucket: UpdateReplacePolicy <nil>, want Retain"},
		{name: "build cannot read the bucket ACL", pipeline: edit("                  - s3:GetBucketAcl\n", ""), want: "BuildRole cannot call s3:getbucketacl"},
		{name: "build cannot locate the bucket", pipeline: edit("                  - s3:GetBucketAcl\n                  - s3:GetBucketLocation\n", "                  - s3:GetBucketAcl\n"), want: "BuildRole cannot call s3:getbucketlocation"},
		{name: "build cannot look for the image", pipeline: edit("                  - ecr:DescribeImages\n", ""), want: "BuildRole cannot call ecr:describeimages"},
		{name: "build pushes the image again", pipeline: edit(`- if aws ecr describe-images --repository-name "$REPOSITORY_NAME" --image-ids imageTag="$TAG" > /dev/null 2>&1; then echo "$REPOSITORY_URI:$TAG is in ECR already, not pushed again"; else docker push "$REPOSITORY_URI:$TAG"; fi`, `- docker push "$REPOSITORY_URI:$TAG"`), want: "although it is in ECR already"},
		{name: "build never pushes", pipeline: edit(`else docker push "$REPOSITORY_URI:$TAG"; fi`, `else echo "$REPOSITORY_URI:$TAG"; fi`), want: "does not push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/core:" + buildCommit},
		{name: "build asks about another repository", pipeline: edit("          - Name: REPOSITORY_NAME\n            Value: !Ref EcrRepository\n", ""), want: "does not ask ECR whether the image is there"},
		{name: "build stops when the image is there", pipeline: edit(`then echo "$REPOSITORY_URI:$TAG is in ECR already, not pushed again";`, `then exit 0;`), want: "imagedefinitions.json with the image in ECR already"},
	}
	if got := checkTemplates(t.TempDir(), in); len(got) != 0 {
		t.Fatalf("the unbroken inputs have problems: %q", got)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			broken := in
			if tc.main != nil {
				broken.main = []byte(tc.main(string(in.main)))
			}
			if tc.pipeline != nil {
				broken.pipeline = []byte(tc.pipeline(string(in.pipeline)))
			}
			if tc.routing != nil {
				broken.routing = []byte(tc.routing(string(in.routing)))
			}
			problems := checkTemplates(t.TempDir(), broken)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("no problem mentions %q; got %q", tc.want, problems)
			}
		})
	}
}
