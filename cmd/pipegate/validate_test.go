package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runValidate(getenv func(string) string, args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"validate"}, args...), getenv, &out, &out)
	return out.String(), err
}

// The repository's own files pass, however the pipeline template is found.
func TestValidateRepository(t *testing.T) {
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		args   []string
		source string
	}{
		{"bundled routing file", noEnv, []string{"--template", "../../template.yaml", "--pipelines", "../../pipelines/service-pipeline.yaml"}, "bundled pipegate.yaml"},
		{"the pipeline template next to the template", noEnv, []string{"--template", "../../template.yaml"}, "bundled pipegate.yaml"},
		{"--routing", noEnv, []string{"--routing", "../../pipegate.yaml", "-template=../../template.yaml"}, "../../pipegate.yaml"},
		{"PIPEGATE_CONFIG", envOf("PIPEGATE_CONFIG", "../../pipegate.yaml"), []string{"--template", "../../template.yaml"}, "../../pipegate.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runValidate(tc.getenv, tc.args...)
			if err != nil {
				t.Fatalf("validate: %v\n%s", err, out)
			}
			checkOutput(t, out, []string{
				"ok       routing file " + tc.source + " parses: 4 services\n",
				"ok       PipelineNames names every routed pipeline (at most 20)\n",
				"ok       PipelineEventsFunction's EventBridge rule takes the CodePipeline events of PipelineNames\n",
				"ok       ProductionApproval is every service's production stage/approval_action\n",
				"ok       WebhookFunction answers POST /webhook (event Webhook)\n",
				"ok       service core: CorePipeline creates core-pipeline with source action Source and Production/ApproveProduction\n",
				"validate: no problems\n",
			}, []string{"problem  ", "skip     "})
		})
	}
}

// brokenCopy copies the repository's template.yaml, the pipeline template next to
// it and the routing file into a directory, with one of them changed.
func brokenCopy(t *testing.T, file, old, new string) (dir string, line int) {
	t.Helper()
	dir = t.TempDir()
	for _, f := range []string{"template.yaml", "pipelines/service-pipeline.yaml", "pipegate.yaml"} {
		b, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == file {
			if bytes.Count(b, []byte(old)) != 1 {
				t.Fatalf("%s: %q occurs %d times, want once", f, old, bytes.Count(b, []byte(old)))
			}
			b = bytes.Replace(b, []byte(old), []byte(new), 1)
			line = bytes.Count(b[:bytes.Index(b, []byte(new))], []byte("\n")) + 1
		}
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, line
}

func TestValidateBrokenCopies(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new string
		want                 func(dir string, line int) []string
	}{
		{
			name: "a missing pipeline name", file: "template.yaml",
			old: "Default: api-gateway-pipeline,auth-pipeline,core-pipeline,files-pipeline",
			new: "Default: api-gateway-pipeline,auth-pipeline,files-pipeline",
			want: func(dir string, line int) []string {
				return []string{fmt.Sprintf("problem  %s/template.yaml:%d: PipelineNames's default does not name core-pipeline, the pipeline of service core (%s/pipegate.yaml:", dir, line, dir)}
			},
		},
		{
			name: "a wrong ProductionApproval", file: "template.yaml",
			old: "Default: Production/ApproveProduction", new: "Default: Production/Approve",
			want: func(dir string, line int) []string {
				return []string{fmt.Sprintf(`problem  %s/template.yaml:%d: ProductionApproval's default is "Production/Approve", but service core`, dir, line)}
			},
		},
		{
			name: "a rule not filtering on PipelineNames", file: "template.yaml",
			old: `pipeline: !Split [",", !Ref PipelineNames]`, new: "pipeline: [core-pipeline]",
			want: func(dir string, line int) []string {
				return []string{fmt.Sprintf("problem  %s/template.yaml:%d: PipelineEventsFunction event StateChanges: detail.pipeline is [core-pipeline]", dir, line)}
			},
		},
		{
			name: "a renamed stage in the pipeline template", file: "pipelines/service-pipeline.yaml",
			old: "        - Name: Production\n", new: "        - Name: Prod\n",
			want: func(dir string, _ int) []string {
				return []string{fmt.Sprintf("problem  %s/pipelines/service-pipeline.yaml:", dir), "no stage Production (stages: Source, Build, Staging, Prod): service files"}
			},
		},
		{
			name: "a routing file with a syntax error", file: "pipegate.yaml",
			old: "    pipeline: auth-pipeline\n", new: "    pipeline: auth: pipeline\n",
			want: func(dir string, line int) []string {
				return []string{fmt.Sprintf("problem  %s/pipegate.yaml:%d: routing file: yaml: line %d: mapping values are not allowed", dir, line, line)}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, line := brokenCopy(t, tc.file, tc.old, tc.new)
			out, err := runValidate(noEnv, "--template", filepath.Join(dir, "template.yaml"), "--routing", filepath.Join(dir, "pipegate.yaml"))
			if err == nil || !strings.Contains(err.Error(), "problem(s)") {
				t.Errorf("error %v, want problems\n%s", err, out)
			}
			checkOutput(t, out, tc.want(dir, line), []string{"validate: no problems"})
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		args   []string
		want   string // in the output, else in the error
	}{
		{"the bundled routing file, broken by PIPEGATE_CONFIG", envOf("PIPEGATE_CONFIG", "testdata/broken.yaml"), []string{"--template", "../../template.yaml"},
			"problem  testdata/broken.yaml:4: routing file: line 4: field pipline not found in services[0] (core); did you mean pipeline?"},
		{"a missing template", noEnv, []string{"--template", "testdata/none.yaml"}, "problem  testdata/none.yaml: read testdata/none.yaml"},
		{"a missing pipeline template", noEnv, []string{"--template", "../../template.yaml", "--pipelines", "testdata/none.yaml"}, "problem  testdata/none.yaml: read testdata/none.yaml"},
		{"a missing routing file", noEnv, []string{"--routing", "testdata/none.yaml"}, "read testdata/none.yaml"},
		{"an unknown flag", noEnv, []string{"--templates", "x"}, "unknown flag --templates"},
		{"an argument", noEnv, []string{"template.yaml"}, `unexpected argument "template.yaml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runValidate(tc.getenv, tc.args...)
			if err == nil {
				t.Fatalf("no error\n%s", out)
			}
			if !strings.Contains(out, tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("neither output nor error (%v) has %q\n%s", err, tc.want, out)
			}
		})
	}
}
