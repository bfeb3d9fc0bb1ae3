package routing_test

import (
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/routing"
)

// TestEnvironments checks the environments each service deploys to: its own,
// else staging/production for a project's only service and
// <service>/staging, <service>/production for a monorepo's services.
func TestEnvironments(t *testing.T) {
	data := `services:
  - {name: core, project: team/core, pipeline: core-pipeline}
  - {name: billing, project: team/platform, pipeline: billing-pipeline, paths: ["billing/**"]}
  - {name: search, project: Team/Platform, pipeline: search-pipeline, paths: ["search/**"]}
  - name: docs
    project: team/docs
    pipeline: docs-pipeline
    staging_stage: Preview
    environments: {staging: review/docs}
  - name: web
    project: team/web
    pipeline: web-pipeline
    environments:
      staging: web staging
      production: web/live
`
	cfg, err := routing.Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]routing.Environments{
		"core":    {Staging: "staging", Production: "production"},
		"billing": {Staging: "billing/staging", Production: "billing/production"},
		"search":  {Staging: "search/staging", Production: "search/production"}, // the project's case differs: still the same project
		"docs":    {Staging: "review/docs", Production: "production"},
		"web":     {Staging: "web staging", Production: "web/live"},
	}
	for _, s := range cfg.Services {
		if s.Environments != want[s.Name] {
			t.Errorf("%s: %+v, want %+v", s.Name, s.Environments, want[s.Name])
		}
	}
	docs, _ := cfg.Named("docs")
	for _, tt := range []struct {
		stage, env string
		ok         bool
	}{
		{"Preview", "review/docs", true},
		{"Production", "production", true},
		{"Staging", "", false}, // docs calls its staging stage Preview
		{"Build", "", false},
		{"", "", false}, // the pipeline's own state deploys nothing
	} {
		if env, ok := docs.Environment(tt.stage); env != tt.env || ok != tt.ok {
			t.Errorf("Environment(%q) = %q, %v; want %q, %v", tt.stage, env, ok, tt.env, tt.ok)
		}
	}
}

func TestEnvironmentErrors(t *testing.T) {
	svc := "services:\n  - name: core\n    project: team/core\n    pipeline: core-pipeline\n"
	tests := []struct {
		name, file, want string
	}{
		{"unknown field", svc + "    environments: {stagin: qa}\n",
			"line 5: field stagin not found in services[0] (core).environments; did you mean staging?"},
		{"not a mapping", svc + "    environments: staging\n",
			"line 5: services[0] (core).environments must be a mapping of its fields (staging, production)"},
		{"in defaults", "defaults:\n  environments: {staging: qa}\n" + svc,
			"line 2: defaults may not set environments: each service deploys to its own GitLab environments"},
		{"bad character", svc + "    environments: {production: \"prod:eu\"}\n",
			`line 2: services[0] (core): environments.production "prod:eu" has ':': GitLab allows only letters`},
		{"slash at the end", svc + "    environments: {staging: qa/}\n",
			`environments.staging "qa/" may not start or end with "/"`},
		{"empty", svc + "    environments: {staging: \" \"}\n",
			`environments.staging " " is empty`},
		{"too long", svc + "    environments: {staging: " + strings.Repeat("q", 256) + "}\n",
			"is longer than GitLab's 255 characters"},
		{"both the same", svc + "    environments: {staging: live, production: live}\n",
			`environments.staging and environments.production are both "live"`},
		{"shared with another service", svc + "    paths: [core/**]\n    environments: {production: live}\n" +
			"  - {name: api, project: team/core, pipeline: api-pipeline, paths: [api/**], environments: {production: live}}\n",
			`line 7: services[1] (api): environment "live" of project team/core is already the service core's (line 2)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := routing.Parse([]byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
	// Services of different projects may use the same names: they are different environments.
	ok := svc + "  - {name: api, project: team/api, pipeline: api-pipeline}\n"
	if _, err := routing.Parse([]byte(ok)); err != nil {
		t.Errorf("two projects' services both deploying to production: %v", err)
	}
}
