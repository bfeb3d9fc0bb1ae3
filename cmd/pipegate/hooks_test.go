package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pipegate/pipegate/internal/emulator"
)

const (
	worldHookURL = "https://abc123.execute-api.eu-west-1.amazonaws.com/webhook"
	worldSecret  = "Zq8r2LhX0webhooksecret"
	worldToken   = "glpat-acme-maintainer"
	secretARN    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:WebhookSecret-AbCdEf"
	tokenARN     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:GitLabTokenSecret-GhIjKl"
)

// world is a team's deployed pipegate, as the set-up commands see it: the stack,
// its secrets, CodePipeline, and GitLab with the projects of testdata/acme.yaml.
type world struct {
	gl      *emulator.GitLab
	glURL   string
	cp      *emulator.CodePipeline
	cfn     *emulator.CloudFormation
	sm      *emulator.SecretsManager
	loadAWS func(context.Context) (aws.Config, error)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{gl: emulator.NewGitLab(worldToken), cp: emulator.NewCodePipeline(), cfn: emulator.NewCloudFormation(), sm: emulator.NewSecretsManager(nil)}
	w.gl.AddProject(101, "acme/api", "main")
	w.gl.AddProject(102, "acme/web", "main")
	srv := httptest.NewServer(w.gl)
	t.Cleanup(srv.Close)
	w.glURL = srv.URL
	if err := w.sm.AddSecret(secretARN, worldSecret); err != nil {
		t.Fatal(err)
	}
	if err := w.sm.AddSecret(tokenARN, worldToken); err != nil {
		t.Fatal(err)
	}
	w.cfn.AddStack(emulator.Stack{Name: "pipegate", Status: "UPDATE_COMPLETE",
		Parameters: map[string]string{"GitLabUrl": w.glURL, "PipelineNames": "api-pipeline,web-deploy"},
		Outputs:    map[string]string{"WebhookUrl": worldHookURL, "WebhookSecretArn": secretARN, "GitLabTokenSecretArn": tokenARN}})
	w.loadAWS = awsStandIns(t, map[string]http.Handler{"CodePipeline_20150709": w.cp, "secretsmanager": w.sm}, w.cfn)
	return w
}

// env is the shell of a user of testdata/acme.yaml with a Maintainer's token;
// GitLab's URL comes from the stack. kv override those.
func (w *world) env(kv ...string) func(string) string {
	return envOf(append(kv, "PIPEGATE_CONFIG", "testdata/acme.yaml", "GITLAB_TOKEN", worldToken)...)
}

func (w *world) writes() (adds, edits int) {
	for _, r := range w.gl.Requests() {
		switch r.Route {
		case "add_hook":
			adds++
		case "edit_hook":
			edits++
		}
	}
	return adds, edits
}

// The first run adds the missing hook and mends the one lacking events; the
// second changes nothing.
func TestHooksRegistersOnceAndMends(t *testing.T) {
	w := newWorld(t)
	ci := w.gl.AddHook("acme/web", emulator.Hook{URL: "https://ci.example/hook", PushEvents: true})
	mine := w.gl.AddHook("acme/web", emulator.Hook{URL: worldHookURL + "/", PushEvents: true, MergeRequestsEvents: true, Token: "old"})

	code, out, errs := cliWith(t, w.env(), w.loadAWS, "hooks")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"pipegate hooks: webhook " + worldHookURL + " (stack pipegate's output WebhookUrl), GitLab " + w.glURL + ", 2 projects of testdata/acme.yaml",
		"  acme/api: created hook 3: push, tag push and merge request events, SSL verification, the secret token",
		"  acme/web: updated hook 2: turn on tag push events, turn on SSL verification, set the secret token",
		"1 created, 1 updated, 0 up to date",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errs, worldSecret) {
		t.Error("the secret token was printed")
	}
	for project, id := range map[string]int64{"acme/api": 3, "acme/web": mine} {
		var got *emulator.Hook
		for _, h := range w.gl.Hooks(project) {
			if h.ID == id {
				got = &h
			}
		}
		if got == nil || !got.PushEvents || !got.TagPushEvents || !got.MergeRequestsEvents || !got.EnableSSLVerification || got.Token != worldSecret {
			t.Errorf("%s's hook %d: %+v", project, id, got)
		}
	}
	if h := w.gl.Hooks("acme/web")[0]; h.ID != ci || h.TagPushEvents || h.Token != "" {
		t.Errorf("another tool's hook was changed: %+v", h)
	}

	adds, edits := w.writes()
	code, out, _ = cliWith(t, w.env(), w.loadAWS, "hooks")
	if a, e := w.writes(); code != 0 || a != adds || e != edits || !strings.Contains(out, "0 created, 0 updated, 2 up to date") ||
		!strings.Contains(out, "acme/api: hook 3 is up to date") {
		t.Errorf("second run: exit %d, %d adds and %d edits more:\n%s", code, a-adds, e-edits, out)
	}
}

// A dry run says what it would do and changes nothing; it needs no secret.
func TestHooksDryRun(t *testing.T) {
	w := newWorld(t)
	w.gl.AddHook("acme/web", emulator.Hook{URL: worldHookURL, PushEvents: true, EnableSSLVerification: true})
	code, out, errs := cliWith(t, w.env(), w.loadAWS, "hooks", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"pipegate hooks (dry run: nothing changes)",
		"  acme/api: would add a webhook to " + worldHookURL + ": push, tag push and merge request events, SSL verification, the secret token",
		"  acme/web: would update hook 1: turn on tag push events, turn on merge request events, set the secret token",
		"1 would be created, 1 would be updated, 0 up to date",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if a, e := w.writes(); a+e != 0 {
		t.Errorf("a dry run wrote: %d adds, %d edits", a, e)
	}
	if n := w.sm.Calls("GetSecretValue"); n != 0 {
		t.Errorf("a dry run read the secret %d times", n)
	}
}

// With --url and --secret, hooks needs no AWS at all; GITLAB_URL names GitLab.
func TestHooksFromFlags(t *testing.T) {
	w := newWorld(t)
	noAWS := func(context.Context) (aws.Config, error) {
		t.Error("hooks read the AWS configuration")
		return aws.Config{}, errors.New("no AWS here")
	}
	code, out, errs := cliWith(t, w.env("GITLAB_URL", w.glURL+"/"), noAWS, "hooks", "--url", "https://hooks.acme.example/webhook", "--secret", "flag-secret")
	if code != 0 || !strings.Contains(out, "(--url), GitLab "+w.glURL+",") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if h := w.gl.Hooks("acme/api"); len(h) != 1 || h[0].URL != "https://hooks.acme.example/webhook" || h[0].Token != "flag-secret" {
		t.Errorf("hooks %+v", h)
	}
}

// --update-token sets the token on a hook that lacks nothing else.
func TestHooksUpdateToken(t *testing.T) {
	w := newWorld(t)
	for _, p := range []string{"acme/api", "acme/web"} {
		w.gl.AddHook(p, emulator.Hook{URL: worldHookURL, Token: "rotated-away", PushEvents: true, TagPushEvents: true, MergeRequestsEvents: true, EnableSSLVerification: true})
	}
	code, out, _ := cliWith(t, w.env(), w.loadAWS, "hooks", "--update-token")
	if code != 0 || !strings.Contains(out, "acme/api: updated hook 1: set the secret token") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, p := range []string{"acme/api", "acme/web"} {
		if h := w.gl.Hooks(p)[0]; h.Token != worldSecret {
			t.Errorf("%s's token %q", p, h.Token)
		}
	}
}

// A hook GitLab disabled is reported with what to do; pipegate cannot re-enable it.
func TestHooksWarnsOfADisabledHook(t *testing.T) {
	w := newWorld(t)
	w.gl.AddHook("acme/api", emulator.Hook{URL: worldHookURL, PushEvents: true, TagPushEvents: true, MergeRequestsEvents: true, EnableSSLVerification: true,
		AlertStatus: "temporarily_disabled", DisabledUntil: time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)})
	_, out, _ := cliWith(t, w.env(), w.loadAWS, "hooks")
	if !strings.Contains(out, "warning: GitLab disabled hook 1 until 2026-12-01T13:00:00Z after failed deliveries") || !strings.Contains(out, "Test > Push events") {
		t.Errorf("output:\n%s", out)
	}
}

func TestHooksFailures(t *testing.T) {
	t.Run("a project whose hooks the token may not list", func(t *testing.T) {
		w := newWorld(t)
		w.gl.FailNext("hooks", 1, emulator.Fault{Status: 403, Message: "403 Forbidden"})
		code, out, errs := cliWith(t, w.env(), w.loadAWS, "hooks")
		if code != 1 || !strings.Contains(out, "acme/api: ✗ webhooks of acme/api:") || !strings.Contains(out, "403") ||
			!strings.Contains(out, "acme/web: created hook") || !strings.Contains(out, "1 failed") {
			t.Errorf("exit %d\n%s", code, out)
		}
		oneLineOn(t, errs, "hooks: 1 of 2 projects failed")
	})
	for _, tc := range []struct {
		name  string
		env   []string
		setup func(w *world)
		want  string
	}{
		{"no GitLab token", []string{"GITLAB_TOKEN", ""}, nil, "hooks needs GITLAB_TOKEN"},
		{"no stack", nil, func(w *world) { w.cfn.AddStack(emulator.Stack{Name: "other"}) }, ""},
		{"a stack without the output", nil, func(w *world) {
			w.cfn.AddStack(emulator.Stack{Name: "pipegate", Outputs: map[string]string{"WebhookSecretArn": secretARN}})
		}, "stack pipegate has no output WebhookUrl"},
		{"a secret that holds nothing", nil, func(w *world) { w.sm.AddSecret(secretARN, "  ") }, "the secret is empty (or give --secret)"},
		{"a broken routing file", []string{"PIPEGATE_CONFIG", "testdata/broken.yaml"}, nil, "line 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			args := []string{"hooks"}
			if tc.name == "no stack" {
				args = append(args, "--stack", "pipegate-prod")
				tc.want = "no stack pipegate-prod in eu-west-1: deploy pipegate (sam deploy), or name its stack with --stack"
			}
			if tc.setup != nil {
				tc.setup(w)
			}
			code, _, errs := cliWith(t, w.env(tc.env...), w.loadAWS, args...)
			if code != 1 {
				t.Errorf("exit %d", code)
			}
			oneLineOn(t, errs, tc.want)
			if a, e := w.writes(); a+e != 0 {
				t.Errorf("%d adds, %d edits", a, e)
			}
		})
	}
}
