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

	"github.com/awslabs/goformation/v7"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/routing"
)

const pipelineTemplate = "pipelines/service-pipeline.yaml"

// pipelineParams are the values the standalone checks deploy the pipeline
// template with: the required parameters, the others at their defaults.
func pipelineParams() map[string]string {
	return map[string]string{
		"ServiceName":   "core",
		"GitLabProject": "ic/core",
		"ConnectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:connection/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
		"EcrRepository": "core",
		"EcsCluster":    "ic",
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
		svc     = "arn:aws:ecs:eu-west-1:123456789012:service/ic/"
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
	routing  []byte // pipegate.yaml
}

func readTemplates(t *testing.T) templates {
	t.Helper()
	var in templates
	for _, f := range []struct {
		dst  *[]byte
		path string
	}{{&in.main, "template.yaml"}, {&in.pipeline, pipelineTemplate}, {&in.routing, "pipegate.yaml"}} {
		data, err := os.ReadFile(filepath.Join(root, f.path))
		if err != nil {
			t.Fatal(err)
		}
		*f.dst = data
	}
	return in
}

// parse runs goformation on a copy of a template and reads it with yaml.v3.
func parse(dir, name string, data []byte) (map[string]any, error) {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return nil, err
	}
	if _, err := goformation.Open(path); err != nil {
		return nil, fmt.Errorf("%s: goformation cannot parse it: %w", name, err)
	}
	raw, err := cfn.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return raw, nil
}

// checkTemplates runs every check of this file; dir is a scratch directory.
func checkTemplates(dir string, in templates) []string {
	var problems []string
	main, err := parse(dir, "template.yaml", in.main)
	if err != nil {
		return []string{err.Error()}
	}
	pipeline, err := parse(dir, "service-pipeline.yaml", in.pipeline)
	if err != nil {
		return []string{err.Error()}
	}
	problems = append(problems, checkRefs("template.yaml", main)...)
	problems = append(problems, checkRefs(pipelineTemplate, pipeline)...)
	problems = append(problems, checkDefaults("template.yaml", main)...)
	problems = append(problems, checkDefaults(pipelineTemplate, pipeline)...)
	problems = append(problems, checkPipeline(pipeline)...)
	problems = append(problems, checkNestedStacks(main, pipeline)...)
	problems = append(problems, checkRules(main, pipeline)...)
	problems = append(problems, checkRouting(in.routing, main, pipeline)...)
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
	if want := []string{"Source", "Build", "Staging", "Production"}; !slices.Equal(stages, want) {
		errorf("stages %v, want %v", stages, want)
	}
	want := map[string]string{ // stage/action -> category/provider
		"Source/Source":                "Source/CodeStarSourceConnection",
		"Build/Build":                  "Build/CodeBuild",
		"Staging/DeployStaging":        "Deploy/ECS",
		"Production/ApproveProduction": "Approval/Manual",
		"Production/DeployProduction":  "Deploy/ECS",
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
	p := pipelineParams()
	for key, v := range map[string]string{
		"ConnectionArn":        p["ConnectionArn"],
		"FullRepositoryId":     p["GitLabProject"],
		"BranchName":           "main",
		"DetectChanges":        "false", // pipegate starts it
		"OutputArtifactFormat": "CODE_ZIP",
	} {
		if got := fmt.Sprint(config("Source/Source", key)); got != v {
			errorf("Source action %s %q, want %q", key, got, v)
		}
	}
	if v := config("Build/Build", "ProjectName"); v != "{Ref:BuildProject}" {
		errorf("Build action ProjectName %v, want !Ref BuildProject", v)
	}
	for k, svc := range map[string]string{"Staging/DeployStaging": "core-staging", "Production/DeployProduction": "core-prod"} {
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
	if a, d := got["Production/ApproveProduction"], got["Production/DeployProduction"]; a.RunOrder != 1 || d.RunOrder <= a.RunOrder {
		errorf("Production runs ApproveProduction at %d and DeployProduction at %d: the approval must come first", a.RunOrder, d.RunOrder)
	}
	// Overridden service names replace the derived ones.
	if ev2, err := cfn.NewEvaluator(tpl, map[string]string{"ServiceName": "core", "GitLabProject": "ic/core", "ConnectionArn": p["ConnectionArn"], "EcrRepository": "core", "EcsCluster": "ic", "ProductionService": "core-live"}); err == nil {
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

// nestedStacks returns template.yaml's stacks of the pipeline template by the
// service they deploy, their parameters evaluated with CreatePipelines.
func nestedStacks(main map[string]any) (map[string]map[string]string, []string) {
	var problems []string
	ev, err := cfn.NewEvaluator(main, createPipelines())
	if err != nil {
		return nil, []string{err.Error()}
	}
	out := map[string]map[string]string{}
	resources, _ := cfn.Lookup(main, "Resources").(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(resources)) {
		r := resources[n]
		if cfn.Lookup(r, "Type") != "AWS::CloudFormation::Stack" || cfn.Lookup(r, "Properties", "TemplateURL") != pipelineTemplate {
			continue
		}
		if c := cfn.Lookup(r, "Condition"); c != "CreatePipelines" {
			problems = append(problems, fmt.Sprintf("template.yaml: %s: Condition %v, want CreatePipelines (the pipelines are optional)", n, c))
		}
		params, err := ev.Eval(cfn.Lookup(r, "Properties", "Parameters"))
		if err != nil {
			problems = append(problems, fmt.Sprintf("template.yaml: %s: %v", n, err))
			continue
		}
		values := map[string]string{}
		m, _ := params.(map[string]any)
		for k, v := range m {
			values[k] = fmt.Sprint(v)
		}
		svc := values["ServiceName"]
		if out[svc] != nil {
			problems = append(problems, fmt.Sprintf("template.yaml: %s: a second pipeline for service %q", n, svc))
		}
		out[svc] = values
	}
	return out, problems
}

// checkNestedStacks checks the values template.yaml passes to the pipeline
// template, and that each pipeline's name comes from PipelineNames.
func checkNestedStacks(main, pipeline map[string]any) []string {
	stacks, problems := nestedStacks(main)
	if len(stacks) == 0 {
		problems = append(problems, "template.yaml: no AWS::CloudFormation::Stack of "+pipelineTemplate)
	}
	if on, err := mustEvaluator(main, nil).Condition("CreatePipelines"); err != nil {
		problems = append(problems, fmt.Sprintf("template.yaml: %v", err))
	} else if on {
		problems = append(problems, "template.yaml: CreatePipelines is true by default, want false: the pipelines need a connection and a cluster first")
	}
	for _, svc := range slices.Sorted(maps.Keys(stacks)) {
		problems = append(problems, deployParams("template.yaml stack of "+svc, pipeline, stacks[svc])...)
	}
	// The names follow PipelineNames: other names there, other pipelines.
	renamed := createPipelines()
	renamed["PipelineNames"] = "a-pipeline,b-pipeline,c-pipeline,d-pipeline,e-pipeline"
	ev, err := cfn.NewEvaluator(main, renamed)
	if err != nil {
		return append(problems, err.Error())
	}
	var names []string
	resources, _ := cfn.Lookup(main, "Resources").(map[string]any)
	for _, n := range slices.Sorted(maps.Keys(resources)) {
		if cfn.Lookup(resources[n], "Properties", "TemplateURL") != pipelineTemplate {
			continue
		}
		v, err := ev.Eval(cfn.Lookup(resources[n], "Properties", "Parameters", "PipelineName"))
		if err != nil {
			problems = append(problems, fmt.Sprintf("template.yaml: %s: PipelineName: %v", n, err))
			continue
		}
		names = append(names, fmt.Sprint(v))
	}
	for _, n := range names {
		if !strings.HasSuffix(n, "-pipeline") || len(n) != len("a-pipeline") {
			problems = append(problems, fmt.Sprintf("template.yaml: with PipelineNames %s a nested stack's PipelineName is %q: the pipeline names must come from PipelineNames", renamed["PipelineNames"], n))
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(names)))) != len(names) {
		problems = append(problems, fmt.Sprintf("template.yaml: two nested stacks take the same PipelineNames position: %v", names))
	}
	return problems
}

func mustEvaluator(tpl map[string]any, overrides map[string]string) *cfn.Evaluator {
	ev, err := cfn.NewEvaluator(tpl, overrides)
	if err != nil {
		return &cfn.Evaluator{}
	}
	return ev
}

// checkRouting checks that every service of the routing file has a pipeline in
// template.yaml whose name, project, source action, production stage and
// approval action are the ones the routing file uses.
func checkRouting(routingFile []byte, main, pipeline map[string]any) []string {
	cfg, err := routing.Parse(routingFile)
	if err != nil {
		return []string{"pipegate.yaml: " + err.Error()}
	}
	stacks, problems := nestedStacks(main)
	for _, s := range cfg.Services {
		values, ok := stacks[s.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("pipegate.yaml service %s: template.yaml creates no pipeline for it", s.Name))
			continue
		}
		if values["GitLabProject"] != s.Project {
			problems = append(problems, fmt.Sprintf("pipegate.yaml service %s: project %s, but its pipeline's source is GitLabProject %s", s.Name, s.Project, values["GitLabProject"]))
		}
		ev, err := cfn.NewEvaluator(pipeline, values)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		name, _, actions, err := pipelineActions(pipeline, ev)
		if err != nil {
			problems = append(problems, fmt.Sprintf("pipegate.yaml service %s: %v", s.Name, err))
			continue
		}
		if name != s.Pipeline {
			problems = append(problems, fmt.Sprintf("pipegate.yaml service %s: pipeline %s, but template.yaml names its pipeline %s", s.Name, s.Pipeline, name))
		}
		find := func(stage, act, category string) (action, bool) {
			i := slices.IndexFunc(actions, func(a action) bool {
				return (stage == "" || a.Stage == stage) && a.Name == act && a.Category == category
			})
			if i < 0 {
				return action{}, false
			}
			return actions[i], true
		}
		if _, ok := find("", s.SourceAction, "Source"); !ok {
			problems = append(problems, fmt.Sprintf("pipegate.yaml service %s: source action %s, which %s has no Source action of that name", s.Name, s.SourceAction, name))
		}
		approve, ok := find(s.Production.Stage, s.Production.ApprovalAction, "Approval")
		if !ok {
			problems = append(problems, fmt.Sprintf("pipegate.yaml service %s: production %s/%s, which %s has no approval action of that stage and name", s.Name, s.Production.Stage, s.Production.ApprovalAction, name))
			continue
		}
		if !slices.ContainsFunc(actions, func(a action) bool {
			return a.Stage == approve.Stage && a.Category == "Deploy" && a.RunOrder > approve.RunOrder
		}) {
			problems = append(problems, fmt.Sprintf("pipegate.yaml service %s: %s/%s gates no deploy after it in %s", s.Name, s.Production.Stage, s.Production.ApprovalAction, name))
		}
	}
	return problems
}

func TestPipelineTemplates(t *testing.T) {
	for _, p := range checkTemplates(t.TempDir(), readTemplates(t)) {
		t.Error(p)
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
		{name: "dangling reference in template.yaml", main: edit("        EcsCluster: !Ref EcsCluster\n", "        EcsCluster: !Ref Cluster\n"), want: "template.yaml: ApiGatewayPipeline: Ref Cluster"},
		{name: "bad parameter default", pipeline: edit("    Default: 8080\n", "    Default: 80800\n"), want: "parameter ContainerPort: default 80800 is over MaxValue"},
		{name: "default outside its pattern", pipeline: edit("    Default: \"\"\n    AllowedPattern: '^([A-Za-z0-9.@_-]{1,100})?$'", "    Default: \"my pipeline\"\n    AllowedPattern: '^([A-Za-z0-9.@_-]{1,100})?$'"), want: "parameter PipelineName: default \"my pipeline\" does not match"},
		{name: "bad CreatePipelines default", main: edit("    Default: \"false\"\n    AllowedValues: [\"true\", \"false\"]", "    Default: \"no\"\n    AllowedValues: [\"true\", \"false\"]"), want: "parameter CreatePipelines: default \"no\" is not one of"},
		{name: "bad value passed to a pipeline", main: edit("GitLabProject: ic/auth", "GitLabProject: auth"), want: "template.yaml stack of auth: parameter GitLabProject: \"auth\" does not match"},
		{name: "unknown parameter passed to a pipeline", main: edit("        EcrRepository: core\n", "        EcrRepository: core\n        Repository: core\n"), want: "parameter Repository is given but not declared"},
		{name: "required parameter not passed", main: edit("        EcrRepository: files\n", ""), want: "template.yaml stack of files: parameter EcrRepository has no default"},
		{name: "pipelines created by default", main: edit("    Default: \"false\"\n    AllowedValues: [\"true\", \"false\"]", "    Default: \"true\"\n    AllowedValues: [\"true\", \"false\"]"), want: "CreatePipelines is true by default"},
		{name: "pipeline name written out", main: edit(`PipelineName: !Select [2, !Split [",", !Sub ["${N},${N},${N},${N}", {N: !Ref PipelineNames}]]]`, "PipelineName: core-pipeline"), want: "PipelineName is \"core-pipeline\""},
		{name: "two pipelines at one position", main: edit(`PipelineName: !Select [3,`, `PipelineName: !Select [2,`), want: "same PipelineNames position"},

		// The pipeline itself.
		{name: "V1 pipeline", pipeline: edit("PipelineType: V2", "PipelineType: V1"), want: "PipelineType V1"},
		{name: "parallel executions", pipeline: edit("ExecutionMode: QUEUED", "ExecutionMode: PARALLEL"), want: "ExecutionMode PARALLEL"},
		{name: "source detects changes", pipeline: edit(`DetectChanges: "false"`, `DetectChanges: "true"`), want: "DetectChanges \"true\""},
		{name: "source on another branch", pipeline: edit("BranchName: main", "BranchName: develop"), want: "BranchName \"develop\""},
		{name: "approval after the deploy", pipeline: edit("                FileName: imagedefinitions.json\n              InputArtifacts:\n                - Name: BuildOutput\n              RunOrder: 2", "                FileName: imagedefinitions.json\n              InputArtifacts:\n                - Name: BuildOutput\n              RunOrder: 1"), want: "the approval must come first"},
		{name: "staging deploys production", pipeline: edit(`!Sub "${ServiceName}-staging", !Ref StagingService]`+"\n                FileName", `!Sub "${ServiceName}-prod", !Ref StagingService]`+"\n                FileName"), want: "Staging/DeployStaging ServiceName core-prod"},
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

		// The routing file and the pipelines agree: a mismatch from either side.
		{name: "renamed Production stage", pipeline: edit("        - Name: Production\n", "        - Name: Release\n"), want: "pipegate.yaml service core: production Production/ApproveProduction, which core-pipeline has no approval action"},
		{name: "renamed approval action", pipeline: edit("            - Name: ApproveProduction\n", "            - Name: Approve\n"), want: "no approval action of that stage and name"},
		{name: "renamed source action", pipeline: edit("            - Name: Source\n", "            - Name: Checkout\n"), want: "source action Source, which core-pipeline has no Source action"},
		{name: "routing file names another source action", routing: edit("source_action: Source ", "source_action: GitLab "), want: "pipegate.yaml service auth: source action GitLab"},
		{name: "routing file names another stage", routing: edit("    stage: Production ", "    stage: Prod "), want: "production Prod/ApproveProduction"},
		{name: "one service gates another action", routing: edit("    pipeline: files-pipeline\n", "    pipeline: files-pipeline\n    production:\n      approval_action: ApproveRelease\n"), want: "pipegate.yaml service files: production Production/ApproveRelease"},
		{name: "routing file renames a pipeline", routing: edit("pipeline: core-pipeline", "pipeline: core-deploy"), want: "pipegate.yaml service core: pipeline core-deploy, but template.yaml names its pipeline core-pipeline"},
		{name: "routing file moves a project", routing: edit("project: ic/auth", "project: platform/auth"), want: "project platform/auth, but its pipeline's source is GitLabProject ic/auth"},
		{name: "service without a pipeline", routing: edit("services:\n", "services:\n  - name: billing\n    project: ic/billing\n    pipeline: billing-pipeline\n"), want: "service billing: template.yaml creates no pipeline"},
		// Review fixes: change-set Rules, retained bucket, the build role's
		// bucket grants, and no second push of a commit's image.
		{name: "no rule for the cluster", main: edit("      - Assert: !Not [!Equals [!Ref EcsCluster, \"\"]]\n        AssertDescription: CreatePipelines=true needs EcsCluster, the ECS cluster that runs the services.\n", ""), want: "CreatePipelines=true with EcsCluster empty passes the Rules"},
		{name: "no rules at all", main: edit("Rules:\n  CreatePipelinesNeedsConnectionAndCluster:", "Metadata:\n  CreatePipelinesNeedsConnectionAndCluster:"), want: "CreatePipelines=true with ConnectionArn empty passes the Rules"},
		{name: "rules without their condition", main: edit("RuleCondition: !Equals [!Ref CreatePipelines, \"true\"]", "RuleCondition: !Equals [!Ref CreatePipelines, \"false\"]"), want: "with the parameter defaults the Rules refuse the deploy"},
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
		{name: "PipelineNames out of service order", main: edit("Default: api-gateway-pipeline,auth-pipeline,core-pipeline,files-pipeline", "Default: auth-pipeline,api-gateway-pipeline,core-pipeline,files-pipeline"), want: "pipegate.yaml service api-gateway: pipeline api-gateway-pipeline, but template.yaml names its pipeline auth-pipeline"},
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
