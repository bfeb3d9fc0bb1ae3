package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const teamOverrides = `parameter_overrides = "PipelineNames=web-pipeline,billing-pipeline,search-pipeline ` +
	`ProductionApprovals=web-pipeline/Production/ApproveProduction,billing-pipeline/Production/ApproveRelease,search-pipeline/Production/ApproveProduction ` +
	`PipelineSources=web-pipeline|web|acme/web|main|Source|Staging|Production|ApproveProduction,` +
	`billing-pipeline|billing|acme/platform|main|Source|Staging|Production|ApproveRelease,` +
	`search-pipeline|search|acme/platform|main|Source|Staging|Production|ApproveProduction"`

func runParams(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errs bytes.Buffer
	err = paramsCmd(args, &out, &errs)
	return out.String(), errs.String(), err
}

func TestParamsPrints(t *testing.T) {
	out, errs, err := runParams(t, "--routing", "testdata/team.yaml", "--samconfig", filepath.Join(t.TempDir(), "none.toml"))
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	if out != teamOverrides+"\n" {
		t.Errorf("printed\n%s\nwant\n%s", out, teamOverrides)
	}
	if errs != "" {
		t.Errorf("stderr %q, want nothing", errs)
	}
}

// The printed line is the one --write would write: with the team's own
// overrides kept.
func TestParamsPrintsWhatItWouldWrite(t *testing.T) {
	sc := filepath.Join(t.TempDir(), "samconfig.toml")
	if err := os.WriteFile(sc, []byte("[default.deploy.parameters]\nparameter_overrides = \"LogLevel=debug\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runParams(t, "--routing", "testdata/team.yaml", "--samconfig", sc)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(teamOverrides, `= "`, `= "LogLevel=debug `, 1) + "\n"; out != want {
		t.Errorf("printed\n%s\nwant\n%s", out, want)
	}
}

func TestParamsWrite(t *testing.T) {
	dir := t.TempDir()
	sc := filepath.Join(dir, "samconfig.toml")
	const before = "version = 0.1\n\n[default.deploy.parameters]\ncapabilities = \"CAPABILITY_IAM CAPABILITY_AUTO_EXPAND\"\nparameter_overrides = \"PipelineNames=stale\"\n\n[default.local_invoke.parameters]\nenv_vars = \"events/env.json\"\n"
	if err := os.WriteFile(sc, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runParams(t, "--routing", "testdata/team.yaml", "--samconfig", sc, "--write")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, sc+": parameter_overrides updated") {
		t.Errorf("output %q", out)
	}
	got, err := os.ReadFile(sc)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(before, `parameter_overrides = "PipelineNames=stale"`, teamOverrides, 1); string(got) != want {
		t.Errorf("wrote\n%s\nwant\n%s", got, want)
	}
	out, _, err = runParams(t, "--routing", "testdata/team.yaml", "--samconfig", sc, "--write")
	if err != nil || !strings.Contains(out, sc+": parameter_overrides already up to date") {
		t.Errorf("second write: %v %q", err, out)
	}

	// No samconfig.toml yet: one with the table is made.
	fresh := filepath.Join(dir, "new.toml")
	if _, _, err := runParams(t, "--routing", "testdata/team.yaml", "--samconfig", fresh, "--write"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(fresh); string(got) != "\n[default.deploy.parameters]\n"+teamOverrides+"\n" {
		t.Errorf("new file:\n%s", got)
	}
}

func TestParamsNotes(t *testing.T) {
	out, errs, err := runParams(t, "--routing", "testdata/legacy.yaml", "--samconfig", filepath.Join(t.TempDir(), "none.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "PipelineNames=web-pipeline,legacy-pipeline ") || strings.Contains(out, "legacy-pipeline|") {
		t.Errorf("printed %q", out)
	}
	if !strings.Contains(errs, "note: service legacy (routing file line 6): project 4711 is a numeric id") {
		t.Errorf("stderr %q", errs)
	}
}

func TestParamsRefuses(t *testing.T) {
	dir := t.TempDir()
	badSamconfig := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(badSamconfig, []byte("[default.deploy.parameters]\nparameter_overrides = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badPipeline := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badPipeline, []byte("services:\n  - name: a\n    project: acme/a\n    pipeline: a pipeline\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a missing routing file", []string{"--routing", "testdata/none.yaml"}, "read testdata/none.yaml"},
		// The routing package words the error; the command names the file.
		{"a routing file that does not parse", []string{"--routing", "testdata/broken.yaml"}, "testdata/broken.yaml: "},
		{"a name CodePipeline refuses", []string{"--routing", badPipeline}, `service a (routing file line 2): pipeline "a pipeline"`},
		{"a samconfig.toml it cannot read", []string{"--routing", "testdata/team.yaml", "--samconfig", badSamconfig, "--write"}, "samconfig.toml line 2: parameter_overrides: want a string"},
		{"an argument", []string{"--routing", "testdata/team.yaml", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runParams(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// pipegate params reaches the command.
func TestParamsCommand(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"params", "--routing", "testdata/team.yaml", "--samconfig", filepath.Join(t.TempDir(), "none.toml")}, noEnv, &out, &out)
	if err != nil || out.String() != teamOverrides+"\n" {
		t.Errorf("%v %q", err, out.String())
	}
}
