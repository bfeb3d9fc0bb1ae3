package setup

import (
	"strings"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/routing"
)

const doctorRouting = `services:
  - name: api
    project: acme/api
    pipeline: api-pipeline
  - name: web
    project: "7"
    pipeline: web-deploy
    production: {stage: Release, approval_action: Approve}
`

// healthy is a setup where every check passes.
func healthy(t *testing.T) Facts {
	t.Helper()
	routes, err := routing.Parse([]byte(doctorRouting))
	if err != nil {
		t.Fatal(err)
	}
	web := Pipeline{Name: "web-deploy", Stages: []Stage{
		{"Source", []Action{connections("Source", "acme/web", "main", "false")}},
		{"Release", []Action{act("Approve", "Approval", "Manual", 1), act("Deploy", "Deploy", "ECS", 2)}},
	}}
	hook := Wanted(hookURL)
	hook.AlertStatus = "executable"
	return Facts{
		Routes: routes, RoutingFile: "pipegate.yaml", Region: "eu-west-1",
		Stack: StackFacts{Name: "pipegate", Status: "UPDATE_COMPLETE",
			Parameters: map[string]string{"PipelineNames": "api-pipeline,web-deploy,other", "GitLabUrl": "https://gitlab.acme.example"},
			Outputs:    map[string]string{"WebhookUrl": hookURL}},
		WebhookURL: hookURL,
		Secrets: []SecretFacts{
			{Output: OutputWebhookSecret, ARN: "arn:ws"},
			{Output: OutputGitLabToken, ARN: "arn:gt"},
		},
		Pipelines: map[string]PipelineFacts{
			"api-pipeline": {Declaration: shipped("api-pipeline", "acme/api")},
			"web-deploy":   {Declaration: web},
		},
		GitLab: GitLabFacts{
			URL:    "https://gitlab.acme.example",
			Tokens: []TokenFacts{{Who: "GITLAB_TOKEN", Scopes: []string{"api", "read_repository"}, Active: true}},
			Projects: map[string]ProjectFacts{
				"acme/api": {Path: "acme/api", Hooks: []Hook{with(hook, 1)}},
				"7":        {Path: "acme/web", Hooks: []Hook{{ID: 2, URL: "https://ci.example/"}, with(hook, 3)}},
			},
		},
	}
}

func with(h Hook, id int64) Hook { h.ID = id; return h }

func failed(checks []Check) []Check {
	var out []Check
	for _, c := range checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

func TestDoctorAllPass(t *testing.T) {
	checks := Doctor(healthy(t))
	if f := failed(checks); len(f) > 0 {
		t.Fatalf("failed: %+v", f)
	}
	var says []string
	for _, c := range checks {
		says = append(says, c.Area+": "+c.Says)
	}
	want := []string{
		"Stack: stack pipegate is UPDATE_COMPLETE",
		"Stack: secret arn:ws (WebhookSecretArn) holds a value",
		"Stack: secret arn:gt (GitLabTokenSecretArn) holds a value",
		"Stack: the event rule takes every routed pipeline (stack parameter PipelineNames)",
		"Pipelines: api-pipeline: source action Source reads acme/api through CodeConnections",
		"Pipelines: api-pipeline: Source's change detection is off: only pipegate starts it",
		"Pipelines: api-pipeline: production gate ApproveProduction in stage Production is a manual approval",
		"Pipelines: web-deploy: source action Source reads acme/web through CodeConnections",
		"Pipelines: web-deploy: Source's change detection is off: only pipegate starts it",
		"Pipelines: web-deploy: production gate Approve in stage Release is a manual approval",
		"GitLab: GITLAB_TOKEN has scope api",
		"GitLab: the token reaches acme/api",
		"GitLab: acme/api has pipegate's webhook (hook 1): push, tag push and merge request events, SSL verification",
		"GitLab: GitLab delivers to acme/api's webhook (alert_status executable)",
		"GitLab: the token reaches 7",
		"GitLab: 7 has pipegate's webhook (hook 3): push, tag push and merge request events, SSL verification",
		"GitLab: GitLab delivers to 7's webhook (alert_status executable)",
	}
	if strings.Join(says, "\n") != strings.Join(want, "\n") {
		t.Errorf("checks:\n%s\nwant:\n%s", strings.Join(says, "\n"), strings.Join(want, "\n"))
	}
}

// Each thing wrong is one ✗, saying what and how to mend it.
func TestDoctorEachFailure(t *testing.T) {
	for _, tc := range []struct {
		name        string
		break_      func(f *Facts)
		says, fix   string
		moreFailing int // other ✗ that follow from it
	}{
		{"the stack cannot be read", func(f *Facts) { f.Stack = StackFacts{Name: "pipegate", Err: "AccessDenied"}; f.Secrets = nil },
			"cannot read stack pipegate: AccessDenied", "cloudformation:DescribeStacks", 0},
		{"no stack", func(f *Facts) {
			f.Stack = StackFacts{Name: "pipegate", Missing: true}
			f.Secrets, f.WebhookURL = nil, ""
		},
			"no stack pipegate in eu-west-1", "sam deploy", 1},
		{"a stack that failed", func(f *Facts) { f.Stack.Status = "UPDATE_ROLLBACK_FAILED" },
			"stack pipegate is UPDATE_ROLLBACK_FAILED", "describe-stack-events --stack-name pipegate", 0},
		{"a stack being deployed", func(f *Facts) { f.Stack.Status = "UPDATE_IN_PROGRESS" },
			"stack pipegate is UPDATE_IN_PROGRESS", "wait for it to finish", 0},
		{"no webhook URL", func(f *Facts) { f.WebhookURL = "" },
			"stack pipegate has no output WebhookUrl", "give --url", 0},
		{"an empty webhook secret", func(f *Facts) { f.Secrets[0].Empty = true },
			"secret arn:ws (WebhookSecretArn) holds no value", "put-secret-value --secret-id arn:ws --secret-string <a long random string>, then pipegate hooks --update-token", 0},
		{"an empty token secret", func(f *Facts) { f.Secrets[1].Empty = true },
			"secret arn:gt (GitLabTokenSecretArn) holds no value", "--secret-string <your GitLab token, scope api>", 0},
		{"an unreadable secret", func(f *Facts) { f.Secrets[1].Err = "AccessDeniedException" },
			"cannot read secret arn:gt (GitLabTokenSecretArn): AccessDeniedException", "secretsmanager:GetSecretValue", 0},
		{"a stack without a secret's output", func(f *Facts) { f.Secrets[0].ARN = "" },
			"stack pipegate has no output WebhookSecretArn", "deploy the current template.yaml", 0},
		{"another GitLab than the stack's", func(f *Facts) { f.GitLab.EnvURL = "https://gitlab.com" },
			"pipegate calls GitLab at https://gitlab.acme.example (the stack's GitLabUrl), but GITLAB_URL is https://gitlab.com", "deploy with GitLabUrl=https://gitlab.com", 0},
		{"the event rule leaves a pipeline out", func(f *Facts) { f.Stack.Parameters["PipelineNames"] = "api-pipeline" },
			"the event rule (stack parameter PipelineNames) leaves out web-deploy", "deploy with PipelineNames=api-pipeline,web-deploy", 0},
		{"no PipelineNames", func(f *Facts) { delete(f.Stack.Parameters, "PipelineNames") },
			"stack pipegate has no parameter PipelineNames", "deploy the current template.yaml", 0},
		{"a pipeline that does not exist", func(f *Facts) { f.Pipelines["web-deploy"] = PipelineFacts{Missing: true} },
			"pipeline web-deploy (service web) does not exist in eu-west-1", "name the pipeline of service web, pipegate.yaml line 5", 0},
		{"a pipeline that cannot be read", func(f *Facts) { f.Pipelines["web-deploy"] = PipelineFacts{Err: "AccessDeniedException"} },
			"cannot read pipeline web-deploy: AccessDeniedException", "codepipeline:GetPipeline", 0},
		{"a source action of another name", func(f *Facts) {
			p := f.Pipelines["api-pipeline"]
			p.Declaration.Stages[0].Actions[0].Name = "Checkout"
			f.Pipelines["api-pipeline"] = p
		}, "api-pipeline has no action Source (its source actions: Checkout)", "set source_action to one of them (service api, pipegate.yaml line 2)", 0},
		{"the source action names a build", func(f *Facts) {
			p := f.Pipelines["api-pipeline"]
			p.Declaration.Stages[0].Actions[0].Name = "Src"
			p.Declaration.Stages[1].Actions[0].Name = "Source"
			f.Pipelines["api-pipeline"] = p
		}, "api-pipeline's action Source is a Build action, not its source", "set source_action", 0},
		{"an S3 source", func(f *Facts) {
			p := f.Pipelines["api-pipeline"]
			p.Declaration.Stages[0].Actions[0].Provider = "S3"
			f.Pipelines["api-pipeline"] = p
		}, "api-pipeline's source action Source reads from S3: pipegate starts a pipeline at a GitLab commit", "make Source a CodeConnections source action of project acme/api", 0},
		{"the source reads another project", func(f *Facts) {
			p := f.Pipelines["web-deploy"]
			p.Declaration.Stages[0].Actions[0].Configuration = map[string]string{"FullRepositoryId": "acme/website", "DetectChanges": "false"}
			f.Pipelines["web-deploy"] = p
		}, "web-deploy's source action Source reads acme/website, but service web is project acme/web", "point Source at acme/web (FullRepositoryId), or route project acme/website", 0},
		{"a source without a repository", func(f *Facts) {
			p := f.Pipelines["api-pipeline"]
			delete(p.Declaration.Stages[0].Actions[0].Configuration, "FullRepositoryId")
			f.Pipelines["api-pipeline"] = p
		}, "api-pipeline's source action Source names no repository (FullRepositoryId)", "set FullRepositoryId of Source to acme/api", 0},
		{"change detection on", func(f *Facts) {
			p := f.Pipelines["api-pipeline"]
			p.Declaration.Stages[0].Actions[0].Configuration["DetectChanges"] = "true"
			f.Pipelines["api-pipeline"] = p
		}, `api-pipeline: Source's change detection is on (DetectChanges "true")`, `set DetectChanges to "false"`, 0},
		{"no production stage", func(f *Facts) {
			p := f.Pipelines["api-pipeline"]
			p.Declaration.Stages[3].Name = "Prod"
			f.Pipelines["api-pipeline"] = p
		}, "api-pipeline has no stage Production (its stages: Source, Build, Staging, Prod)", "set production.stage", 0},
		{"no approval action", func(f *Facts) {
			p := f.Pipelines["web-deploy"]
			p.Declaration.Stages[1].Actions[0].Name = "Gate"
			f.Pipelines["web-deploy"] = p
		}, "stage Release of web-deploy has no action Approve (its actions: Gate, Deploy)", "set production.approval_action", 0},
		{"the approval is no manual approval", func(f *Facts) {
			p := f.Pipelines["web-deploy"]
			p.Declaration.Stages[1].Actions[0] = act("Approve", "Invoke", "Lambda", 1)
			f.Pipelines["web-deploy"] = p
		}, "Approve in stage Release of web-deploy is a Invoke action (Lambda), not a manual approval", "production.approval_action", 0},
		{"no token", func(f *Facts) { f.GitLab.Tokens = nil },
			"no GitLab token", "set GITLAB_TOKEN", 0},
		{"a token GitLab refuses", func(f *Facts) {
			f.GitLab.Tokens[0] = TokenFacts{Who: "GITLAB_TOKEN", Err: "401 Unauthorized", Status: 401}
		},
			"GitLab at https://gitlab.acme.example refuses GITLAB_TOKEN (401 Unauthorized)", "set GITLAB_TOKEN", 0},
		{"pipegate's token still the stack's random one", func(f *Facts) {
			f.GitLab.Tokens = append(f.GitLab.Tokens, TokenFacts{Who: "pipegate's token (secret arn:gt)", SecretARN: "arn:gt", Err: "401", Status: 401})
		}, "refuses pipegate's token (secret arn:gt) (401 Unauthorized)", "put-secret-value --secret-id arn:gt", 0},
		{"a token without api", func(f *Facts) { f.GitLab.Tokens[0].Scopes = []string{"read_api"} },
			"GITLAB_TOKEN has scopes read_api, not api", "make a token with scope api", 0},
		{"a revoked token", func(f *Facts) { f.GitLab.Tokens[0].Revoked = true },
			"GITLAB_TOKEN is revoked or expired", "make a token", 0},
		{"a project the token does not reach", func(f *Facts) {
			f.GitLab.Projects["7"] = ProjectFacts{ReachErr: "404 Not Found", ReachStatus: 404}
			p := f.Pipelines["web-deploy"] // routed by id: its path is unknown, so the source is not compared
			p.Declaration.Stages[0].Actions[0].Configuration["FullRepositoryId"] = "elsewhere/x"
			f.Pipelines["web-deploy"] = p
		}, "the token does not reach project 7 (404", "add the token's user to 7", 0},
		{"hooks the token may not list", func(f *Facts) {
			p := f.GitLab.Projects["acme/api"]
			p.Hooks, p.HooksErr, p.HooksStatus = nil, "403 Forbidden", 403
			f.GitLab.Projects["acme/api"] = p
		}, "cannot list the webhooks of acme/api (403): that takes the Maintainer role", "a Maintainer of acme/api", 0},
		{"no webhook", func(f *Facts) {
			p := f.GitLab.Projects["7"]
			p.Hooks = p.Hooks[:1]
			f.GitLab.Projects["7"] = p
		}, "7 has no webhook to " + hookURL, "pipegate hooks", 0},
		{"a webhook without tag pushes", func(f *Facts) { f.GitLab.Projects["acme/api"].Hooks[0].TagPushEvents = false },
			"acme/api's webhook (hook 1) lacks tag push events", "pipegate hooks", 0},
		{"a webhook without SSL verification", func(f *Facts) { f.GitLab.Projects["acme/api"].Hooks[0].EnableSSLVerification = false },
			"acme/api's webhook (hook 1) lacks SSL verification", "pipegate hooks", 0},
		{"two webhooks", func(f *Facts) {
			p := f.GitLab.Projects["acme/api"]
			p.Hooks = append(p.Hooks, with(p.Hooks[0], 8))
			f.GitLab.Projects["acme/api"] = p
		}, "acme/api has 2 webhooks to pipegate (hooks 1, 8)", "keep one", 0},
		{"a webhook GitLab disabled for now", func(f *Facts) {
			h := &f.GitLab.Projects["acme/api"].Hooks[0]
			h.AlertStatus, h.DisabledUntil = "temporarily_disabled", time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
		}, "acme/api: GitLab disabled hook 1 until 2026-12-01T13:00:00Z after failed deliveries", "send a test event", 0},
		{"a webhook GitLab disabled for good", func(f *Facts) { f.GitLab.Projects["7"].Hooks[1].AlertStatus = "disabled" },
			"7: GitLab disabled hook 3 after too many failed deliveries in a row (alert_status disabled)", "re-enables it", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := healthy(t)
			tc.break_(&f)
			bad := failed(Doctor(f))
			if len(bad) != 1+tc.moreFailing {
				t.Fatalf("%d ✗, want %d: %+v", len(bad), 1+tc.moreFailing, bad)
			}
			if !strings.Contains(bad[0].Says, tc.says) || !strings.Contains(bad[0].Fix, tc.fix) || bad[0].Fix == "" {
				t.Errorf("✗ %s\n  fix: %s\nwant ✗ with %q, fix with %q", bad[0].Says, bad[0].Fix, tc.says, tc.fix)
			}
		})
	}
}
