package validate_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/validate"
)

// The repository's own files: every broken case is a copy of them with one thing changed.
type repo struct {
	routing, template, pipeline []byte
}

func readRepo(t *testing.T) repo {
	t.Helper()
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return repo{
		routing:  read("../../pipegate.yaml"),
		template: read("../../template.yaml"),
		pipeline: read("../../pipelines/service-pipeline.yaml"),
	}
}

// edit replaces old by new in data once, and fails the test when old is not
// there, so that a case cannot silently test the unbroken file.
func edit(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	if bytes.Count(data, []byte(old)) != 1 {
		t.Fatalf("%q occurs %d times, want once", old, bytes.Count(data, []byte(old)))
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

func routes(t *testing.T, data []byte) validate.Routes {
	t.Helper()
	cfg, c := validate.Routing(validate.File{Path: "pipegate.yaml", Data: data})
	if cfg == nil {
		t.Fatalf("routing file: %v", c.Problems)
	}
	return validate.Routes{Path: "pipegate.yaml", Config: cfg}
}

func problems(checks []validate.Check) []validate.Problem {
	var out []validate.Problem
	for _, c := range checks {
		out = append(out, c.Problems...)
	}
	return out
}

// routedPipelines are the routing file's pipelines, in its order.
func routedPipelines(t *testing.T, routing []byte) []string {
	var out []string
	for _, svc := range routes(t, routing).Config.Services {
		out = append(out, svc.Pipeline)
	}
	return out
}

func TestRepositoryPasses(t *testing.T) {
	r := readRepo(t)
	rt := routes(t, r.routing)
	tpl := validate.File{Path: "template.yaml", Data: r.template}
	checks := append(validate.Template(rt, tpl), validate.Pipelines(rt, tpl, validate.File{Path: "service-pipeline.yaml", Data: r.pipeline})...)
	for _, c := range checks {
		if !c.OK() || c.Skip != "" {
			t.Errorf("%s: skip %q, problems %v", c.Name, c.Skip, c.Problems)
		}
	}
	// One check per service's pipeline, besides the template's five and "every
	// created pipeline is routed".
	if want := 5 + 1 + len(rt.Config.Services); len(checks) != want {
		t.Errorf("%d checks, want %d", len(checks), want)
	}
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

func TestTemplate(t *testing.T) {
	r := readRepo(t)
	const names = "Default: api-gateway-pipeline,auth-pipeline,core-pipeline,files-pipeline"
	const rule = `pipeline: !Split [",", !Ref PipelineNames]`
	var many []string
	for i := range 21 {
		many = append(many, fmt.Sprintf("p%02d", i))
	}
	for _, tc := range []struct {
		name     string
		template func(t *testing.T, b []byte) []byte
		routing  func(t *testing.T, b []byte) []byte
		want     func(tpl, routing []byte) []want
	}{
		{
			name: "a routed pipeline missing from PipelineNames",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, names, "Default: api-gateway-pipeline,auth-pipeline,files-pipeline")
			},
			want: func(tpl, routing []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "Default: api-gateway-pipeline"),
					fmt.Sprintf("does not name core-pipeline, the pipeline of service core (pipegate.yaml:%d)", lineOf(t, routing, "- name: core"))}}
			},
		},
		{
			name: "more than 20 pipelines",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, names, "Default: api-gateway-pipeline,auth-pipeline,core-pipeline,files-pipeline,"+strings.Join(many, ","))
			},
			want: func(tpl, _ []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "Default: api-gateway-pipeline"), "names 25 pipelines, but the policies grant only 20"}}
			},
		},
		{
			name: "a routing file with a service PipelineNames lacks",
			routing: func(t *testing.T, b []byte) []byte {
				return append(b, "\n  - name: ledger\n    project: ic/platform\n    pipeline: ledger-pipeline\n"...)
			},
			want: func(tpl, routing []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "Default: api-gateway-pipeline"),
					fmt.Sprintf("does not name ledger-pipeline, the pipeline of service ledger (pipegate.yaml:%d)", lineOf(t, routing, "- name: ledger"))}}
			},
		},
		{
			name: "a wrong ProductionApproval",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "Default: Production/ApproveProduction", "Default: Production/Approve")
			},
			want: func(tpl, routing []byte) []want {
				var w []want
				for _, s := range []string{"api-gateway", "auth", "core", "files"} {
					w = append(w, want{"template.yaml", lineOf(t, tpl, "Default: Production/Approve"),
						fmt.Sprintf(`default is "Production/Approve", but service %s (pipegate.yaml:%d) gates Production/ApproveProduction`, s, lineOf(t, routing, "- name: "+s))})
				}
				return w
			},
		},
		{
			name: "a service that gates another stage",
			routing: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "    pipeline: files-pipeline\n", "    pipeline: files-pipeline\n    production: {stage: Prod}\n")
			},
			want: func(tpl, routing []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "Default: Production/ApproveProduction"),
					fmt.Sprintf("service files (pipegate.yaml:%d) gates Prod/ApproveProduction", lineOf(t, routing, "- name: files"))}}
			},
		},
		{
			name: "a rule not filtering on PipelineNames",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, rule, "pipeline: [core-pipeline]")
			},
			want: func(tpl, _ []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "pipeline: [core-pipeline]"), `detail.pipeline is [core-pipeline], not !Split [",", !Ref PipelineNames]`}}
			},
		},
		{
			name: "a rule splitting another parameter",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, rule, `pipeline: !Split [",", !Ref GitLabUrl]`)
			},
			want: func(tpl, _ []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "!Ref GitLabUrl]"), `detail.pipeline is !Split [",", !Ref GitLabUrl]`}}
			},
		},
		{
			name: "a rule without a pipeline filter",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "              detail:\n                "+rule+"\n", "")
			},
			want: func(tpl, _ []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "            Pattern:"), "does not filter on detail.pipeline"}}
			},
		},
		{
			name: "a rule without action events",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "                - CodePipeline Action Execution State Change\n", "")
			},
			want: func(tpl, _ []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "- CodePipeline Pipeline Execution State Change"), `detail-type lacks "CodePipeline Action Execution State Change"`}}
			},
		},
		{
			name: "no EventBridge rule",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "Type: EventBridgeRule", "Type: CloudWatchEvent")
			},
			want: func(tpl, _ []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "        StateChanges:") - 1, "has no EventBridgeRule event"}}
			},
		},
		{
			name: "no POST /webhook",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "Path: /webhook", "Path: /hook")
			},
			want: func(tpl, _ []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "Resources:"), "no function has an HttpApi (or Api) event for POST /webhook"}}
			},
		},
		{
			name: "a webhook on payload format 1.0",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "Path: /webhook\n            PayloadFormatVersion: \"2.0\"", "Path: /webhook\n            PayloadFormatVersion: \"1.0\"")
			},
			want: func(tpl, _ []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, `PayloadFormatVersion: "1.0"`), `PayloadFormatVersion "1.0", want "2.0"`}}
			},
		},
		{
			name: "no PipelineNames parameter",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "  PipelineNames:\n", "  PipelineNamez:\n")
			},
			want: func(tpl, _ []byte) []want {
				// The rule still splits !Ref PipelineNames, which the template check
				// does not resolve: a dangling !Ref is internal/deploy's to find.
				return []want{{"template.yaml", lineOf(t, tpl, "Parameters:"), "no PipelineNames parameter"}}
			},
		},
		{
			name: "the long form of the rule's Split",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, rule, `pipeline: {"Fn::Split": [",", {"Ref": "PipelineNames"}]}`)
			},
			want: func(_, _ []byte) []want { return nil },
		},
		{
			name: "the webhook may no longer start pipelines",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "Action: codepipeline:StartPipelineExecution", "Action: codepipeline:ListPipelines")
			},
			want: func(_, routing []byte) []want {
				var ws []want
				for _, fn := range []string{"PipelineEventsFunction", "RetryFunction", "WebhookFunction"} {
					for _, p := range routedPipelines(t, routing) {
						ws = append(ws, want{"template.yaml", 0, fn + " may not call codepipeline:StartPipelineExecution on arn:aws:codepipeline:eu-west-1:123456789012:" + p + " "})
					}
				}
				return ws
			},
		},
		{
			name: "approvals granted on the pipelines, not their approval action",
			template: func(t *testing.T, b []byte) []byte {
				return bytes.ReplaceAll(b, []byte("${Name}/${ProductionApproval}"), []byte("${Name}"))
			},
			want: func(_, routing []byte) []want {
				var ws []want
				for _, fn := range []string{"PipelineEventsFunction", "RetryFunction", "WebhookFunction"} {
					for _, p := range routedPipelines(t, routing) {
						ws = append(ws, want{"template.yaml", 0, fn + " may not call codepipeline:PutApprovalResult on arn:aws:codepipeline:eu-west-1:123456789012:" + p + "/Production/ApproveProduction"})
					}
				}
				return ws
			},
		},
		{
			name: "a template that is not YAML",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "      FailOnWarnings: true\n", "      FailOnWarnings: true: false\n")
			},
			want: func(tpl, _ []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "FailOnWarnings: true: false"), "mapping values are not allowed"}}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl, routing := r.template, r.routing
			if tc.template != nil {
				tpl = tc.template(t, tpl)
			}
			if tc.routing != nil {
				routing = tc.routing(t, routing)
			}
			got := problems(validate.Template(routes(t, routing), validate.File{Path: "template.yaml", Data: tpl}))
			expect(t, got, tc.want(tpl, routing)...)
		})
	}
}

func TestPipelines(t *testing.T) {
	r := readRepo(t)
	services := []string{"api-gateway", "auth", "core", "files"}
	perService := func(file string, line int, msg func(svc string) string) []want {
		var w []want
		for _, s := range services {
			w = append(w, want{file, line, msg(s)})
		}
		return w
	}
	for _, tc := range []struct {
		name               string
		template, pipeline func(t *testing.T, b []byte) []byte
		routing            func(t *testing.T, b []byte) []byte
		want               func(tpl, pipeline, routing []byte) []want
		skips              []string // services whose pipeline is not checked
	}{
		{
			name: "a renamed production stage",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "        - Name: Production\n", "        - Name: Prod\n")
			},
			want: func(_, pipeline, routing []byte) []want {
				return perService("service-pipeline.yaml", lineOf(t, pipeline, "      Stages:"), func(s string) string {
					return fmt.Sprintf("no stage Production (stages: Source, Build, Staging, Prod): service %s (pipegate.yaml:%d)", s, lineOf(t, routing, "- name: "+s))
				})
			},
		},
		{
			name: "a renamed approval action",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "- Name: ApproveProduction", "- Name: Approve")
			},
			want: func(_, pipeline, _ []byte) []want {
				return perService("service-pipeline.yaml", lineOf(t, pipeline, "- Name: Production"), func(string) string {
					return "stage Production has no action ApproveProduction (it has Approve, DeployProduction)"
				})
			},
		},
		{
			name: "an approval that is no Approval",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "Category: Approval", "Category: Invoke")
			},
			want: func(_, pipeline, _ []byte) []want {
				return perService("service-pipeline.yaml", lineOf(t, pipeline, "- Name: ApproveProduction"), func(string) string {
					return "action Production/ApproveProduction is of category Invoke, not Approval"
				})
			},
		},
		{
			name: "a renamed source action",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "            - Name: Source\n", "            - Name: GitLab\n")
			},
			want: func(_, pipeline, _ []byte) []want {
				return perService("service-pipeline.yaml", lineOf(t, pipeline, "- Name: Source"), func(string) string {
					return "the first stage, Source, has no action Source (it has GitLab)"
				})
			},
		},
		{
			name: "a routing file naming another source action",
			routing: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "source_action: Source", "source_action: Checkout")
			},
			want: func(_, pipeline, _ []byte) []want {
				return perService("service-pipeline.yaml", lineOf(t, pipeline, "- Name: Source"), func(s string) string {
					return "has no action Checkout (it has Source): pipegate sets the revision of source action Checkout of service " + s
				})
			},
		},
		{
			name: "a stage name written with !Sub",
			pipeline: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "        - Name: Production\n", "        - Name: !Sub \"${ServiceName}-Production\"\n")
			},
			want: func(_, pipeline, _ []byte) []want {
				return perService("service-pipeline.yaml", lineOf(t, pipeline, "      Stages:"), func(s string) string {
					return fmt.Sprintf("no stage Production (stages: Source, Build, Staging, %s-Production)", s)
				})
			},
		},
		{
			name: "pipelines named out of order",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "Default: api-gateway-pipeline,auth-pipeline,", "Default: auth-pipeline,api-gateway-pipeline,")
			},
			want: func(tpl, _, routing []byte) []want {
				first := lineOf(t, tpl, "PipelineName: !Select [0,")
				second := lineOf(t, tpl, "PipelineName: !Select [1,")
				return []want{
					{"template.yaml", first, fmt.Sprintf("ApiGatewayPipeline's pipeline is named auth-pipeline, but service api-gateway (pipegate.yaml:%d) routes to api-gateway-pipeline", lineOf(t, routing, "- name: api-gateway"))},
					{"template.yaml", second, "AuthPipeline's pipeline is named api-gateway-pipeline, but service auth"},
				}
			},
		},
		{
			name: "a nested stack for a service the routing file lacks",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "ServiceName: files", "ServiceName: storage")
			},
			want: func(tpl, _, _ []byte) []want {
				return []want{{"template.yaml", lineOf(t, tpl, "ServiceName: storage"), "FilesPipeline creates the pipeline of service storage, which pipegate.yaml does not route"}}
			},
			skips: []string{"files"},
		},
		{
			name: "a parameter the template cannot evaluate",
			template: func(t *testing.T, b []byte) []byte {
				return edit(t, b, "ServiceName: core\n        PipelineName: !Select [2,", "ServiceName: core\n        PipelineName: !Select [99,")
			},
			want: func(tpl, _, _ []byte) []want {
				return []want{
					{"template.yaml", lineOf(t, tpl, "PipelineName: !Select [99,"), "CorePipeline parameter PipelineName: cannot evaluate"},
					// Without it, the pipeline template names the pipeline core-pipeline itself.
				}
			},
		},
		{
			name: "a routed service no nested stack creates",
			routing: func(t *testing.T, b []byte) []byte {
				return append(b, "\n  - name: ledger\n    project: ic/platform\n    pipeline: ledger-pipeline\n"...)
			},
			want:  func(_, _, _ []byte) []want { return nil },
			skips: []string{"ledger"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl, pipeline, routing := r.template, r.pipeline, r.routing
			if tc.template != nil {
				tpl = tc.template(t, tpl)
			}
			if tc.pipeline != nil {
				pipeline = tc.pipeline(t, pipeline)
			}
			if tc.routing != nil {
				routing = tc.routing(t, routing)
			}
			checks := validate.Pipelines(routes(t, routing), validate.File{Path: "template.yaml", Data: tpl},
				validate.File{Path: "service-pipeline.yaml", Data: pipeline})
			expect(t, problems(checks), tc.want(tpl, pipeline, routing)...)
			var skipped []string
			for _, c := range checks {
				if c.Skip != "" {
					skipped = append(skipped, c.Name)
				}
			}
			if len(skipped) != len(tc.skips) {
				t.Errorf("skipped %q, want the pipelines of %q", skipped, tc.skips)
			}
			for i, s := range tc.skips {
				if i < len(skipped) && !strings.Contains(skipped[i], "service "+s+"'s") {
					t.Errorf("skipped %q, want service %s's", skipped[i], s)
				}
			}
		})
	}
}

func TestPipelinesWithoutNestedStacks(t *testing.T) {
	r := readRepo(t)
	start := bytes.Index(r.template, []byte("  ApiGatewayPipeline:\n"))
	end := bytes.Index(r.template, []byte("\nOutputs:\n"))
	if start < 0 || end < start {
		t.Fatal("template.yaml: nested stacks not found")
	}
	tpl := append(append([]byte{}, r.template[:start]...), r.template[end:]...)
	checks := validate.Pipelines(routes(t, r.routing), validate.File{Path: "template.yaml", Data: tpl}, validate.File{})
	if len(checks) != 1 || checks[0].Skip == "" || !checks[0].OK() {
		t.Fatalf("checks %+v, want one skipped", checks)
	}
	stacks, err := validate.Stacks(tpl)
	if err != nil || len(stacks) != 0 {
		t.Errorf("Stacks = %v, %v; want none", stacks, err)
	}

	// With stacks but no pipeline template to read, that is the problem.
	checks = validate.Pipelines(routes(t, r.routing), validate.File{Path: "template.yaml", Data: r.template}, validate.File{})
	expect(t, problems(checks), want{"template.yaml", lineOf(t, r.template, "  ApiGatewayPipeline:"), `ApiGatewayPipeline creates pipelines from "pipelines/service-pipeline.yaml", but no pipeline template was given`})
}

func TestStacks(t *testing.T) {
	r := readRepo(t)
	stacks, err := validate.Stacks(r.template)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range stacks {
		got = append(got, fmt.Sprintf("%s:%d %s %s", s.Resource, s.Line, s.Service, s.TemplateURL))
	}
	var want []string
	for _, s := range []struct{ res, svc string }{{"ApiGatewayPipeline", "api-gateway"}, {"AuthPipeline", "auth"}, {"CorePipeline", "core"}, {"FilesPipeline", "files"}} {
		want = append(want, fmt.Sprintf("%s:%d %s pipelines/service-pipeline.yaml", s.res, lineOf(t, r.template, "  "+s.res+":"), s.svc))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Stacks:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRouting(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		line       int
		msg        string
	}{
		{"syntax error", "services:\n  - name: core\n    project: ic/core\n    pipeline: core: pipeline\n", 4, "mapping values are not allowed"},
		{"unknown field", "services:\n  - name: core\n    project: ic/core\n    pipline: core-pipeline\n", 4, "field pipline not found"},
		{"two services on one pipeline", "services:\n  - name: a\n    project: ic/a\n    pipeline: p\n  - name: b\n    project: ic/b\n    pipeline: p\n", 5, `pipeline "p" is already used by the service at line 2`},
		{"empty", "", 0, "routing file is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, c := validate.Routing(validate.File{Path: "r.yaml", Data: []byte(tc.data)})
			if cfg != nil {
				t.Fatal("parsed")
			}
			expect(t, c.Problems, want{"r.yaml", tc.line, tc.msg})
			if p := c.Problems[0].String(); tc.line > 0 && !strings.HasPrefix(p, fmt.Sprintf("r.yaml:%d: ", tc.line)) {
				t.Errorf("problem prints as %q", p)
			}
		})
	}
	cfg, c := validate.Routing(validate.File{Path: "r.yaml", Data: []byte("services:\n  - name: a\n    project: ic/a\n    pipeline: p\n")})
	if cfg == nil || !c.OK() || c.Name != "routing file r.yaml parses: 1 services" {
		t.Errorf("good file: %v %+v", cfg, c)
	}
}
