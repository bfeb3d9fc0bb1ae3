package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pipegate/pipegate"
	"github.com/pipegate/pipegate/internal/freeze"
	"github.com/pipegate/pipegate/internal/testenv"
)

// rewrittenBundled copies the bundled pipegate.yaml into a file of the test's
// own, edited as a team adopting pipegate edits it: every project moved to the
// GitLab group acme, every pipeline renamed. Whatever the bundled file routes
// today, the copy routes none of it: gone lists the names it no longer has.
func rewrittenBundled(t *testing.T) (path string, gone []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(pipegate.DefaultRouting(), &doc); err != nil {
		t.Fatalf("bundled pipegate.yaml: %v", err)
	}
	group := "acme"
	services := mapValue(doc.Content[0], "services")
	if services == nil || len(services.Content) == 0 {
		t.Fatal("bundled pipegate.yaml: no services")
	}
	for _, svc := range services.Content {
		if p := mapValue(svc, "project"); p != nil && strings.HasPrefix(p.Value, group+"/") {
			group = "acme-platform" // already acme's: move it elsewhere still
		}
	}
	for _, svc := range services.Content {
		project, pipeline, name := mapValue(svc, "project"), mapValue(svc, "pipeline"), mapValue(svc, "name")
		if project == nil || pipeline == nil || name == nil {
			t.Fatalf("bundled pipegate.yaml: line %d: a service without name, project or pipeline", svc.Line)
		}
		gone = append(gone, project.Value, pipeline.Value)
		project.Value = group + "/" + name.Value
		pipeline.Value = "deploy-" + name.Value + "-acme"
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "pipegate.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, gone
}

// mapValue is the value of key in a YAML mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// checkDemoOutput checks that the demo of w ticked every step of its checklist,
// and that its output names none of the names in gone.
func checkDemoOutput(t *testing.T, w *demoWorld, out string, gone []string) {
	t.Helper()
	for _, st := range demoChecks(w) {
		if !strings.Contains(out, "✓ "+st.what+"\n") {
			t.Errorf("demo output lacks ✓ %s", st.what)
		}
	}
	if strings.Contains(out, "✗") {
		t.Error("demo output has a step that did not happen")
	}
	for _, name := range gone {
		if regexp.MustCompile(`(^|[^\w/-])` + regexp.QuoteMeta(name) + `($|[^\w/-])`).MatchString(out) {
			t.Errorf("demo output names %s, which its routing file does not", name)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The demo tells its story in any world: every stand-in and every payload comes
// from the routing file it runs on, so its checklist names that file's projects,
// pipelines, stages and approval action, and the gate asks for that file's
// approvals.
func TestDemoWorlds(t *testing.T) {
	acme, gone := rewrittenBundled(t)
	policy := func(production string) string {
		return writeFile(t, "policy.yaml", "defaults:\n  production: "+production+"\nservices:\n  - {name: api, project: acme/api, pipeline: api-deploy}\n")
	}
	for _, tc := range []struct {
		name, routing, service string
		gone                   []string
		want                   []string // in the output, besides the checklist
	}{
		{name: "the demo's own world", want: []string{"pipegate demo on the demo's own sample world", "✓ the gate waited: !118 needs 1 more approval\n",
			"✓ GitLab shows the deployment to staging\n", "✓ GitLab shows the deployment to production\n",
			"production: success (created → running → success)",
			"GitLab has a deploy freeze on for ic/core: from ", "Production = pending: Production held: deploy freeze until ",
			"gate of core-pipeline: wait (deploy freeze until ", "3. The team lifts the deploy freeze early in GitLab"}},
		{name: "the bundled file moved to acme", routing: acme, gone: gone, want: []string{"acme/", "-acme at 9c1e4b7d"}},
		{name: "the bundled file moved to acme, its last service", routing: acme, service: "last", gone: gone},
		{name: "a monorepo named by id, paths, release branches, renamed stages, three approvals", routing: "testdata/demo-monorepo.yaml",
			want: []string{"1. ada merges !118 into release/demo of 4242", "✓ GitLab shows search-deploy/QA success", "✓ the gate waited: !118 needs 3 more approvals",
				"2. grace, linus and margaret approve !118", "✓ CodePipeline received the approval of Live/SignOff, naming !118 and margaret",
				"✓ GitLab shows the deployment to production", "search/production: success"}},
		{name: "a service told apart by a glob with braces", routing: "testdata/demo-monorepo.yaml", service: "billing",
			want: []string{"✓ the push started billing-deploy"}},
		{name: "a service with its own branch", routing: "testdata/demo-monorepo.yaml", service: "www",
			want: []string{"into trunk of web/www", "✓ GitLab shows www-deploy/Live success"}},
		{name: "the author's approval counts", routing: policy("{min_approvals: 1, author_can_approve: true}"),
			want: []string{"2. !118 has the approvals the gate asks for: the deploy freeze holds it once ApproveProduction starts", "naming !118 and ada"}},
		{name: "no approvals needed", routing: policy("{min_approvals: 0}"),
			want: []string{"2. !118 has the approvals the gate asks for"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.service == "last" {
				w, err := loadDemoWorld(tc.routing, "")
				if err != nil {
					t.Fatal(err)
				}
				tc.service = w.routes.Services[len(w.routes.Services)-1].Name
			}
			w, err := loadDemoWorld(tc.routing, tc.service)
			if err != nil {
				t.Fatal(err)
			}
			var out testenv.Buffer
			if err := runDemo(context.Background(), w, 0, "", &out, io.Discard); err != nil {
				t.Errorf("demo: %v", err)
			}
			checkDemoOutput(t, w, out.String(), tc.gone)
			for _, want := range tc.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("demo output lacks %q", want)
				}
			}
		})
	}
}

// The demo reads PIPEGATE_CONFIG as the other commands do, and nothing else of
// the shell: a GitLab, a token or a webhook secret set there are not the demo's.
func TestDemoReadsOnlyPipegateConfig(t *testing.T) {
	acme, gone := rewrittenBundled(t)
	w, err := loadDemoWorld(acme, "")
	if err != nil {
		t.Fatal(err)
	}
	shell := envOf("PIPEGATE_CONFIG", acme, "GITLAB_URL", "http://127.0.0.1:9", "GITLAB_TOKEN", "glpat-real", "WEBHOOK_SECRET", "the-real-secret")
	var out testenv.Buffer
	if err := demo(context.Background(), nil, shell, &out, io.Discard); err != nil {
		t.Errorf("demo: %v", err)
	}
	checkDemoOutput(t, w, out.String(), gone)

	// --routing wins over PIPEGATE_CONFIG.
	out = testenv.Buffer{}
	if err := demo(context.Background(), []string{"--routing", "testdata/demo-monorepo.yaml"}, shell, &out, io.Discard); err != nil {
		t.Errorf("demo --routing: %v", err)
	}
	if !strings.Contains(out.String(), "pipegate demo on testdata/demo-monorepo.yaml (3 services)") {
		t.Errorf("demo --routing ran on another file:\n%s", out.String())
	}
}

func TestDemoRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"a missing routing file", nil, envOf("PIPEGATE_CONFIG", "testdata/none.yaml"), "demo: read the routing file: open testdata/none.yaml: no such file or directory"},
		{"a broken routing file", []string{"--routing", "testdata/broken.yaml"}, noEnv, "demo: testdata/broken.yaml: routing file: line 4: field pipline not found in services[0] (core); did you mean pipeline?"},
		{"an empty routing file", []string{"--routing", os.DevNull}, noEnv, "demo: /dev/null: routing file is empty"},
		{"an unknown service", []string{"--service", "nope"}, noEnv, "demo: the demo's own sample world (cmd/pipegate/demo/pipegate.yaml) has no service \"nope\"; it has core, api-gateway, auth, files"},
		{"an argument", []string{"core"}, noEnv, `unexpected argument "core"`},
		{"an unknown flag", []string{"--routes", "x"}, noEnv, "unknown flag --routes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := demo(context.Background(), tc.args, tc.env, &out, &out)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestExampleOf(t *testing.T) {
	for _, tc := range []struct{ glob, want string }{
		{"main", "main"},
		{"release/*", "release/demo"},
		{"services/billing/**", "services/billing/demo"},
		{"services/{billing,money}/**/*.go", "services/billing/demo/demo.go"},
		{"v?.[0-9]", "vx.0"},
		{"hotfix-[!a-z]*", "hotfix-~demo"},
		{`docs/\*.md`, "docs/*.md"},
		{"{a,b}{c,d}", "ac"},
	} {
		got, err := exampleOf(tc.glob)
		if err != nil || got != tc.want {
			t.Errorf("exampleOf(%q) = %q, %v; want %q", tc.glob, got, err, tc.want)
		}
	}
	for _, glob := range []string{"[abc", "{a,b", "[!~]"} {
		if got, err := exampleOf(glob); err == nil {
			t.Errorf("exampleOf(%q) = %q, want an error", glob, got)
		}
	}
}

// buildPipegate builds the command as a newcomer runs it.
func buildPipegate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pipegate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// `pipegate demo`, as a newcomer runs it: exit 0 and every step seen, in the
// demo's own world and on the bundled file once a team has moved it to acme.
func TestDemoSubprocess(t *testing.T) {
	bin := buildPipegate(t)
	acme, gone := rewrittenBundled(t)
	for _, tc := range []struct {
		name    string
		routing string // PIPEGATE_CONFIG
		gone    []string
	}{
		{"the demo's own world", "", nil},
		{"the bundled file moved to acme, in PIPEGATE_CONFIG", acme, gone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := loadDemoWorld(tc.routing, "")
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "demo")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
			if tc.routing != "" {
				cmd.Env = append(cmd.Env, "PIPEGATE_CONFIG="+tc.routing)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("demo: %v\n%s\n%s", err, stdout.String(), stderr.String())
			}
			checkDemoOutput(t, w, stdout.String(), tc.gone)
		})
	}
}

// PIPEGATE_CONFIG set in the shell never makes a command panic: a routing file
// that is missing or broken is one line saying so and exit status 1; a valid one
// of another group is routed like any other.
func TestShellConfigNeverPanics(t *testing.T) {
	bin := buildPipegate(t)
	acme, _ := rewrittenBundled(t)
	bad := map[string]string{
		"missing":   filepath.Join(t.TempDir(), "none.yaml"),
		"broken":    "testdata/broken.yaml",
		"empty":     writeFile(t, "empty.yaml", ""),
		"directory": t.TempDir(),
		"a tab":     writeFile(t, "tab.yaml", "services:\n\t- name: core\n"),
	}
	commands := map[string][]string{
		"demo":    {"demo"},
		"dev":     {"dev", "--listen", "127.0.0.1:0"},
		"invoke":  {"invoke", "../../events/push.json"},
		"explain": {"explain", "../../events/push.json"},
	}
	run := func(t *testing.T, config string, args []string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "PIPEGATE_CONFIG=" + config}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatal(err)
		}
		if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "goroutine ") {
			t.Errorf("pipegate %s panicked:\n%s", strings.Join(args, " "), stderr.String())
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	for cname, args := range commands {
		for bname, config := range bad {
			t.Run(cname+" with a "+bname+" routing file", func(t *testing.T) {
				code, _, stderr := run(t, config, args)
				if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "pipegate: ") {
					t.Errorf("exit %d, stderr %q; want 1 and one error line", code, stderr)
				}
			})
		}
	}
	for _, cname := range []string{"demo", "invoke", "explain"} {
		t.Run(cname+" with the bundled file moved to acme", func(t *testing.T) {
			if code, stdout, stderr := run(t, acme, commands[cname]); code != 0 {
				t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
			}
		})
	}
}

// demo --events writes samples of the routing file it ran on: invoke and explain
// take them as they take events/, and they route as the demo's story did.
func TestDemoWritesEvents(t *testing.T) {
	acme, gone := rewrittenBundled(t)
	w, err := loadDemoWorld(acme, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "events")
	var out testenv.Buffer
	if err := runDemo(context.Background(), w, 0, dir, &out, io.Discard); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	checkDemoOutput(t, w, out.String(), gone)
	prodAction := "action-" + strings.ToLower(w.svc.Production.Stage+"-"+w.svc.Production.ApprovalAction) + "-started.json"
	files := []string{"push.json", "pipeline-started.json", "stage-build-succeeded.json", prodAction, "merge-request-approved.json", "pipeline-succeeded.json"}
	for i, f := range files {
		files[i] = filepath.Join(dir, f)
	}

	env := envOf("PIPEGATE_CONFIG", acme)
	var invoked testenv.Buffer
	if err := run(context.Background(), append([]string{"invoke"}, files...), env, &invoked, io.Discard); err != nil {
		t.Fatalf("invoke: %v\n%s", err, invoked.String())
	}
	svc, at := w.svc, w.project+"@"+demoCommit[:8]
	checkOutput(t, invoked.String(), []string{
		"CodePipeline: started " + svc.Pipeline + ", execution 00000001-0000-4000-800c-000000000001, " + svc.SourceAction + " COMMIT_ID = " + demoCommit,
		`← 200 {"result":"started"`,
		at + ` status "` + svc.Pipeline + `" = running (ref ` + w.branch + `)`,
		at + ` status "` + svc.Pipeline + `/Build" = success`,
		`← {"result":"gate not waiting"`, // invoke's stand-in runs no stages
		`← 200 {"result":"evaluated"`,
		at + ` status "` + svc.Pipeline + `" = success`,
		"1 pipeline executions started",
	}, gone)

	var explained testenv.Buffer
	if err := run(context.Background(), []string{"explain", files[0]}, env, &explained, io.Discard); err != nil {
		t.Fatalf("explain: %v", err)
	}
	checkOutput(t, explained.String(), []string{"would start 1 pipeline(s):\n  " + svc.Name + ": pipeline " + svc.Pipeline}, gone)
}

// The demo's deploy freeze is on whenever the demo runs, in its zone, and ends
// two hours later, as GitLab's rule (internal/freeze) judges it: at any minute of
// the day, across midnight and on the days the clocks change.
func TestDemoFreezeIsOnWheneverItRuns(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2026, 12, 3, 0, 16, 30, 0, time.UTC),
		time.Date(2026, 12, 3, 22, 59, 59, 0, time.UTC), // 23:59 in Berlin: ends after midnight
		time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC), // into the new year
		time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC),   // 01:30 CET, the night clocks go forward
		time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC),  // 02:30 CEST, the night clocks go back
		time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC),  // a Saturday
	} {
		p, until := demoFreeze(now)
		v, err := freeze.Active([]freeze.Period{{Start: p.FreezeStart, End: p.FreezeEnd, Timezone: p.CronTimezone}}, now)
		if err != nil {
			t.Fatalf("%v: %+v: %v", now, p, err)
		}
		if !v.Frozen {
			t.Errorf("%v: freeze %+v is not on", now, p)
			continue
		}
		if d := until.Sub(now); d <= time.Hour || d > demoFreezeLength {
			t.Errorf("%v: the demo says the freeze ends at %v, %v from now", now, until, d)
		}
		if d := v.Until.Sub(now); d <= time.Hour || d > demoFreezeLength+time.Hour {
			t.Errorf("%v: GitLab's rule ends freeze %+v at %v, %v from now", now, p, v.Until, d)
		}
	}
}
