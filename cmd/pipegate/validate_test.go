package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runValidate(getenv func(string) string, args ...string) (string, error) {
	var out bytes.Buffer
	err := validateCmd(args, getenv, &out, &out)
	return out.String(), err
}

// teamCopy lays out a team's repository in a directory: the repository's
// template.yaml and pipeline template, testdata/team.yaml as its pipegate.yaml,
// and a samconfig.toml that pipegate params --write filled in. Never the
// bundled pipegate.yaml.
func teamCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for dst, src := range map[string]string{
		"template.yaml":                   "../../template.yaml",
		"pipelines/service-pipeline.yaml": "../../pipelines/service-pipeline.yaml",
		"pipegate.yaml":                   "testdata/team.yaml",
		"samconfig.toml":                  "testdata/samconfig.toml",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeBytes(t, filepath.Join(dir, dst), b)
	}
	if err := paramsCmd([]string{"--routing", filepath.Join(dir, "pipegate.yaml"), "--samconfig", filepath.Join(dir, "samconfig.toml"), "--write"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeBytes(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// breakFile replaces old by new once in one file of dir and returns the line
// of new.
func breakFile(t *testing.T, dir, file, old, new string) int {
	t.Helper()
	p := filepath.Join(dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(b, []byte(old)) != 1 {
		t.Fatalf("%s: %q occurs %d times, want once", file, old, bytes.Count(b, []byte(old)))
	}
	b = bytes.Replace(b, []byte(old), []byte(new), 1)
	writeBytes(t, p, b)
	return bytes.Count(b[:bytes.Index(b, []byte(new))], []byte("\n")) + 1
}

// The files agree once pipegate params --write has filled in samconfig.toml,
// and validate finds them next to the template.
func TestValidateAgreeing(t *testing.T) {
	dir := teamCopy(t)
	tpl := filepath.Join(dir, "template.yaml")
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		args   []string
	}{
		{"next to the template", noEnv, []string{"--template", tpl}},
		{"named", noEnv, []string{"--template", tpl, "--routing", filepath.Join(dir, "pipegate.yaml"), "--samconfig", filepath.Join(dir, "samconfig.toml"),
			"--pipelines", filepath.Join(dir, "pipelines/service-pipeline.yaml")}},
		// PIPEGATE_CONFIG is for local runs: the deployed routing file is the
		// one sam build bundles, next to the template.
		{"PIPEGATE_CONFIG is not read", envOf("PIPEGATE_CONFIG", "testdata/broken.yaml"), []string{"--template", tpl}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runValidate(tc.getenv, tc.args...)
			if err != nil {
				t.Fatalf("validate: %v\n%s", err, out)
			}
			checkOutput(t, out, []string{
				"ok       routing file " + filepath.Join(dir, "pipegate.yaml") + " parses: 3 services\n",
				"ok       template.yaml takes PipelineNames, ProductionApprovals, PipelineSources as the routing file makes them\n",
				"ok       PipelineEventsFunction's EventBridge rule takes the CodePipeline events of every routed pipeline, and of no other\n",
				"ok       each function may call CodePipeline on every routed pipeline\n",
				"ok       " + filepath.Join(dir, "samconfig.toml") + "'s parameter_overrides are what " + filepath.Join(dir, "pipegate.yaml") + " makes\n",
				"ok       service billing: billingpipelineStack creates billing-pipeline from acme/platform with source action Source, staging stage Staging and Production/ApproveRelease\n",
				"validate: no problems\n",
			}, []string{"problem  "})
		})
	}
}

func TestValidateBrokenCopies(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new string
		want                 func(dir string, line int) []string
	}{
		{
			name: "a project moved in the routing file", file: "pipegate.yaml",
			old: "project: acme/web", new: "project: acme/website",
			want: func(dir string, line int) []string {
				sc := filepath.Join(dir, "samconfig.toml")
				return []string{fmt.Sprintf("problem  %s:%d: PipelineSources has web-pipeline|web|acme/web|main|Source|Staging|Production|ApproveProduction, but service web (%s:%d) makes web-pipeline|web|acme/website|",
					sc, lineIn(t, sc, "parameter_overrides"), filepath.Join(dir, "pipegate.yaml"), line-1), "run pipegate params --write"}
			},
		},
		{
			name: "capabilities without AUTO_EXPAND", file: "samconfig.toml",
			old: `capabilities = "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"`, new: `capabilities = "CAPABILITY_IAM"`,
			want: func(dir string, line int) []string {
				return []string{fmt.Sprintf("problem  %s/samconfig.toml:%d: capabilities CAPABILITY_IAM lack CAPABILITY_AUTO_EXPAND", dir, line)}
			},
		},
		{
			name: "a rule not following PipelineNames", file: "template.yaml",
			old: "pipeline: !Ref PipelineNames", new: "pipeline: [web-pipeline]",
			want: func(dir string, line int) []string {
				return []string{fmt.Sprintf("problem  %s/template.yaml:%d: PipelineEventsFunction event StateChanges: detail.pipeline lacks billing-pipeline", dir, line)}
			},
		},
		{
			name: "a production stage written into the pipeline template", file: "pipelines/service-pipeline.yaml",
			old: "        - Name: !Ref ProductionStage\n", new: "        - Name: Prod\n",
			want: func(dir string, _ int) []string {
				return []string{fmt.Sprintf("problem  %s/pipelines/service-pipeline.yaml:", dir), "no stage Production (stages: Source, Build, Staging, Prod): service search"}
			},
		},
		{
			name: "a routing file with a syntax error", file: "pipegate.yaml",
			old: "    pipeline: web-pipeline\n", new: "    pipeline: web: pipeline\n",
			want: func(dir string, line int) []string {
				return []string{fmt.Sprintf("problem  %s/pipegate.yaml:%d: ", dir, line)}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := teamCopy(t)
			line := breakFile(t, dir, tc.file, tc.old, tc.new)
			out, err := runValidate(noEnv, "--template", filepath.Join(dir, "template.yaml"))
			if err == nil || !strings.Contains(err.Error(), "problem(s)") {
				t.Errorf("error %v, want problems\n%s", err, out)
			}
			checkOutput(t, out, tc.want(dir, line), []string{"validate: no problems"})
		})
	}
}

func lineIn(t *testing.T, file, s string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s: no %q", file, s)
	return 0
}

func TestValidateRefuses(t *testing.T) {
	dir := teamCopy(t)
	tpl := filepath.Join(dir, "template.yaml")
	if err := os.Remove(filepath.Join(dir, "samconfig.toml")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // in the output, else in the error
	}{
		{"no samconfig.toml", []string{"--template", tpl}, "problem  " + filepath.Join(dir, "samconfig.toml") + ": no such file: sam deploy would get none of the parameters"},
		{"a missing template", []string{"--template", "testdata/none.yaml", "--routing", "testdata/team.yaml"}, "problem  testdata/none.yaml: read testdata/none.yaml"},
		{"a missing pipeline template", []string{"--template", tpl, "--pipelines", "testdata/none.yaml"}, "problem  testdata/none.yaml: read testdata/none.yaml"},
		{"a missing routing file", []string{"--template", "testdata/template.yaml"}, "read testdata/pipegate.yaml"},
		{"an unknown flag", []string{"--templates", "x"}, "unknown flag --templates"},
		{"an argument", []string{"template.yaml"}, `unexpected argument "template.yaml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runValidate(noEnv, tc.args...)
			if err == nil {
				t.Fatalf("no error\n%s", out)
			}
			if !strings.Contains(out, tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("neither output nor error (%v) has %q\n%s", err, tc.want, out)
			}
		})
	}
}
