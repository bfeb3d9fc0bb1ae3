package main

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ with what the tests get")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from line %d:\n got %q\nwant %q\n(go test -run %s -update rewrites it)\nall of it:\n%s", path, i+1, g, w, t.Name(), got)
			}
		}
	}
}

// loads checks that the functions read the file as a routing file.
func loads(t *testing.T, path string, services int) {
	t.Helper()
	routes, _, err := wire.LoadRouting(envOf("PIPEGATE_CONFIG", path))
	if err != nil {
		t.Fatalf("the functions refuse the file init wrote: %v", err)
	}
	if len(routes.Services) != services {
		t.Errorf("%d services, want %d", len(routes.Services), services)
	}
}

func TestInitFromNames(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pipegate.yaml")
	code, stdout, stderr := cli(t, noEnv, "init", "--group", "acme", "--services", "api, web,worker", "--pipelines", ",web-deploy,", "-o", out)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "wrote "+out+": 3 services") {
		t.Errorf("stdout:\n%s", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "init-names.golden", string(b))
	loads(t, out, 3)
}

// The account of the tests: pipegate's own pipeline, one with its gate in a
// stage of its own, one with an S3 source, one of a project outside acme, and
// one the user may not read.
func initAccount(t *testing.T) (*emulator.CodePipeline, func() (int, string, string)) {
	cp := emulator.NewCodePipeline()
	api := emulator.DefaultShape("Source", "Staging", "Production", "ApproveProduction")
	api[0].Actions[0].Configuration = map[string]string{"ConnectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:connection/1", "FullRepositoryId": "acme/api", "BranchName": "main", "DetectChanges": "false"}
	cp.SetShape("api-pipeline", api)
	cp.SetShape("web-deploy", []emulator.StageSpec{
		{Name: "Checkout", Actions: []emulator.ActionSpec{{Name: "GitLab", Category: "Source", Provider: "CodeStarSourceConnection",
			Configuration: map[string]string{"FullRepositoryId": "acme/web", "BranchName": "trunk"}}}},
		{Name: "Beta", Actions: []emulator.ActionSpec{{Name: "Deploy", Category: "Deploy", Provider: "CloudFormation"}}},
		{Name: "Release", Actions: []emulator.ActionSpec{{Name: "Approve", Category: "Approval", Provider: "Manual"}}},
		{Name: "Prod", Actions: []emulator.ActionSpec{{Name: "Deploy", Category: "Deploy", Provider: "CloudFormation"}}},
	})
	cp.SetShape("legacy-pipeline", []emulator.StageSpec{
		{Name: "Source", Actions: []emulator.ActionSpec{{Name: "Artifact", Category: "Source", Provider: "S3"}}},
		{Name: "Deploy", Actions: []emulator.ActionSpec{{Name: "Deploy", Category: "Deploy", Provider: "S3"}}},
	})
	octo := emulator.DefaultShape("Source", "Staging", "Production", "ApproveProduction")
	octo[0].Actions[0].Configuration = map[string]string{"FullRepositoryId": "octo/app", "BranchName": "main", "DetectChanges": "false"}
	cp.SetShape("octo-pipeline", octo)
	load := awsStandIns(t, map[string]http.Handler{"CodePipeline_20150709": cp}, nil)
	return cp, func() (int, string, string) {
		return cliWith(t, noEnv, load, "init", "--from-aws", "--group", "acme", "-o", "-")
	}
}

func TestInitFromAWS(t *testing.T) {
	_, run := initAccount(t)
	code, stdout, stderr := run()
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	golden(t, "init-aws.golden", stdout)
	golden(t, "init-aws.notes.golden", stderr)
	file := filepath.Join(t.TempDir(), "pipegate.yaml")
	os.WriteFile(file, []byte(stdout), 0o644)
	loads(t, file, 2)
}

// A pipeline the user may not read is left out, saying why; the others are read.
func TestInitFromAWSUnreadablePipeline(t *testing.T) {
	cp, run := initAccount(t)
	cp.FailNext("GetPipeline", 1, emulator.Fault{Status: 400, Code: "AccessDeniedException", Message: "User is not authorized to perform codepipeline:GetPipeline"})
	code, stdout, stderr := run()
	if code != 0 || !strings.Contains(stderr, "api-pipeline: left out: cannot read it:") || !strings.Contains(stderr, "not authorized") ||
		!strings.Contains(stdout, "name: web") || !strings.Contains(stdout, "#   api-pipeline: cannot read it") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestInitFromAWSMapsNothing(t *testing.T) {
	cp := emulator.NewCodePipeline()
	cp.SetShape("legacy-pipeline", []emulator.StageSpec{{Name: "Source", Actions: []emulator.ActionSpec{{Name: "Artifact", Category: "Source", Provider: "S3"}}}})
	out := filepath.Join(t.TempDir(), "pipegate.yaml")
	code, _, stderr := cliWith(t, noEnv, awsStandIns(t, map[string]http.Handler{"CodePipeline_20150709": cp}, nil), "init", "--from-aws", "-o", out)
	if code != 1 || !strings.Contains(stderr, "legacy-pipeline: left out: no CodeConnections source action") || !strings.Contains(stderr, "no pipeline could be mapped") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("init wrote a file with no service")
	}
}

func TestInitNeverOverwritesUnlessForced(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pipegate.yaml")
	os.WriteFile(out, []byte("mine\n"), 0o644)
	code, _, stderr := cli(t, noEnv, "init", "--group", "acme", "--services", "api", "--output", out)
	if b, _ := os.ReadFile(out); code != 1 || string(b) != "mine\n" {
		t.Errorf("exit %d, file %q", code, b)
	}
	oneLineOn(t, stderr, out+" exists: pass --force")
	if code, _, stderr := cli(t, noEnv, "init", "--group", "acme", "--services", "api", "--output", out, "--force"); code != 0 {
		t.Fatalf("--force: exit %d\n%s", code, stderr)
	}
	loads(t, out, 1)
}

func TestInitMisuse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"init"}, "name the services (--group G --services a,b) or read them from your pipelines (--from-aws)"},
		{[]string{"init", "--services", "api"}, "--services needs --group"},
		{[]string{"init", "--from-aws", "--services", "api"}, "--from-aws reads the services from AWS"},
		{[]string{"init", "--group", "acme", "--services", "api,api"}, `service "api" is named twice`},
		{[]string{"init", "--group", "acme", "--services", "api,web", "--pipelines", "x"}, "1 pipelines for 2 services"},
	} {
		code, stdout, stderr := cli(t, noEnv, tc.args...)
		if code != 2 || stdout != "" {
			t.Errorf("%q: exit %d, stdout %q", tc.args, code, stdout)
		}
		oneLineOn(t, stderr, "pipegate init: "+tc.want, "see 'pipegate help init'")
	}
}
