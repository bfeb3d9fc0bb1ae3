package setup

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/routing"
)

// connections is a CodeConnections source action.
func connections(name, repo, branch, detect string) Action {
	cfg := map[string]string{"ConnectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:connection/x", "FullRepositoryId": repo, "BranchName": branch}
	if detect != "" {
		cfg["DetectChanges"] = detect
	}
	return Action{Name: name, Category: "Source", Provider: ConnectionsProvider, RunOrder: 1, Configuration: cfg}
}

func act(name, category, provider string, order int) Action {
	return Action{Name: name, Category: category, Provider: provider, RunOrder: order}
}

// shipped is the shape of pipelines/service-pipeline.yaml: the approval and the
// production deploy in one stage, one after the other.
func shipped(name, repo string) Pipeline {
	return Pipeline{Name: name, Stages: []Stage{
		{"Source", []Action{connections("Source", repo, "main", "false")}},
		{"Build", []Action{act("Build", "Build", "CodeBuild", 1)}},
		{"Staging", []Action{act("DeployStaging", "Deploy", "ECS", 1)}},
		{"Production", []Action{act("ApproveProduction", "Approval", "Manual", 1), act("DeployProduction", "Deploy", "ECS", 2)}},
	}}
}

func TestFromPipelines(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pipeline Pipeline
		group    string
		want     string // the service, as "name project pipeline source branches staging stage/approval"
		why      []string
		skip     string // else the reason it is skipped
	}{
		{name: "pipegate's own pipeline template", pipeline: shipped("core-pipeline", "acme/core"),
			want: "core acme/core core-pipeline Source [main] Staging Production/ApproveProduction",
			why: []string{
				"project acme/core, branch main: from source action Source (CodeConnections: FullRepositoryId, BranchName)",
				"production gate: ApproveProduction in stage Production, the manual approval before the last deploy (DeployProduction in stage Production)",
				"staging: stage Staging, of the last deploy before the gate (DeployStaging)",
			}},
		{name: "the approval in a stage of its own", pipeline: Pipeline{Name: "web-deploy", Stages: []Stage{
			{"Checkout", []Action{connections("GitLab", "acme/web", "trunk", "false")}},
			{"Beta", []Action{act("Deploy", "Deploy", "CloudFormation", 1)}},
			{"Gate", []Action{act("Approve", "Approval", "Manual", 1)}},
			{"Prod", []Action{act("Deploy", "Deploy", "CloudFormation", 1)}},
		}}, want: "web-deploy acme/web web-deploy GitLab [trunk] Beta Gate/Approve"},
		{name: "the last of two approvals before the deploy", pipeline: Pipeline{Name: "api-pipeline", Stages: []Stage{
			{"Source", []Action{connections("Source", "acme/api", "main", "false")}},
			{"QA", []Action{act("SignOff", "Approval", "Manual", 1), act("Deploy", "Deploy", "ECS", 2)}},
			{"Production", []Action{act("Approve", "Approval", "Manual", 1), act("Deploy", "Deploy", "ECS", 2), act("Late", "Approval", "Manual", 3)}},
		}}, want: "api acme/api api-pipeline Source [main] QA Production/Approve"},
		{name: "no deploy before the gate", pipeline: Pipeline{Name: "lib_pipeline", Stages: []Stage{
			{"Source", []Action{connections("Source", "acme/lib", "main", "false")}},
			{"Release", []Action{act("Approve", "Approval", "Manual", 1), act("Publish", "Deploy", "S3", 2)}},
		}}, want: "lib acme/lib lib_pipeline Source [main]  Release/Approve",
			why: []string{"", "", "staging: no deploy before the gate's stage, so the badge shows no staging result"}},
		{name: "change detection on", pipeline: func() Pipeline {
			p := shipped("core-pipeline", "acme/core")
			delete(p.Stages[0].Actions[0].Configuration, "DetectChanges")
			return p
		}(), want: "core acme/core core-pipeline Source [main] Staging Production/ApproveProduction",
			why: []string{"", "", "", `warning: Source's change detection is on (DetectChanges is not set, which means true): CodeConnections starts the pipeline on every push as well as pipegate; set DetectChanges to false`}},
		{name: "an S3 source", pipeline: Pipeline{Name: "legacy", Stages: []Stage{
			{"Source", []Action{act("Artifact", "Source", "S3", 1)}},
			{"Deploy", []Action{act("Approve", "Approval", "Manual", 1), act("Deploy", "Deploy", "S3", 2)}},
		}}, skip: "no CodeConnections source action (its source: Artifact (S3)); pipegate starts pipelines at a GitLab commit through one"},
		{name: "no source at all", pipeline: Pipeline{Name: "empty", Stages: []Stage{{"Deploy", []Action{act("Deploy", "Deploy", "S3", 1)}}}},
			skip: "it has no source action"},
		{name: "two GitLab sources", pipeline: Pipeline{Name: "both", Stages: []Stage{
			{"Source", []Action{connections("App", "acme/app", "main", "false"), connections("Infra", "acme/infra", "main", "false")}},
			{"Deploy", []Action{act("Approve", "Approval", "Manual", 1), act("Deploy", "Deploy", "S3", 2)}},
		}}, skip: "2 CodeConnections source actions (App: acme/app, Infra: acme/infra); pipegate starts a pipeline at one commit of one project"},
		{name: "a source without a repository", pipeline: Pipeline{Name: "norepo", Stages: []Stage{
			{"Source", []Action{{Name: "Source", Category: "Source", Provider: ConnectionsProvider, RunOrder: 1}}},
		}}, skip: "its source action Source names no FullRepositoryId"},
		{name: "nothing deployed", pipeline: Pipeline{Name: "ci", Stages: []Stage{
			{"Source", []Action{connections("Source", "acme/ci", "main", "false")}},
			{"Test", []Action{act("Test", "Test", "CodeBuild", 1)}},
		}}, skip: "it has no deploy action: pipegate gates a pipeline's production deploy"},
		{name: "no approval", pipeline: Pipeline{Name: "yolo", Stages: []Stage{
			{"Source", []Action{connections("Source", "acme/yolo", "main", "false")}},
			{"Prod", []Action{act("Deploy", "Deploy", "ECS", 1)}},
		}}, skip: "no manual approval action before its last deploy (Deploy in stage Prod): pipegate's production gate answers one"},
		{name: "the approval beside the deploy, not before it", pipeline: Pipeline{Name: "parallel", Stages: []Stage{
			{"Source", []Action{connections("Source", "acme/p", "main", "false")}},
			{"Prod", []Action{act("Approve", "Approval", "Manual", 1), act("Deploy", "Deploy", "ECS", 1)}},
		}}, skip: "no manual approval action before its last deploy (Deploy in stage Prod): pipegate's production gate answers one"},
		{name: "a project outside the group", pipeline: shipped("gh-pipeline", "octo/app"), group: "acme",
			skip: "its project octo/app is outside group acme"},
		{name: "a project inside the group, any case", pipeline: shipped("core-pipeline", "Acme/core"), group: "acme/",
			want: "core Acme/core core-pipeline Source [main] Staging Production/ApproveProduction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			services, skipped := FromPipelines([]Pipeline{tc.pipeline}, tc.group)
			if tc.skip != "" {
				if len(services) != 0 || len(skipped) != 1 || skipped[0] != (Skip{tc.pipeline.Name, tc.skip}) {
					t.Errorf("services %+v, skipped %+v; want skipped: %s", services, skipped, tc.skip)
				}
				return
			}
			if len(skipped) != 0 || len(services) != 1 {
				t.Fatalf("services %+v, skipped %+v", services, skipped)
			}
			s := services[0]
			got := fmt.Sprintf("%s %s %s %s %v %s %s/%s", s.Name, s.Project, s.Pipeline, s.SourceAction, s.Branches, s.StagingStage, s.ProductionStage, s.ApprovalAction)
			if got != tc.want {
				t.Errorf("service\n got %s\nwant %s", got, tc.want)
			}
			for i, w := range tc.why {
				if w != "" && (i >= len(s.Why) || s.Why[i] != w) {
					t.Errorf("why[%d]: got %q, want %q", i, s.Why, w)
				}
			}
		})
	}
}

// Services are named after their pipelines; two that would share a name keep
// their pipelines' names, and the order is the pipelines' names'.
func TestFromPipelinesNames(t *testing.T) {
	services, _ := FromPipelines([]Pipeline{
		shipped("web-Pipeline", "acme/web"), shipped("core", "acme/core2"), shipped("core-pipeline", "acme/core"),
	}, "")
	var names []string
	for _, s := range services {
		names = append(names, s.Name)
	}
	if want := []string{"core", "core-pipeline", "web"}; !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
}

func TestFromNames(t *testing.T) {
	services, err := FromNames("acme/", []string{"api", "web"}, []string{"", "web-deploy"}, "main")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(services[0].Project, " ", services[0].Pipeline, " ", services[1].Project, " ", services[1].Pipeline, " ", services[1].Branches); got != "acme/api api-pipeline acme/web web-deploy [main]" {
		t.Errorf("services %s", got)
	}
	for _, tc := range []struct {
		group     string
		services  []string
		pipelines []string
		want      string
	}{
		{"", []string{"api"}, nil, "no group"},
		{"acme", nil, nil, "no services"},
		{"acme", []string{"api", "api"}, nil, `service "api" is named twice`},
		{"acme", []string{"api", ""}, nil, "service 2 has no name"},
		{"acme", []string{"a/b"}, nil, "no spaces or slashes"},
		{"acme", []string{"api", "web"}, []string{"p"}, "1 pipelines for 2 services"},
	} {
		if _, err := FromNames(tc.group, tc.services, tc.pipelines, "main"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromNames(%q, %q, %q): %v, want %q", tc.group, tc.services, tc.pipelines, err, tc.want)
		}
	}
}

// What Render writes parses with internal/routing, as the functions read it, to
// the services it was given: shared values through defaults, the others per service.
func TestRenderParses(t *testing.T) {
	services, skipped := FromPipelines([]Pipeline{
		shipped("api-pipeline", "acme/api"),
		{Name: "web-deploy", Stages: []Stage{
			{"Checkout", []Action{connections("GitLab", "acme/web", "release/*", "false")}},
			{"Gate", []Action{act("Approve", "Approval", "Manual", 1)}},
			{"Prod", []Action{act("Deploy", "Deploy", "CloudFormation", 1)}},
		}},
		{Name: "legacy", Stages: []Stage{{"Source", []Action{act("Artifact", "Source", "S3", 1)}}}},
	}, "")
	for _, f := range []RoutingFile{
		{Origin: "Written by a test.", Services: services, Skipped: skipped},
		{Services: services[:1]},
		{Services: []Service{{Name: "true", Project: "1234", Pipeline: "no", SourceAction: "on: off", Branches: []string{"*"}}}},
	} {
		out := Render(f)
		cfg, err := routing.Parse(out)
		if err != nil {
			t.Fatalf("the file does not parse: %v\n%s", err, out)
		}
		if len(cfg.Services) != len(f.Services) {
			t.Fatalf("%d services, want %d\n%s", len(cfg.Services), len(f.Services), out)
		}
		for i, want := range f.Services {
			got := cfg.Services[i]
			if got.Name != want.Name || got.Project != want.Project || got.Pipeline != want.Pipeline || got.SourceAction != want.SourceAction ||
				!slices.Equal(got.Branches, want.Branches) ||
				(want.StagingStage != "" && got.StagingStage != want.StagingStage) ||
				(want.ProductionStage != "" && got.Production.Stage != want.ProductionStage) ||
				(want.ApprovalAction != "" && got.Production.ApprovalAction != want.ApprovalAction) {
				t.Errorf("service %d reads back as %+v, want %+v\n%s", i, got, want, out)
			}
			if got.Production.MinApprovals != 1 || got.Production.NoMergeRequest != "wait" || len(got.Tags) != 0 {
				t.Errorf("service %d's policy %+v, tags %v: want 1 approval, wait, no tags", i, got.Production, got.Tags)
			}
		}
	}
}
