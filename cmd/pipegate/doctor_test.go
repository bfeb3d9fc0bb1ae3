package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/emulator"
)

// healthyWorld is newWorld with testdata/acme.yaml's pipelines as its routing
// file names them and pipegate's webhooks registered, as a team has it after
// deploy and pipegate hooks.
func healthyWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	w.cp.SetShape("api-pipeline", apiShape())
	w.cp.SetShape("web-deploy", webShape("false"))
	if code, out, errs := cliWith(t, w.env(), w.loadAWS, "hooks"); code != 0 {
		t.Fatalf("hooks: exit %d\n%s%s", code, out, errs)
	}
	return w
}

// apiShape is pipegate's own pipeline template's shape, reading acme/api.
func apiShape() []emulator.StageSpec {
	api := emulator.DefaultShape("Source", "Staging", "Production", "ApproveProduction")
	api[0].Actions[0].Configuration = map[string]string{"FullRepositoryId": "acme/api", "BranchName": "main", "DetectChanges": "false"}
	return api
}

func webShape(detectChanges string) []emulator.StageSpec {
	cfg := map[string]string{"FullRepositoryId": "acme/web", "BranchName": "main"}
	if detectChanges != "" {
		cfg["DetectChanges"] = detectChanges
	}
	return []emulator.StageSpec{
		{Name: "Source", Actions: []emulator.ActionSpec{{Name: "Source", Category: "Source", Provider: "CodeStarSourceConnection", Configuration: cfg}}},
		{Name: "Build", Actions: []emulator.ActionSpec{{Name: "Build", Category: "Build", Provider: "CodeBuild"}}},
		{Name: "Release", Actions: []emulator.ActionSpec{{Name: "Approve", Category: "Approval", Provider: "Manual"}, {Name: "Deploy", Category: "Deploy", Provider: "ECS"}}},
	}
}

var port = regexp.MustCompile(`127\.0\.0\.1:\d+`)

func TestDoctorAllPass(t *testing.T) {
	w := healthyWorld(t)
	code, out, errs := cliWith(t, w.env(), w.loadAWS, "doctor")
	if code != 0 || errs != "" || strings.Contains(out, "✗") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if strings.Contains(out, worldSecret) || strings.Contains(out, worldToken) {
		t.Error("doctor printed a secret")
	}
	golden(t, "doctor-ok.golden", port.ReplaceAllString(out, "127.0.0.1:PORT"))
}

// Each thing wrong, as AWS and GitLab really answer it, is a ✗ with its fix,
// and doctor exits 1.
func TestDoctorFindsWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		env    []string
		break_ func(w *world)
		want   []string // the ✗ lines (and fixes), each in the output
		fails  int      // how many ✗
	}{
		{name: "no stack", args: []string{"--stack", "pipegate-prod"}, want: []string{
			"✗ no stack pipegate-prod in eu-west-1\n      fix: deploy pipegate (sam deploy), or name its stack with --stack",
			"✗ pipegate's webhook URL is unknown"}, fails: 2},
		{name: "an empty secret", break_: func(w *world) { w.sm.AddSecret(secretARN, "") }, want: []string{
			"✗ secret " + secretARN + " (WebhookSecretArn) holds no value\n      fix: aws secretsmanager put-secret-value --secret-id " + secretARN}, fails: 1},
		{name: "pipegate's token still the stack's random one", break_: func(w *world) { w.sm.AddSecret(tokenARN, "Xy7randomlygeneratedbycloudformation") }, want: []string{
			"✗ GitLab at http://127.0.0.1:PORT refuses pipegate's token (secret " + tokenARN + ") (401 Unauthorized)\n      fix: put a token with scope api into it: aws secretsmanager put-secret-value --secret-id " + tokenARN}, fails: 1},
		{name: "the event rule leaves a pipeline out", break_: func(w *world) {
			w.cfn.AddStack(emulator.Stack{Name: "pipegate", Status: "UPDATE_COMPLETE",
				Parameters: map[string]string{"GitLabUrl": w.glURL, "PipelineNames": "api-pipeline"},
				Outputs:    map[string]string{"WebhookUrl": worldHookURL, "WebhookSecretArn": secretARN, "GitLabTokenSecretArn": tokenARN}})
		}, want: []string{"✗ the event rule (stack parameter PipelineNames) leaves out web-deploy", "fix: deploy with PipelineNames=api-pipeline,web-deploy"}, fails: 1},
		{name: "GITLAB_URL is not the stack's GitLab", env: []string{"GITLAB_URL", "http://localhost:1"}, break_: nil, want: []string{
			"✗ pipegate calls GitLab at http://127.0.0.1:PORT (the stack's GitLabUrl), but GITLAB_URL is http://localhost:1",
			"✗ cannot read the scopes of GITLAB_TOKEN", "✗ cannot read project acme/api", "✗ cannot read project acme/web"}, fails: 4},
		{name: "a pipeline the user may not read", break_: func(w *world) {
			w.cp.FailNext("GetPipeline", 1, emulator.Fault{Status: 400, Code: "AccessDeniedException", Message: "not authorized to perform codepipeline:GetPipeline"})
		}, want: []string{"✗ cannot read pipeline api-pipeline: get pipeline api-pipeline:", "fix: allow codepipeline:GetPipeline"}, fails: 1},
		{name: "change detection on", break_: func(w *world) { w.cp.SetShape("web-deploy", webShape("")) }, want: []string{
			"✗ web-deploy: Source's change detection is on (DetectChanges is not set, which means true)", `fix: set DetectChanges to "false"`}, fails: 1},
		{name: "no production approval", break_: func(w *world) {
			s := webShape("false")
			s[2].Actions[0].Name = "Manual"
			w.cp.SetShape("web-deploy", s)
		}, want: []string{"✗ stage Release of web-deploy has no action Approve (its actions: Manual, Deploy)", "fix: set production.approval_action to its manual approval (service web, testdata/acme.yaml line 9)"}, fails: 1},
		{name: "a token without api", break_: func(w *world) { w.gl.SetTokenScopes("read_api") }, want: []string{
			"✗ GITLAB_TOKEN has scopes read_api, not api"}, fails: 1},
		{name: "a project the token does not reach", env: []string{"PIPEGATE_CONFIG", "testdata/acme-missing.yaml"}, want: []string{
			"✗ the token does not reach project acme/gone (404: no such project, or the token's user is not a member)",
			"fix: add the token's user to acme/gone (Developer; Maintainer to read its webhooks), or fix the project of service gone, testdata/acme-missing.yaml line 8",
			"✗ pipeline gone-pipeline (service gone) does not exist in eu-west-1", "✗ the event rule (stack parameter PipelineNames) leaves out gone-pipeline"}, fails: 3},
		// testdata/acme-new.yaml adds a service nothing was set up for yet.
		{name: "no webhook, no pipeline", break_: func(w *world) { w.gl.AddProject(103, "acme/new", "main") }, env: []string{"PIPEGATE_CONFIG", "testdata/acme-new.yaml"}, want: []string{
			"✗ acme/new has no webhook to " + worldHookURL + ": its pushes never reach pipegate\n      fix: pipegate hooks",
			"✗ pipeline new-pipeline (service new) does not exist in eu-west-1\n      fix: create it, or name the pipeline of service new, testdata/acme-new.yaml line 8",
			"✗ the event rule (stack parameter PipelineNames) leaves out new-pipeline"}, fails: 3},
		{name: "a webhook without merge request events", break_: func(w *world) {
			w.gl.AddProject(103, "acme/new", "main")
			w.gl.AddHook("acme/new", emulator.Hook{URL: worldHookURL, PushEvents: true, TagPushEvents: true, EnableSSLVerification: true})
		},
			env: []string{"PIPEGATE_CONFIG", "testdata/acme-new.yaml"}, want: []string{"✗ acme/new's webhook (hook 3) lacks merge request events\n      fix: pipegate hooks"}, fails: 3},
		{name: "a webhook GitLab disabled", break_: func(w *world) {
			w.gl.AddProject(103, "acme/new", "main")
			w.gl.AddHook("acme/new", emulator.Hook{URL: worldHookURL, PushEvents: true, TagPushEvents: true, MergeRequestsEvents: true, EnableSSLVerification: true,
				AlertStatus: "temporarily_disabled", DisabledUntil: time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)})
		}, env: []string{"PIPEGATE_CONFIG", "testdata/acme-new.yaml"}, want: []string{
			"✗ acme/new: GitLab disabled hook 3 until 2026-12-01T13:00:00Z after failed deliveries (alert_status temporarily_disabled)\n      fix: once pipegate answers"}, fails: 3},
		{name: "a stack that could not be read", break_: func(w *world) {
			w.cfn.FailNext("DescribeStacks", 5, emulator.Fault{Status: 403, Code: "AccessDenied", Message: "User is not authorized to perform: cloudformation:DescribeStacks"})
		}, want: []string{"✗ cannot read stack pipegate: describe stack pipegate:", "not authorized", "fix: allow cloudformation:DescribeStacks",
			"✗ pipegate's webhook URL is unknown, so its GitLab webhooks cannot be checked"}, fails: 2},
		{name: "a stack whose update failed", break_: func(w *world) {
			w.cfn.AddStack(emulator.Stack{Name: "pipegate", Status: "UPDATE_ROLLBACK_FAILED",
				Parameters: map[string]string{"GitLabUrl": w.glURL, "PipelineNames": "api-pipeline,web-deploy"},
				Outputs:    map[string]string{"WebhookUrl": worldHookURL, "WebhookSecretArn": secretARN, "GitLabTokenSecretArn": tokenARN}})
		}, want: []string{"✗ stack pipegate is UPDATE_ROLLBACK_FAILED\n      fix: read its events (aws cloudformation describe-stack-events --stack-name pipegate)"}, fails: 1},
		{name: "a source that reads another project", break_: func(w *world) {
			s := webShape("false")
			s[0].Actions[0].Configuration["FullRepositoryId"] = "acme/website"
			w.cp.SetShape("web-deploy", s)
		}, want: []string{"✗ web-deploy's source action Source reads acme/website, but service web is project acme/web"}, fails: 1},
		{name: "an S3 source", break_: func(w *world) {
			s := webShape("false")
			s[0].Actions[0].Provider = "S3"
			w.cp.SetShape("web-deploy", s)
		}, want: []string{"✗ web-deploy's source action Source reads from S3"}, fails: 1},
		{name: "two webhooks to pipegate", break_: func(w *world) {
			w.gl.AddHook("acme/web", emulator.Hook{URL: worldHookURL, PushEvents: true, TagPushEvents: true, MergeRequestsEvents: true, EnableSSLVerification: true})
		}, want: []string{"✗ acme/web has 2 webhooks to pipegate (hooks 2, 3): GitLab sends each event to each"}, fails: 1},
		{name: "webhooks the token may not list", break_: func(w *world) { w.gl.FailNext("hooks", 1, emulator.Fault{Status: 403, Message: "403 Forbidden"}) }, want: []string{
			"✗ cannot list the webhooks of acme/api (403): that takes the Maintainer role"}, fails: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := healthyWorld(t)
			if tc.break_ != nil {
				tc.break_(w)
			}
			// GitLab is the stand-in, also where no stack names it: no test calls out.
			env := append(tc.env, "GITLAB_URL", w.glURL)
			code, out, errs := cliWith(t, w.env(env...), w.loadAWS, append([]string{"doctor"}, tc.args...)...)
			out = port.ReplaceAllString(out, "127.0.0.1:PORT")
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if n := strings.Count(out, "✗"); n != tc.fails {
				t.Errorf("%d ✗, want %d", n, tc.fails)
			}
			oneLineOn(t, errs, "pipegate: doctor: ", "checks failed")
			if t.Failed() || testing.Verbose() {
				t.Log(out)
			}
		})
	}
}

// Without GITLAB_TOKEN doctor checks GitLab with pipegate's own token, from the
// stack's secret.
func TestDoctorWithPipegatesOwnToken(t *testing.T) {
	w := healthyWorld(t)
	code, out, errs := cliWith(t, w.env("GITLAB_TOKEN", ""), w.loadAWS, "doctor")
	if code != 0 || !strings.Contains(out, "✓ pipegate's token (secret "+tokenARN+") has scope api") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}
