package validate_test

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/params"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/validate"
)

// The files validate compares: the repository's template.yaml and pipeline
// template (generic: they name no team's project or pipeline), and this
// package's own routing file and samconfig.toml, never the bundled pipegate.yaml.
type inputs struct {
	routing, template, samconfig, pipeline []byte
}

func read(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withParams writes into sc the parameters the routing file makes, as
// `pipegate params --write` does.
func withParams(t *testing.T, sc, routingFile []byte) []byte {
	t.Helper()
	cfg, err := routing.Parse(routingFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := params.FromRouting(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := params.WriteSamconfig(sc, v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func agreeing(t *testing.T) inputs {
	t.Helper()
	in := inputs{
		routing:  read(t, "testdata/routing.yaml"),
		template: read(t, "../../template.yaml"),
		pipeline: read(t, "../../pipelines/service-pipeline.yaml"),
	}
	in.samconfig = withParams(t, read(t, "testdata/samconfig.toml"), in.routing)
	return in
}

// run runs every check as pipegate validate does.
func run(in inputs) []validate.Check {
	cfg, c := validate.Routing(validate.File{Path: "pipegate.yaml", Data: in.routing})
	checks := []validate.Check{c}
	if cfg == nil {
		return checks
	}
	routes := validate.Routes{Path: "pipegate.yaml", Config: cfg}
	values, c := validate.Params(routes)
	checks = append(checks, c)
	if !c.OK() {
		return checks
	}
	tpl := validate.File{Path: "template.yaml", Data: in.template}
	checks = append(checks, validate.Template(routes, values, tpl)...)
	checks = append(checks, validate.Samconfig(routes, values, tpl, validate.File{Path: "samconfig.toml", Data: in.samconfig})...)
	return append(checks, validate.Pipelines(routes, values, tpl, validate.File{Path: "service-pipeline.yaml", Data: in.pipeline})...)
}

func problems(checks []validate.Check) []validate.Problem {
	var out []validate.Problem
	for _, c := range checks {
		out = append(out, c.Problems...)
	}
	return out
}

func skips(checks []validate.Check) []string {
	var out []string
	for _, c := range checks {
		if c.Skip != "" {
			out = append(out, c.Name)
		}
	}
	return out
}

// edit replaces old by new in data once, and fails the test when old is not
// there exactly once, so that a case cannot silently test the unbroken file.
func edit(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	if n := bytes.Count(data, []byte(old)); n != 1 {
		t.Fatalf("%q occurs %d times, want once", old, n)
	}
	return bytes.Replace(data, []byte(old), []byte(new), 1)
}

// lineOf is the 1-based line of the first line of data containing s.
func lineOf(t *testing.T, data []byte, s string) int {
	t.Helper()
	for i, l := range bytes.Split(data, []byte("\n")) {
		if bytes.Contains(l, []byte(s)) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the file", s)
	return 0
}

// lineAfter is the line of the first line containing s after the first
// containing anchor.
func lineAfter(t *testing.T, data []byte, anchor, s string) int {
	t.Helper()
	lines := bytes.Split(data, []byte("\n"))
	start := lineOf(t, data, anchor)
	for i := start; i < len(lines); i++ {
		if bytes.Contains(lines[i], []byte(s)) {
			return i + 1
		}
	}
	t.Fatalf("%q not after %q", s, anchor)
	return 0
}

// want is a problem a broken input must give: where, and words of its message.
type want struct {
	file string
	line int
	msg  string
}

// expect checks that got holds exactly the wanted problems (by file, line and
// message words), no more.
func expect(t *testing.T, got []validate.Problem, wants ...want) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, p := range got {
			if !used[i] && p.File == w.file && p.Line == w.line && strings.Contains(p.Message, w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no problem %s:%d %q in\n%s", w.file, w.line, w.msg, list(got))
		}
	}
	for i, p := range got {
		if !used[i] {
			t.Errorf("unexpected problem %s", p)
		}
	}
}

func list(ps []validate.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	return b.String()
}

func TestAgreeingFilesPass(t *testing.T) {
	checks := run(agreeing(t))
	expect(t, problems(checks))
	// CreatePipelines is not asked for; every other check ran.
	if got := skips(checks); len(got) != 1 || !strings.Contains(got[0], "samconfig.toml has the template create") {
		t.Errorf("skipped %q, want only the CreatePipelines check", got)
	}
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
	}
	for _, w := range []string{
		"service web: webpipelineStack creates web-pipeline from acme/web with source action Source, staging stage Staging and Production/ApproveProduction",
		"service billing: billingpipelineStack creates billing.pipeline from acme/platform with source action Source, staging stage Staging and Production/ApproveRelease",
		"service search: searchpipelineStack creates search-pipeline from acme/platform with source action Checkout, staging stage QA and Release/ApproveProduction",
	} {
		if !slices.Contains(names, w) {
			t.Errorf("no check %q in %q", w, names)
		}
	}
}

// services are the fixture's, each with its routing file line.
func serviceLines(t *testing.T, routingFile []byte) map[string]int {
	out := map[string]int{}
	for _, s := range []string{"web", "billing", "search"} {
		out[s] = lineOf(t, routingFile, "- name: "+s)
	}
	return out
}

var functions = []string{"PipelineEventsFunction", "RetryFunction", "WebhookFunction"}

// manyPipelines is a routing file of n services with long pipeline names.
func manyPipelines(n int) []byte {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: s%02d\n    project: acme/s%02d\n    pipeline: p%02d-%s\n", i, i, i, strings.Repeat("x", 90))
	}
	return []byte(b.String())
}

func TestDisagreements(t *testing.T) {
	base := agreeing(t)
	svc := serviceLines(t, base.routing)
	overridesLine := lineOf(t, base.samconfig, "parameter_overrides")
	for _, tc := range []struct {
		name string
		// Each edits a copy of one or more files; regen writes samconfig.toml's
		// parameters again after the routing file is edited.
		routing, template, samconfig, pipeline func(t *testing.T, b []byte) []byte
		regen                                  bool
		noSamconfig                            bool
		want                                   func(in inputs) []want
	}{
		// The routing file changed, samconfig.toml not.
		{
			name: "a service samconfig.toml lacks",
			routing: func(t *testing.T, b []byte) []byte {
				return append(b, "\n  - name: ledger\n    project: acme/ledger\n    pipeline: ledger-pipeline\n"...)
			},
			want: func(in inputs) []want {
				at := fmt.Sprintf("(pipegate.yaml:%d)", lineOf(t, in.routing, "- name: ledger"))
				return []want{
					{"samconfig.toml", overridesLine, "PipelineNames lacks ledger-pipeline, of service ledger " + at + "; run pipegate params --write"},
					{"samconfig.toml", overridesLine, "ProductionApprovals lacks ledger-pipeline/Production/ApproveProduction, of service ledger " + at},
					{"samconfig.toml", overridesLine, "PipelineSources lacks ledger-pipeline|ledger|acme/ledger|main|Source|Staging|Production|ApproveProduction, of service ledger " + at},
				}
			},
		},
		{
			name: "a project moved: the source of its pipeline",
			routing: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "project: acme/web", "project: acme/website")
			},
			want: func(in inputs) []want {
				return []want{{"samconfig.toml", overridesLine, fmt.Sprintf(
					"PipelineSources has web-pipeline|web|acme/web|main|Source|Staging|Production|ApproveProduction, but service web (pipegate.yaml:%d) makes web-pipeline|web|acme/website|main|", svc["web"])}}
			},
		},
		{
			name: "a service gates another action",
			routing: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "approval_action: ApproveRelease", "approval_action: Ship")
			},
			want: func(in inputs) []want {
				return []want{
					{"samconfig.toml", overridesLine, fmt.Sprintf("ProductionApprovals has billing.pipeline/Production/ApproveRelease, but service billing (pipegate.yaml:%d) makes billing.pipeline/Production/Ship", svc["billing"])},
					{"samconfig.toml", overridesLine, "PipelineSources has billing.pipeline|billing|acme/platform|main|Source|Staging|Production|ApproveRelease, but service billing"},
				}
			},
		},
		{
			name: "a renamed pipeline",
			routing: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "pipeline: web-pipeline", "pipeline: web-deploy")
			},
			want: func(in inputs) []want {
				var w []want
				for _, p := range params.Names {
					w = append(w,
						want{"samconfig.toml", overridesLine, p + " lacks web-deploy"},
						want{"samconfig.toml", overridesLine, p + " has web-pipeline"})
				}
				return w
			},
		},
		{
			name: "a pipeline name CodePipeline refuses",
			routing: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "pipeline: web-pipeline", "pipeline: web pipeline")
			},
			want: func(in inputs) []want {
				return []want{{"pipegate.yaml", svc["web"], `service web (routing file line 7): pipeline "web pipeline": CodePipeline takes`}}
			},
		},
		{
			name:    "more pipelines than the policies and the rule can hold",
			routing: func(*testing.T, []byte) []byte { return manyPipelines(60) },
			regen:   true,
			want: func(in inputs) []want {
				var w []want
				for _, p := range []string{"ApprovePolicy", "ListExecutionsPolicy", "ReadPipelinesPolicy", "StartPipelinePolicy"} {
					w = append(w, want{"template.yaml", lineOf(t, in.template, "  "+p+":"), p + "'s managed policy: "})
				}
				return append(w, want{"template.yaml", lineOf(t, in.template, "  PipelineEventsFunction:"),
					"PipelineEventsFunction's event pattern of StateChanges: "})
			},
		},

		// samconfig.toml on its own.
		{
			name:        "no samconfig.toml",
			noSamconfig: true,
			want: func(inputs) []want {
				return []want{{"samconfig.toml", 0, "no such file: sam deploy would get none of the parameters the routing file makes; run pipegate params --write"}}
			},
		},
		{
			name: "no parameter_overrides",
			samconfig: func(t *testing.T, b []byte) []byte {
				l := bytes.Split(b, []byte("\n"))[overridesLine-1]
				return edit(t, b, string(l)+"\n", "")
			},
			want: func(in inputs) []want {
				return []want{{"samconfig.toml", lineOf(t, in.samconfig, "[default.deploy.parameters]"), "has no parameter_overrides"}}
			},
		},
		{
			name: "pipelines in another order",
			samconfig: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "PipelineNames=web-pipeline,billing.pipeline,", "PipelineNames=billing.pipeline,web-pipeline,")
			},
			want: func(inputs) []want {
				return []want{{"samconfig.toml", overridesLine, "PipelineNames is billing.pipeline,web-pipeline,search-pipeline, not web-pipeline,billing.pipeline,search-pipeline"}}
			},
		},
		{
			name: "capabilities without AUTO_EXPAND",
			samconfig: func(t *testing.T, b []byte) []byte {
				return edit(t, b, `capabilities = "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"`, `capabilities = "CAPABILITY_IAM"`)
			},
			want: func(in inputs) []want {
				return []want{{"samconfig.toml", lineOf(t, in.samconfig, "capabilities ="), fmt.Sprintf(
					"capabilities CAPABILITY_IAM lack CAPABILITY_AUTO_EXPAND, which template.yaml needs (it has transforms (template.yaml:%d) and nested stacks)", lineOf(t, in.template, "Transform:"))}}
			},
		},
		{
			name: "no capabilities at all",
			samconfig: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "capabilities = \"CAPABILITY_IAM CAPABILITY_AUTO_EXPAND\"\n", "")
			},
			want: func(in inputs) []want {
				return []want{{"samconfig.toml", lineOf(t, in.samconfig, "[default.deploy.parameters]"), `no capabilities: sam deploy would fail with InsufficientCapabilities; want capabilities = "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"`}}
			},
		},
		{
			name: "SAM CLI not told to expand the loops",
			samconfig: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "language_extensions = true\n", "")
			},
			want: func(in inputs) []want {
				return []want{{"samconfig.toml", lineOf(t, in.samconfig, "[default.deploy.parameters]"), fmt.Sprintf(
					"no language_extensions = true: sam deploy would not upload the pipeline template of the loop at template.yaml:%d", lineOf(t, in.template, "Fn::ForEach::"))}}
			},
		},
		{
			name:    "CreatePipelines=true with a pipeline the template cannot create",
			routing: func(t *testing.T, _ []byte) []byte { return read(t, "testdata/legacy.yaml") },
			regen:   true,
			samconfig: func(t *testing.T, b []byte) []byte {
				return edit(t, b, `parameter_overrides = "`, `parameter_overrides = "CreatePipelines=true `)
			},
			want: func(in inputs) []want {
				return []want{{"samconfig.toml", lineOf(t, in.samconfig, "parameter_overrides"), fmt.Sprintf(
					"CreatePipelines=true, but pipegate.yaml:%d: service legacy: project 4711 is a numeric id", lineOf(t, in.routing, "- name: legacy"))}}
			},
		},

		// template.yaml.
		{
			name: "a default of its own",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "  PipelineNames:\n    Type: CommaDelimitedList\n", "  PipelineNames:\n    Type: CommaDelimitedList\n    Default: sample-pipeline\n")
			},
			want: func(in inputs) []want {
				return []want{{"template.yaml", lineOf(t, in.template, "Default: sample-pipeline"), "parameter PipelineNames has the default sample-pipeline: a deploy without samconfig.toml's values would use it"}}
			},
		},
		{
			name: "a pattern that refuses a routed name",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "    AllowedPattern: '^[A-Za-z0-9.@_-]{1,100}$'\n    ConstraintDescription: CodePipeline pipeline names",
					"    AllowedPattern: '^[A-Za-z0-9@_-]{1,100}$'\n    ConstraintDescription: CodePipeline pipeline names")
			},
			want: func(in inputs) []want {
				return []want{{"template.yaml", lineOf(t, in.template, "AllowedPattern: '^[A-Za-z0-9@_-]{1,100}$'"),
					fmt.Sprintf(`parameter PipelineNames: AllowedPattern refuses "billing.pipeline", which service billing (pipegate.yaml:%d) makes`, svc["billing"])}}
			},
		},
		{
			name: "a list parameter taken as a String",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "  ProductionApprovals:\n    Type: CommaDelimitedList", "  ProductionApprovals:\n    Type: String")
			},
			want: func(in inputs) []want {
				w := []want{
					{"template.yaml", lineAfter(t, in.template, "  ProductionApprovals:", "Type: String"), "parameter ProductionApprovals is of type String, want CommaDelimitedList"},
					{"template.yaml", 0, "ApprovePolicy: PolicyDocument: Fn::Join of"},
				}
				for _, fn := range functions {
					w = append(w, want{"template.yaml", lineAfter(t, in.template, "  "+fn+":", "Policies:"), fn + ": Fn::Join of"})
				}
				return w
			},
		},
		{
			name: "a project written into the nested stacks",
			template: func(t *testing.T, b []byte) []byte {
				old := string(b[bytes.Index(b, []byte("            GitLabProject: ")):])
				old = old[:strings.Index(old, "\n")+1]
				return edit(t, b, old, "            GitLabProject: acme/web\n")
			},
			want: func(in inputs) []want {
				repo := lineOf(t, in.pipeline, "FullRepositoryId:")
				return []want{
					{"template.yaml", lineOf(t, in.template, "GitLabProject: acme/web"), fmt.Sprintf(`"acme/web" names acme/web, the GitLab project of service web (pipegate.yaml:%d), itself`, svc["web"])},
					{"service-pipeline.yaml", repo, fmt.Sprintf("billingpipelineStack's pipeline would take its source from acme/web, but service billing (pipegate.yaml:%d) is project acme/platform (template.yaml:%d passes GitLabProject)", svc["billing"], lineOf(t, in.template, "GitLabProject: acme/web"))},
					{"service-pipeline.yaml", repo, "searchpipelineStack's pipeline would take its source from acme/web, but service search"},
				}
			},
		},
		{
			name: "a rule on pipelines written out",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "pipeline: !Ref PipelineNames", "pipeline: [web-pipeline]")
			},
			want: func(in inputs) []want {
				at := lineOf(t, in.template, "pipeline: [web-pipeline]")
				return []want{
					{"template.yaml", at, fmt.Sprintf(`"web-pipeline" names web-pipeline, the pipeline of service web (pipegate.yaml:%d), itself`, svc["web"])},
					{"template.yaml", at, fmt.Sprintf("detail.pipeline lacks billing.pipeline, the pipeline of service billing (pipegate.yaml:%d)", svc["billing"])},
					{"template.yaml", at, "detail.pipeline lacks search-pipeline"},
					{"template.yaml", at, "detail.pipeline [web-pipeline] does not follow PipelineNames"},
				}
			},
		},
		{
			name: "a rule without a pipeline filter",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "              detail:\n                pipeline: !Ref PipelineNames\n", "")
			},
			want: func(in inputs) []want {
				return []want{{"template.yaml", lineOf(t, in.template, "            Pattern:"), "does not filter on detail.pipeline"}}
			},
		},
		{
			name: "a rule without action events",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "                - CodePipeline Action Execution State Change\n", "")
			},
			want: func(in inputs) []want {
				return []want{{"template.yaml", lineOf(t, in.template, "- CodePipeline Pipeline Execution State Change"), `detail-type lacks "CodePipeline Action Execution State Change"`}}
			},
		},
		{
			name: "no EventBridge rule",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "Type: EventBridgeRule", "Type: CloudWatchEvent")
			},
			want: func(in inputs) []want {
				return []want{{"template.yaml", lineOf(t, in.template, "        StateChanges:") - 1, "has no EventBridgeRule event"}}
			},
		},
		{
			name: "no POST /webhook",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "Path: /webhook", "Path: /hook")
			},
			want: func(in inputs) []want {
				return []want{{"template.yaml", lineOf(t, in.template, "Resources:"), "no function has an HttpApi (or Api) event for POST /webhook"}}
			},
		},
		{
			name: "the webhook may no longer start pipelines",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "      Policies:\n        - !Ref StartPipelinePolicy\n        # A merge request hook", "      Policies:\n        # A merge request hook")
			},
			want: func(in inputs) []want {
				at := lineAfter(t, in.template, "  WebhookFunction:", "Policies:")
				var w []want
				for _, s := range []string{"web-pipeline", "billing.pipeline", "search-pipeline"} {
					w = append(w, want{"template.yaml", at, "WebhookFunction may not call codepipeline:StartPipelineExecution on arn:aws:codepipeline:eu-west-1:123456789012:" + s + ", which service"})
				}
				return w
			},
		},
		{
			name: "approvals granted on the pipelines, not their approval actions",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "!Ref ProductionApprovals]]]]", "!Ref PipelineNames]]]]")
			},
			want: func(in inputs) []want {
				var w []want
				for _, fn := range functions {
					at := lineAfter(t, in.template, "  "+fn+":", "Policies:")
					for _, a := range []string{"web-pipeline/Production/ApproveProduction", "billing.pipeline/Production/ApproveRelease", "search-pipeline/Release/ApproveProduction"} {
						w = append(w, want{"template.yaml", at, fn + " may not call codepipeline:PutApprovalResult on arn:aws:codepipeline:eu-west-1:123456789012:" + a})
					}
				}
				return w
			},
		},
		{
			name: "a grant in another region than the stack's",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "            Action: codepipeline:StartPipelineExecution\n            Resource: !Split [\",\", !Join [\"\", [\"arn:*:codepipeline:*:*:\"",
					"            Action: codepipeline:StartPipelineExecution\n            Resource: !Split [\",\", !Join [\"\", [\"arn:*:codepipeline:us-east-1:*:\"")
			},
			want: func(in inputs) []want {
				var w []want
				for _, fn := range functions {
					w = append(w, want{"template.yaml", lineAfter(t, in.template, "  "+fn+":", "Policies:"), fn + " may not call codepipeline:StartPipelineExecution on arn:aws:codepipeline:eu-west-1:123456789012:web-pipeline"})
				}
				return w
			},
		},
		{
			name: "a template that is not YAML",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "      FailOnWarnings: true\n", "      FailOnWarnings: true: false\n")
			},
			want: func(in inputs) []want {
				return []want{{"template.yaml", lineOf(t, in.template, "FailOnWarnings: true: false"), "mapping values are not allowed"}}
			},
		},

		// The nested stacks and the pipeline template.
		{
			name: "the nested stacks pass another field as the branch",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "BranchName: !Select [2, !Split", "BranchName: !Select [1, !Split")
			},
			want: func(in inputs) []want {
				at := lineOf(t, in.pipeline, "BranchName: !Ref BranchName")
				return []want{
					{"service-pipeline.yaml", at, fmt.Sprintf("webpipelineStack's source would be branch acme/web, which service web (pipegate.yaml:%d) does not deploy (branches [main])", svc["web"])},
					{"service-pipeline.yaml", at, "billingpipelineStack's source would be branch acme/platform"},
					{"service-pipeline.yaml", at, "searchpipelineStack's source would be branch acme/platform"},
				}
			},
		},
		{
			name: "a production stage named in the pipeline template",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "        - Name: !Ref ProductionStage\n", "        - Name: Production\n")
			},
			want: func(in inputs) []want {
				return []want{{"service-pipeline.yaml", lineOf(t, in.pipeline, "      Stages:"), fmt.Sprintf(
					"no stage Release (stages: Source, Build, QA, Production): service search (pipegate.yaml:%d) gates its production approval there", svc["search"])}}
			},
		},
		{
			name: "a source action named in the pipeline template",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "            - Name: !Ref SourceAction\n", "            - Name: Source\n")
			},
			want: func(in inputs) []want {
				return []want{{"service-pipeline.yaml", lineOf(t, in.pipeline, "        - Name: Source"), fmt.Sprintf(
					"the first stage, Source, would have no action Checkout (it has Source): pipegate sets the revision of source action Checkout of service search (pipegate.yaml:%d)", svc["search"])}}
			},
		},
		{
			name: "a staging stage named in the pipeline template",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "        - Name: !Ref StagingStage\n", "        - Name: Staging\n")
			},
			want: func(in inputs) []want {
				return []want{{"service-pipeline.yaml", lineOf(t, in.pipeline, "      Stages:"), "no stage QA (stages: Source, Build, Staging, Release): service search"}}
			},
		},
		{
			name: "an approval that is no Approval",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "Category: Approval", "Category: Invoke")
			},
			want: func(in inputs) []want {
				at := lineOf(t, in.pipeline, "- Name: !Ref ApprovalAction")
				return []want{
					{"service-pipeline.yaml", at, "action Production/ApproveProduction is of category Invoke, not Approval"},
					{"service-pipeline.yaml", at, "action Production/ApproveRelease is of category Invoke, not Approval"},
					{"service-pipeline.yaml", at, "action Release/ApproveProduction is of category Invoke, not Approval"},
				}
			},
		},
		{
			name: "the source repository derived from the service name",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "FullRepositoryId: !Ref GitLabProject", `FullRepositoryId: !Sub "acme/${ServiceName}"`)
			},
			want: func(in inputs) []want {
				at := lineOf(t, in.pipeline, "FullRepositoryId:")
				return []want{
					{"service-pipeline.yaml", at, fmt.Sprintf("billingpipelineStack's pipeline would take its source from acme/billing, but service billing (pipegate.yaml:%d) is project acme/platform", svc["billing"])},
					{"service-pipeline.yaml", at, "searchpipelineStack's pipeline would take its source from acme/search, but service search"},
				}
			},
		},
		{
			name: "the pipeline named after the service",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, `Name: !If [DerivePipelineName, !Sub "${ServiceName}-pipeline", !Ref PipelineName]`, `Name: !Sub "${ServiceName}-pipeline"`)
			},
			want: func(in inputs) []want {
				return []want{{"service-pipeline.yaml", lineOf(t, in.pipeline, `Name: !Sub "${ServiceName}-pipeline"`), fmt.Sprintf(
					"billingpipelineStack's pipeline would be named billing-pipeline, but service billing (pipegate.yaml:%d) routes to billing.pipeline (template.yaml:%d passes PipelineName)",
					svc["billing"], lineOf(t, in.template, "PipelineName: !Ref Name"))}}
			},
		},
		{
			name: "a branch of its own in the pipeline template",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "BranchName: !Ref BranchName", "BranchName: develop")
			},
			want: func(in inputs) []want {
				at := lineOf(t, in.pipeline, "BranchName: develop")
				var w []want
				for _, s := range []string{"web", "billing", "search"} {
					w = append(w, want{"service-pipeline.yaml", at, "source would be branch develop, which service " + s})
				}
				return w
			},
		},
		{
			name: "a pipeline template that refuses what the stacks pass",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "    AllowedPattern: '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$'", "    AllowedPattern: '^acme/web$'")
			},
			want: func(in inputs) []want {
				at := lineOf(t, in.template, "            GitLabProject: ")
				pat := lineOf(t, in.pipeline, "AllowedPattern: '^acme/web$'")
				return []want{
					{"template.yaml", at, fmt.Sprintf(`billingpipelineStack passes GitLabProject "acme/platform", which the pipeline template's AllowedPattern (service-pipeline.yaml:%d) refuses`, pat)},
					{"template.yaml", at, `searchpipelineStack passes GitLabProject "acme/platform"`},
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			if tc.routing != nil {
				in.routing = tc.routing(t, in.routing)
			}
			if tc.regen {
				in.samconfig = withParams(t, read(t, "testdata/samconfig.toml"), in.routing)
			}
			if tc.samconfig != nil {
				in.samconfig = tc.samconfig(t, in.samconfig)
			}
			if tc.noSamconfig {
				in.samconfig = nil
			}
			if tc.template != nil {
				in.template = tc.template(t, in.template)
			}
			if tc.pipeline != nil {
				in.pipeline = tc.pipeline(t, in.pipeline)
			}
			expect(t, problems(run(in)), tc.want(in)...)
		})
	}
}

func TestPipelinesWithoutNestedStacks(t *testing.T) {
	in := agreeing(t)
	start := bytes.Index(in.template, []byte("  Fn::ForEach::ServicePipelines:\n"))
	end := bytes.Index(in.template, []byte("\nOutputs:\n"))
	if start < 0 || end < start {
		t.Fatal("template.yaml: the nested stacks' loop not found")
	}
	tpl := append(append([]byte{}, in.template[:start]...), in.template[end:]...)
	cfg, _ := validate.Routing(validate.File{Path: "pipegate.yaml", Data: in.routing})
	routes := validate.Routes{Path: "pipegate.yaml", Config: cfg}
	values, _ := validate.Params(routes)
	checks := validate.Pipelines(routes, values, validate.File{Path: "template.yaml", Data: tpl}, validate.File{})
	if len(checks) != 1 || checks[0].Skip == "" || !checks[0].OK() {
		t.Fatalf("checks %+v, want one skipped", checks)
	}
	if got := validate.PipelineTemplate(tpl); got != "" {
		t.Errorf("PipelineTemplate = %q, want none", got)
	}
	if got := validate.PipelineTemplate(in.template); got != "pipelines/service-pipeline.yaml" {
		t.Errorf("PipelineTemplate = %q", got)
	}

	// With stacks but no pipeline template to read, that is the problem.
	checks = validate.Pipelines(routes, values, validate.File{Path: "template.yaml", Data: in.template}, validate.File{})
	expect(t, problems(checks), want{"template.yaml", lineOf(t, in.template, "Type: AWS::CloudFormation::Stack"), `template.yaml creates pipelines from "pipelines/service-pipeline.yaml", but no pipeline template was given`})
}

// A service whose pipeline the template cannot create is skipped, saying why.
func TestPipelinesSkipsWhatCannotBeCreated(t *testing.T) {
	in := agreeing(t)
	in.routing = read(t, "testdata/legacy.yaml")
	in.samconfig = withParams(t, read(t, "testdata/samconfig.toml"), in.routing)
	checks := run(in)
	expect(t, problems(checks))
	got := skips(checks)
	if !slices.ContainsFunc(got, func(s string) bool { return s == "service legacy's pipeline" }) {
		t.Errorf("skipped %q, want service legacy's pipeline", got)
	}
}

func TestNarrow(t *testing.T) {
	cond := map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": "eu-west-1", "aws:ResourceAccount": "123456789012"}}
	for _, tc := range []struct {
		in   []string
		cond any
		want []string
	}{
		{[]string{"arn:*:codepipeline:*:*:p", "arn:*:codepipeline:*:*:p/S/A"}, cond,
			[]string{"arn:aws:codepipeline:eu-west-1:123456789012:p", "arn:aws:codepipeline:eu-west-1:123456789012:p/S/A"}},
		// Without a condition the wildcards stay (but the partition's, which
		// is the caller's own).
		{[]string{"arn:*:codepipeline:*:*:p"}, nil, []string{"arn:aws:codepipeline:*:*:p"}},
		// A region the ARN names is not replaced; a list of regions gives one
		// ARN each.
		{[]string{"arn:aws:codepipeline:us-east-1:*:p"}, cond, []string{"arn:aws:codepipeline:us-east-1:123456789012:p"}},
		{[]string{"arn:aws:codepipeline:*:1:p"}, map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": []any{"a", "b"}}},
			[]string{"arn:aws:codepipeline:a:1:p", "arn:aws:codepipeline:b:1:p"}},
		{[]string{"*", "{GetAtt:Table.Arn}"}, cond, []string{"*", "{GetAtt:Table.Arn}"}},
	} {
		if got := validate.Narrow(tc.in, tc.cond); !slices.Equal(got, tc.want) {
			t.Errorf("Narrow(%q, %v) = %q, want %q", tc.in, tc.cond, got, tc.want)
		}
	}
}

func TestRouting(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		line       int
	}{
		{"syntax error", "services:\n  - name: core\n    project: acme/core\n    pipeline: core: pipeline\n", 4},
		{"unknown field", "services:\n  - name: core\n    project: acme/core\n    pipline: core-pipeline\n", 4},
		{"two services on one pipeline", "services:\n  - name: a\n    project: acme/a\n    pipeline: p\n  - name: b\n    project: acme/b\n    pipeline: p\n", 5},
		{"empty", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, c := validate.Routing(validate.File{Path: "r.yaml", Data: []byte(tc.data)})
			if cfg != nil {
				t.Fatal("parsed")
			}
			// The routing package words the error; the problem carries its line.
			if len(c.Problems) != 1 || c.Problems[0].File != "r.yaml" || c.Problems[0].Line != tc.line {
				t.Fatalf("problems %v, want one at r.yaml:%d", c.Problems, tc.line)
			}
			if p := c.Problems[0].String(); tc.line > 0 && !strings.HasPrefix(p, fmt.Sprintf("r.yaml:%d: ", tc.line)) {
				t.Errorf("problem prints as %q", p)
			}
		})
	}
	cfg, c := validate.Routing(validate.File{Path: "r.yaml", Data: []byte("services:\n  - name: a\n    project: acme/a\n    pipeline: p\n")})
	if cfg == nil || !c.OK() || c.Name != "routing file r.yaml parses: 1 services" {
		t.Errorf("good file: %v %+v", cfg, c)
	}
}
