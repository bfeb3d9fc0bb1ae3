package routing_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pipegate/pipegate"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/routing"
)

// lineOf returns the 1-based line of the first line in data that contains s.
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

// TestParseBundled checks that the routing file bundled into the functions
// parses. Nothing here depends on what it routes: a team edits that file (its
// group, services and pipelines), and tests use their own files in testdata/.
func TestParseBundled(t *testing.T) {
	data := pipegate.DefaultRouting()
	cfg, err := routing.Parse(data)
	if err != nil {
		t.Fatalf("Parse(bundled pipegate.yaml): %v", err)
	}
	if len(cfg.Services) == 0 {
		t.Fatal("the bundled pipegate.yaml routes no service")
	}
	lines := bytes.Count(data, []byte("\n")) + 1
	for _, s := range cfg.Services {
		if s.Line < 1 || s.Line > lines {
			t.Errorf("service %s: line %d, outside the file's %d lines", s.Name, s.Line, lines)
		}
		if got, ok := cfg.Service(s.Pipeline); !ok || got.Name != s.Name {
			t.Errorf("Service(%s) = %q, %v; want %s", s.Pipeline, got.Name, ok, s.Name)
		}
		if got, ok := cfg.Named(s.Name); !ok || got.Pipeline != s.Pipeline {
			t.Errorf("Named(%s) = %q, %v; want %s", s.Name, got.Pipeline, ok, s.Pipeline)
		}
	}
}

func TestParseMerge(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "routing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := routing.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	docs, ok := cfg.Service("docs-pipeline")
	if !ok {
		t.Fatal("no docs service")
	}
	// Unset branches stay unset (the project's default branch); an explicit empty tags
	// list overrides the default's; production merges field by field, and an explicit
	// min_approvals 0 and no_merge_request wait override the defaults' 2 and reject.
	want := routing.Service{
		Name: "docs", Project: "ic/docs", Pipeline: "docs-pipeline", SourceAction: "Source",
		Tags:         []string{},
		StagingStage: "Preview",
		Production: routing.Production{Stage: "Live", ApprovalAction: "ApproveProduction", MinApprovals: 0,
			AuthorCanApprove: true, NoMergeRequest: "wait"},
		Environments: routing.Environments{Staging: "staging", Production: "production"},
		Line:         lineOf(t, data, "- name: docs"),
	}
	if !reflect.DeepEqual(docs, want) {
		t.Errorf("docs\n got %+v\nwant %+v", docs, want)
	}
	billing, _ := cfg.Service("billing-pipeline")
	wantProd := routing.Production{Stage: "Production", ApprovalAction: "ApproveProduction", MinApprovals: 2,
		AuthorCanApprove: false, NoMergeRequest: "reject"}
	if billing.Production != wantProd || billing.StagingStage != "Staging" || !slices.Equal(billing.Tags, []string{"v*"}) ||
		!slices.Equal(billing.Paths, []string{"services/billing/**", "libs/money/**"}) {
		t.Errorf("billing %+v", billing)
	}
}

func TestParseWithoutDefaults(t *testing.T) {
	cfg, err := routing.Parse([]byte("services:\n  - {name: core, project: ic/core, pipeline: core-pipeline}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []routing.Service{{
		Name: "core", Project: "ic/core", Pipeline: "core-pipeline", SourceAction: "Source", StagingStage: "Staging",
		Production: routing.Production{Stage: "Production", ApprovalAction: "ApproveProduction", MinApprovals: 1,
			NoMergeRequest: "wait"},
		Environments: routing.Environments{Staging: "staging", Production: "production"},
		Line:         2,
	}}
	if !reflect.DeepEqual(cfg.Services, want) {
		t.Fatalf("services\n got %+v\nwant %+v", cfg.Services, want)
	}
}

// TestParseProductionPolicy checks how the gate's policy fields merge: a service's
// explicit value, false and wait included, beats the defaults'.
func TestParseProductionPolicy(t *testing.T) {
	tests := []struct {
		name     string
		defaults string // the defaults' production block, indented
		service  string // the service's production block, indented
		want     routing.Production
	}{
		{"built-in", "", "", routing.Production{Stage: "Production", ApprovalAction: "ApproveProduction",
			MinApprovals: 1, AuthorCanApprove: false, NoMergeRequest: "wait"}},
		{"from defaults", "    author_can_approve: true\n    no_merge_request: reject\n", "",
			routing.Production{Stage: "Production", ApprovalAction: "ApproveProduction",
				MinApprovals: 1, AuthorCanApprove: true, NoMergeRequest: "reject"}},
		{"service overrides with false and wait", "    author_can_approve: true\n    no_merge_request: reject\n",
			"      author_can_approve: false\n      no_merge_request: wait\n",
			routing.Production{Stage: "Production", ApprovalAction: "ApproveProduction",
				MinApprovals: 1, AuthorCanApprove: false, NoMergeRequest: "wait"}},
		{"service alone", "", "      min_approvals: 2\n      author_can_approve: true\n      no_merge_request: reject\n",
			routing.Production{Stage: "Production", ApprovalAction: "ApproveProduction",
				MinApprovals: 2, AuthorCanApprove: true, NoMergeRequest: "reject"}},
		{"service sets other fields: defaults' policy stays", "    no_merge_request: reject\n", "      stage: Live\n",
			routing.Production{Stage: "Live", ApprovalAction: "ApproveProduction",
				MinApprovals: 1, AuthorCanApprove: false, NoMergeRequest: "reject"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if tt.defaults != "" {
				b.WriteString("defaults:\n  production:\n" + tt.defaults)
			}
			b.WriteString("services:\n  - name: core\n    project: ic/core\n    pipeline: core-pipeline\n")
			if tt.service != "" {
				b.WriteString("    production:\n" + tt.service)
			}
			cfg, err := routing.Parse([]byte(b.String()))
			if err != nil {
				t.Fatalf("Parse(%q): %v", b.String(), err)
			}
			if got := cfg.Services[0].Production; got != tt.want {
				t.Errorf("production\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestParseStagingStage checks staging_stage: built in, from defaults, per
// service, and an empty value meaning "not set".
func TestParseStagingStage(t *testing.T) {
	tests := []struct {
		name     string
		defaults string // lines under defaults:, indented
		service  string // lines of the service, indented
		want     string
	}{
		{"built-in", "", "", "Staging"},
		{"from defaults", "  staging_stage: PreProd\n", "", "PreProd"},
		{"service overrides defaults", "  staging_stage: PreProd\n", "    staging_stage: QA\n", "QA"},
		{"service alone", "", "    staging_stage: QA\n", "QA"},
		{"empty means unset", "  staging_stage: PreProd\n", "    staging_stage: \"\"\n", "PreProd"},
		{"production renamed, staging kept", "  production: {stage: Live}\n", "", "Staging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if tt.defaults != "" {
				b.WriteString("defaults:\n" + tt.defaults)
			}
			b.WriteString("services:\n  - name: core\n    project: ic/core\n    pipeline: core-pipeline\n" + tt.service)
			b.WriteString("  - {name: auth, project: ic/auth, pipeline: auth-pipeline}\n")
			cfg, err := routing.Parse([]byte(b.String()))
			if err != nil {
				t.Fatalf("Parse(%q): %v", b.String(), err)
			}
			if got := cfg.Services[0].StagingStage; got != tt.want {
				t.Errorf("core: staging stage %q, want %q", got, tt.want)
			}
			// The service's own value is its own: auth gets the defaults'.
			want := "Staging"
			if strings.Contains(tt.defaults, "staging_stage") {
				want = "PreProd"
			}
			if got := cfg.Services[1].StagingStage; got != want {
				t.Errorf("auth: staging stage %q, want %q", got, want)
			}
		})
	}
}

func TestNamed(t *testing.T) {
	cfg := routes(t)
	if s, ok := cfg.Named("core"); !ok || s.Pipeline != "core-pipeline" {
		t.Errorf("Named(core) = %+v, %v", s, ok)
	}
	for _, name := range []string{"core-pipeline", "Core", "", "nobody"} {
		if s, ok := cfg.Named(name); ok {
			t.Errorf("Named(%q) found %+v", name, s)
		}
	}
	if s, ok := cfg.Service("core-pipeline"); !ok || s.Name != "core" {
		t.Errorf("Service(core-pipeline) = %q, %v", s.Name, ok)
	}
	for _, pipeline := range []string{"core", "Core-Pipeline", "", "nobody-pipeline"} {
		if s, ok := cfg.Service(pipeline); ok {
			t.Errorf("Service(%q) found %+v", pipeline, s)
		}
	}
}

// TestParseErrors checks every refusal word for word: the line (the same lines
// as before the messages named their block), the block ("defaults", or the
// service as "services[i] (name)"), and what to write instead.
func TestParseErrors(t *testing.T) {
	const core = "services:\n  - name: core\n    project: ic/core\n    pipeline: core-pipeline\n"
	tests := []struct {
		name string
		yaml string
		want string
	}{
		// Unknown fields: the block, and what was meant.
		{"unknown field in a service", core + `    branchs: ["main"]
`, "routing file: line 5: field branchs not found in services[0] (core); did you mean branches?"},
		{"unknown field in defaults' production", `defaults:
  production:
    approvals: 2
services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
`, "routing file: line 3: field approvals not found in defaults.production; did you mean min_approvals?"},
		{"unknown top-level field", `service:
  - {name: core, project: ic/core, pipeline: core-pipeline}
`, "routing file: line 1: field service not found at the top level; did you mean services?"},
		{"unknown production field near the new ones", core + `    production:
      authors_can_approve: true
`, "routing file: line 6: field authors_can_approve not found in services[0] (core).production; did you mean author_can_approve?"},
		{"unknown staging field", core + `    stagingstage: Staging
`, "routing file: line 5: field stagingstage not found in services[0] (core); did you mean staging_stage?"},
		{"a field in another case", core + `    Paths: ["services/core/**"]
`, "routing file: line 5: field Paths not found in services[0] (core); did you mean paths?"},
		{"a swap of two letters", core + `    tgas: ["v*"]
`, "routing file: line 5: field tgas not found in services[0] (core); did you mean tags?"},
		{"a field of the third service", core + `  - {name: auth, project: ic/auth, pipeline: auth-pipeline}
  - name: files
    project: ic/files
    pipelin: files-pipeline
`, "routing file: line 8: field pipelin not found in services[2] (files); did you mean pipeline?"},
		{"a field nothing is near", core + `    colour: blue
`, "routing file: line 5: field colour not found in services[0] (core); the fields there are name, project, pipeline, source_action, branches, tags, paths, staging_stage, production, environments"},
		{"staging_stage in production", core + `    production:
      staging_stage: Staging
`, "routing file: line 6: field staging_stage not found in services[0] (core).production; it belongs one level up, in services[0] (core)"},
		{"min_approvals outside production", core + `    min_approvals: 2
`, "routing file: line 5: field min_approvals not found in services[0] (core); it belongs in production"},
		{"branches at the top level", `branches: [main]
services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
`, "routing file: line 1: field branches not found at the top level; it belongs in defaults or in services"},
		{"a field set twice", `services:
  - name: core
    project: ic/core
    name: core2
    pipeline: core-pipeline
`, "routing file: line 4: name is set twice in services[0] (core) (first at line 2)"},

		// Tabs, called tabs, on the tab's own line.
		{"a tab before a service", "services:\n\t- name: core\n", "routing file: line 2: a tab; YAML indents with spaces"},
		{"a tab before a field", "services:\n  - name: core\n\tproject: ic/core\n", "routing file: line 3: a tab; YAML indents with spaces"},
		{"a tab after spaces", core + "    \tpaths: [\"services/core/**\"]\n", "routing file: line 5: a tab; YAML indents with spaces"},
		{"a tab in defaults", "defaults:\n\tbranches: [main]\nservices: []\n", "routing file: line 2: a tab; YAML indents with spaces"},

		// Other YAML: its own words and line.
		{"not YAML", `services:
  - name: core
    project: ic/core: platform
    pipeline: core-pipeline
`, "routing file: yaml: line 3: mapping values are not allowed in this context"},
		{"unclosed quote", `services:
  - name: core
    project: "ic/core
    pipeline: core-pipeline
`, "routing file: line 3: a quote that is never closed"},
		{"a value starting with @", "services:\n  - name: core\n    project: @ic/core\n", `routing file: line 3: a value starting with @ must be quoted: "@ic/core"`},

		// Values of the wrong kind.
		{"not a mapping", "- core\n- auth\n", "routing file: line 1: the routing file must be a mapping with defaults and services, not a list"},
		{"services a mapping", "services:\n  name: core\n", `routing file: line 2: services must be a list of services ("- name: ..."), not a mapping`},
		{"a service that is a name", "services:\n  - core\n", `routing file: line 2: services[0] must be a mapping of its fields (name, project, pipeline, source_action, branches, tags, paths, staging_stage, production, environments), not "core"`},
		{"production a list", core + "    production: [Production]\n", `routing file: line 5: services[0] (core).production must be a mapping of its fields (stage, approval_action, min_approvals, author_can_approve, no_merge_request, approvers), not a list`},
		{"a project that is a list", "services:\n  - name: core\n    project: [ic/core]\n    pipeline: core-pipeline\n", "routing file: line 3: project in services[0] (core) must be one name, not a list"},
		{"staging_stage a list", `defaults:
  staging_stage: [Staging, QA]
services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
`, "routing file: line 2: staging_stage in defaults must be one name, not a list"},
		{"branches a single value", core + "    branches: main\n", `routing file: line 5: branches in services[0] (core) must be a list, as in ["main"], not "main"`},
		{"a list in a list", core + "    tags: [[v1]]\n", "routing file: line 5: tags in services[0] (core): each item must be a glob, not a list"},
		{"min_approvals not a number", core + "    production: {min_approvals: one}\n", `routing file: line 5: min_approvals in services[0] (core).production must be a whole number, not "one"`},
		{"min_approvals a fraction", core + "    production: {min_approvals: 1.5}\n", `routing file: line 5: min_approvals in services[0] (core).production must be a whole number, not "1.5"`},
		{"negative min_approvals", core + "    production: {min_approvals: -1}\n", "routing file: line 2: services[0] (core): min_approvals must not be negative"},
		{"author_can_approve not a bool", core + "    production:\n      author_can_approve: sometimes\n", `routing file: line 6: author_can_approve in services[0] (core).production must be true or false, not "sometimes"`},
		{"author_can_approve a number", `defaults:
  production:
    author_can_approve: 1
services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
`, `routing file: line 3: author_can_approve in defaults.production must be true or false, not "1"`},
		{"unknown no_merge_request in a service", core + "    production:\n      no_merge_request: allow\n", `routing file: line 6: no_merge_request in services[0] (core).production must be wait or reject, not "allow"`},
		{"unknown no_merge_request in defaults", `defaults:
  production:
    min_approvals: 1
    no_merge_request: Reject
services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
`, `routing file: line 4: no_merge_request in defaults.production must be wait or reject, not "Reject"`},
		{"empty no_merge_request", core + `    production: {no_merge_request: ""}
`, `routing file: line 5: no_merge_request in services[0] (core).production must be wait or reject, not ""`},
		{"no_merge_request a list", core + "    production:\n      no_merge_request: [wait, reject]\n", "routing file: line 6: no_merge_request in services[0] (core).production must be wait or reject, not a list"},

		// Defaults, and the services list.
		{"defaults naming a project", `defaults:
  project: ic/core
services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
`, "routing file: line 2: defaults may not set project: each service names its own project"},
		{"defaults with paths, which are per service", `defaults:
  paths: ["services/**"]
services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
`, "routing file: line 2: defaults may not set paths: paths are per service: they tell the services of a monorepo apart"},
		{"no services", "defaults:\n  branches: [main]\n", "routing file: no services: the file has no services list; each service needs name, project and pipeline"},
		{"an empty services", "defaults:\n  branches: [main]\n\nservices:\n", "routing file: line 4: no services: the services list is empty; each service needs name, project and pipeline"},
		{"an empty services list", "defaults:\n  branches: [main]\nservices: []\n", "routing file: line 3: no services: the services list is empty; each service needs name, project and pipeline"},
		{"missing name", `services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
  - project: ic/auth
    pipeline: auth-pipeline
`, "routing file: line 3: services[1] has no name"},
		{"missing project", `services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
  - name: auth
    pipeline: auth-pipeline
`, "routing file: line 3: services[1] (auth) has no project"},
		{"missing pipeline", `services:
  - name: auth
    project: ic/auth
`, "routing file: line 2: services[0] (auth) has no pipeline"},
		{"two services on one pipeline", `services:
  - name: core
    project: ic/core
    pipeline: shared-pipeline
  - name: auth
    project: ic/auth
    pipeline: shared-pipeline
`, `routing file: line 5: services[1] (auth): pipeline "shared-pipeline" is already used by the service at line 2, services[0] (core)`},
		{"duplicate service name", `services:
  - name: core
    project: ic/core
    pipeline: core-pipeline

  - name: core
    project: ic/core2
    pipeline: core2-pipeline
`, `routing file: line 6: services[1] (core): service "core" is already defined at line 2`},
		{"staging stage is the production stage", `services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
  - name: auth
    project: ic/auth
    pipeline: auth-pipeline
    staging_stage: Production
`, `routing file: line 3: services[1] (auth): staging_stage and production stage are both "Production"`},
		{"production stage moved onto the staging stage", `defaults:
  production: {stage: Staging}
services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
`, `routing file: line 4: services[0] (core): staging_stage and production stage are both "Staging"`},
		{"empty file", "", "routing file is empty"},
		{"only comments", "# routing\n", "routing file is empty"},

		// Globs: which, in which field, and why.
		{"bad path glob", core + `    paths: ["services/[core/**"]
`, `routing file: line 2: services[0] (core): paths (line 5): bad glob "services/[core/**": the [ at character 10 opens a character class that is never closed (write \[ for a literal [)`},
		{"bad branch glob from defaults", `defaults:
  branches: ["release/{a,b"]
services:
  - {name: core, project: ic/core, pipeline: core-pipeline}
`, `routing file: line 4: services[0] (core): branches from defaults (line 2): bad glob "release/{a,b": the { at character 9 opens a list of alternatives ({a,b}) that is never closed`},
		{"the second glob of a list", core + `    paths:
      - services/core/**
      - "libs/[]/**"
`, `routing file: line 2: services[0] (core): paths (line 7): bad glob "libs/[]/**": the character class at character 6 is empty (write \[ for a literal [)`},
		{"a brace that closes nothing", core + `    tags: ["v}"]
`, `routing file: line 2: services[0] (core): tags (line 5): bad glob "v}": the } at character 2 closes no { (write \} for a literal })`},
		{"a trailing backslash", core + `    branches: ['hotfix\']
`, `routing file: line 2: services[0] (core): branches (line 5): bad glob "hotfix\\": it ends in a backslash, which escapes nothing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := routing.Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", cfg)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// What the checks of TestParseErrors must let through: YAML's own ways of
// writing the same file.
func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		check      func(t *testing.T, s routing.Service)
	}{
		{"a project id as a number", "services:\n  - {name: core, project: 42, pipeline: core-pipeline}\n",
			func(t *testing.T, s routing.Service) {
				if s.Project != "42" {
					t.Errorf("project %q", s.Project)
				}
			}},
		{"empty defaults and production", "defaults:\nservices:\n  - name: core\n    project: ic/core\n    pipeline: core-pipeline\n    production:\n    branches:\n",
			func(t *testing.T, s routing.Service) {
				if s.Production.Stage != "Production" || s.Branches != nil {
					t.Errorf("service %+v", s)
				}
			}},
		{"an anchor merged into a service, its own keys winning", `defaults: &shared
  branches: [main]
  tags: ["v*"]
services:
  - <<: *shared
    name: core
    project: ic/core
    pipeline: core-pipeline
    branches: [trunk]
`, func(t *testing.T, s routing.Service) {
			if !slices.Equal(s.Branches, []string{"trunk"}) || !slices.Equal(s.Tags, []string{"v*"}) {
				t.Errorf("branches %q tags %q", s.Branches, s.Tags)
			}
		}},
		{"a tab inside a flow mapping", "services:\n  - {name: core,\tproject: ic/core, pipeline: core-pipeline}\n",
			func(t *testing.T, s routing.Service) {
				if s.Project != "ic/core" {
					t.Errorf("project %q", s.Project)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := routing.Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg.Services[0])
		})
	}
}

// routes parses testdata/routing.yaml, the Match tests' routing file.
func routes(t *testing.T) *routing.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "routing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := routing.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const (
	before = "95790bf891e76fee5e1747ab589903a6a1f80f22"
	after  = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
)

// branchPush is a push of one commit to a branch of project, whose files are known.
func branchPush(project string, id int64, branch string, paths ...string) *gitlabhook.Push {
	return &gitlabhook.Push{
		ProjectID: id, Project: project, DefaultBranch: "main",
		Ref: "refs/heads/" + branch, Before: before, After: after, CommitSHA: after,
		HeadMessage: "Fix the thing\n", ChangedPaths: paths, PathsKnown: true,
	}
}

func tagPush(project string, id int64, tag string) *gitlabhook.Push {
	return &gitlabhook.Push{
		Tag: true, ProjectID: id, Project: project, DefaultBranch: "main",
		Ref: "refs/tags/" + tag, Before: gitlabhook.ZeroSHA, After: after, CommitSHA: after,
	}
}

func targets(r routing.Result) []string {
	var names []string
	for _, s := range r.Targets {
		names = append(names, s.Name)
	}
	return names
}

// skipped renders the skips as "service: reason" for comparison.
func skipped(r routing.Result) []string {
	var out []string
	for _, s := range r.Skipped {
		out = append(out, s.Service+": "+s.Reason)
	}
	return out
}

func TestMatch(t *testing.T) {
	cfg := routes(t)
	with := func(p *gitlabhook.Push, edit func(*gitlabhook.Push)) *gitlabhook.Push { edit(p); return p }
	tests := []struct {
		name    string
		push    *gitlabhook.Push
		targets []string
		skipped []string // substrings, one per skip, in service order
		reason  string   // substring; "" means no reason
	}{
		{name: "branch main", push: branchPush("ic/core", 7, "main"), targets: []string{"core"}},
		{name: "tag naming no commit (checkout_sha null)", push: with(tagPush("ic/core", 7, "v1.0.0"), func(p *gitlabhook.Push) { p.CommitSHA = "" }),
			reason: "tag v1.0.0 names no commit to build"},
		{name: "project path in another case", push: branchPush("IC/Core", 7, "main"), targets: []string{"core"}},
		{name: "unrouted branch", push: branchPush("ic/core", 7, "feature/login"),
			skipped: []string{"core: branch feature/login matches none of [main]"}},
		{name: "monorepo: one service matched, one skipped",
			push:    branchPush("ic/platform", 9, "main", "services/billing/api/handler.go", "README.md"),
			targets: []string{"billing"},
			skipped: []string{
				"search: no changed file matches paths [services/search/**]",
				"platform-tools: branch main matches none of [release/*]",
			}},
		{name: "monorepo: ** spans directories, any glob of the list",
			push:    branchPush("ic/platform", 9, "main", "libs/money/currency/eur/round.go"),
			targets: []string{"billing"},
			skipped: []string{"search: no changed file", "platform-tools: branch main"}},
		{name: "monorepo: both services, and release/* ",
			push:    branchPush("ic/platform", 9, "release/2.4", "services/search/index.go", "services/billing/x.go"),
			targets: []string{"billing", "search", "platform-tools"}},
		{name: "monorepo: ** does not match a sibling directory",
			push:    branchPush("ic/platform", 9, "release/2.4", "services/billing-old/x.go", "services/searchlight/y.go"),
			targets: []string{"platform-tools"},
			skipped: []string{"billing: no changed file", "search: no changed file"}},
		{name: "release/* is one level deep",
			push: branchPush("ic/platform", 9, "release/2.4/hotfix", "services/search/index.go"),
			skipped: []string{
				"billing: branch release/2.4/hotfix matches none of [main release/*]",
				"search: branch release/2.4/hotfix matches none",
				"platform-tools: branch release/2.4/hotfix matches none of [release/*]",
			}},
		{name: "tag matching v*", push: tagPush("ic/core", 7, "v1.2.0"), targets: []string{"core"}},
		{name: "tag not matching v*", push: tagPush("ic/core", 7, "nightly-2024"),
			skipped: []string{"core: tag nightly-2024 matches none of [v*]"}},
		{name: "tag push ignores paths, even unknown ones", push: tagPush("ic/platform", 9, "v3.0.0"),
			targets: []string{"billing", "search", "platform-tools"}},
		{name: "unrouted project", push: branchPush("ic/other", 99, "main"),
			reason: "project ic/other (id 99) is not routed"},
		{name: "project by numeric id", push: branchPush("someone/renamed-legacy", 42, "main"),
			targets: []string{"legacy"}},
		{name: "numeric id of another project", push: branchPush("someone/else", 420, "main"),
			reason: "not routed"},
		{name: "deleted branch", push: with(branchPush("ic/core", 7, "main"), func(p *gitlabhook.Push) {
			p.After, p.CommitSHA, p.HeadMessage = gitlabhook.ZeroSHA, "", ""
		}), reason: "branch main was deleted"},
		{name: "deleted tag", push: with(tagPush("ic/core", 7, "v1.2.0"), func(p *gitlabhook.Push) {
			p.Before, p.After, p.CommitSHA = after, gitlabhook.ZeroSHA, ""
		}), reason: "tag v1.2.0 was deleted"},
		{name: "[skip ci]", push: with(branchPush("ic/core", 7, "main"), func(p *gitlabhook.Push) {
			p.HeadMessage = "Update docs [skip ci]\n"
		}), reason: "[skip ci]"},
		{name: "[CI SKIP] in the body", push: with(branchPush("ic/core", 7, "main"), func(p *gitlabhook.Push) {
			p.HeadMessage = "Update docs\n\nNothing to build. [CI SKIP]\n"
		}), reason: "[ci skip]"},
		{name: "[Skip CI] on a tag", push: with(tagPush("ic/core", 7, "v1.2.0"), func(p *gitlabhook.Push) {
			p.HeadMessage = "[Skip CI] release"
		}), reason: "[skip ci]"},
		{name: "skip ci without brackets starts", push: with(branchPush("ic/core", 7, "main"), func(p *gitlabhook.Push) {
			p.HeadMessage = "Make the skip ci marker case-insensitive"
		}), targets: []string{"core"}},
		{name: "branches unset: the default branch", push: with(branchPush("ic/docs", 11, "trunk"), func(p *gitlabhook.Push) {
			p.DefaultBranch = "trunk"
		}), targets: []string{"docs"}},
		{name: "branches unset: not another branch", push: with(branchPush("ic/docs", 11, "main"), func(p *gitlabhook.Push) {
			p.DefaultBranch = "trunk"
		}), skipped: []string{"docs: branch main matches none of [trunk]"}},
		{name: "branches unset and no default branch known", push: with(branchPush("ic/docs", 11, "main"), func(p *gitlabhook.Push) {
			p.DefaultBranch = ""
		}), skipped: []string{"docs: branch main: the service starts on no branches"}},
		{name: "tags set empty: no tag starts", push: tagPush("ic/docs", 11, "v1.0.0"),
			skipped: []string{"docs: tag v1.0.0: the service starts on no tags"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cfg.Match(tt.push)
			if got := targets(r); !slices.Equal(got, tt.targets) {
				t.Errorf("targets %q, want %q", got, tt.targets)
			}
			got := skipped(r)
			if len(got) != len(tt.skipped) {
				t.Errorf("skipped %q, want %q", got, tt.skipped)
			} else {
				for i := range got {
					if !strings.Contains(got[i], tt.skipped[i]) {
						t.Errorf("skip %d is %q, want %q", i, got[i], tt.skipped[i])
					}
				}
			}
			if tt.reason == "" && r.Reason != "" || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("reason %q, want %q", r.Reason, tt.reason)
			}
			if r.NeedPaths {
				t.Error("NeedPaths with the push's files known")
			}
		})
	}
}

func TestMatchNeedPaths(t *testing.T) {
	cfg := routes(t)

	// A push whose files GitLab did not all list (more than 20 commits, a new branch).
	p := branchPush("ic/platform", 9, "release/2.4")
	p.PathsKnown = false
	r := cfg.Match(p)
	if !r.NeedPaths {
		t.Fatalf("NeedPaths = false for services with paths and unknown files: %+v", r)
	}
	if want := []string{"ic/platform"}; !slices.Equal(r.PathProjects, want) {
		t.Fatalf("PathProjects %q, want %q: the project as the routing file names it", r.PathProjects, want)
	}
	// platform-tools has no paths and would start, but nothing starts on half an answer.
	if len(r.Targets) != 0 || r.Reason != "" {
		t.Fatalf("targets %q reason %q with NeedPaths", targets(r), r.Reason)
	}

	// The caller fetches the files (compare API) and asks again.
	p.ChangedPaths, p.PathsKnown = []string{"services/search/api/v2/query.go"}, true
	r = cfg.Match(p)
	if r.NeedPaths {
		t.Fatal("NeedPaths with the files known")
	}
	if got, want := targets(r), []string{"search", "platform-tools"}; !slices.Equal(got, want) {
		t.Fatalf("targets %q, want %q", got, want)
	}
	if got := skipped(r); len(got) != 1 || !strings.HasPrefix(got[0], "billing: no changed file matches") {
		t.Fatalf("skipped %q", got)
	}

	// Unknown files do not matter when no service of the project filters on paths.
	q := branchPush("ic/core", 7, "main")
	q.PathsKnown = false
	if r := cfg.Match(q); r.NeedPaths || !slices.Equal(targets(r), []string{"core"}) {
		t.Fatalf("core push with unknown files: NeedPaths %v targets %q", r.NeedPaths, targets(r))
	}
	// Nor when the only services with paths are skipped for their branch.
	q = branchPush("ic/platform", 9, "feature/x")
	q.PathsKnown = false
	if r := cfg.Match(q); r.NeedPaths || len(r.Targets) != 0 || len(r.Skipped) != 3 {
		t.Fatalf("feature push with unknown files: %+v", r)
	}
}

// TestMatchDecodedPayload routes GitLab's documented push payload end to end.
func TestMatchDecodedPayload(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "gitlabhook", "testdata", "webhook_push.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := gitlabhook.Decode(map[string][]string{"X-Gitlab-Event": {"Push Hook"}}, body)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := routing.Parse([]byte(fmt.Sprintf(`services:
  - name: diaspora
    project: "%d"
    pipeline: diaspora-pipeline
  - name: diaspora-app
    project: Mike/Diaspora
    pipeline: diaspora-app-pipeline
    branches: [master]
    paths: ["app/**"]
`, ev.Push.ProjectID)))
	if err != nil {
		t.Fatal(err)
	}
	// The payload lists 2 of 4 commits: the path filter needs the compare API first.
	r := cfg.Match(ev.Push)
	if !r.NeedPaths || len(r.Targets) != 0 {
		t.Fatalf("NeedPaths %v targets %q", r.NeedPaths, targets(r))
	}
	// Only diaspora-app waits for the paths: they come from its project, as named.
	if want := []string{"Mike/Diaspora"}; !slices.Equal(r.PathProjects, want) {
		t.Fatalf("PathProjects %q, want %q", r.PathProjects, want)
	}
	ev.Push.PathsKnown = true
	r = cfg.Match(ev.Push)
	if got, want := targets(r), []string{"diaspora", "diaspora-app"}; !slices.Equal(got, want) {
		t.Fatalf("targets %q, want %q (skipped %q)", got, want, skipped(r))
	}
}

// MatchesAny is the one glob rule for branches, tags and paths.
func TestMatchesAny(t *testing.T) {
	for _, tt := range []struct {
		globs []string
		name  string
		want  bool
	}{
		{[]string{"main"}, "main", true},
		{[]string{"main"}, "mainline", false},
		{[]string{"main", "release/*"}, "release/2.4", true},
		{[]string{"release/*"}, "release/2.4/hotfix", false}, // * stays within a segment
		{[]string{"release/**"}, "release/2.4/hotfix", true},
		{[]string{"v*"}, "v1.2.0", true},
		{nil, "main", false},
		{[]string{"main"}, "", false},
	} {
		if got := routing.MatchesAny(tt.globs, tt.name); got != tt.want {
			t.Errorf("MatchesAny(%q, %q) = %v, want %v", tt.globs, tt.name, got, tt.want)
		}
	}
}
