package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/metrics"
	"github.com/pipegate/pipegate/internal/testenv"
)

const pipegateURL = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/webhook"

// withHookHealth watches the webhooks through the GitLab client the world
// calls, and publishes to cw.
func withHookHealth(cw *emulator.CloudWatch) option {
	return func(w *world) {
		w.app.HookHealth = app.HookHealth{
			WebhookURL: pipegateURL,
			Hooks:      w.app.GitLab.(app.HookLister),
			Metrics:    metrics.New(testenv.AWSStandIn(w.t, cw), "pipegate-PipelineEventsFunction-x"),
		}
	}
}

// logsStarting returns the decoded log lines whose msg starts with msgPrefix.
func logsStarting(logs *testenv.Buffer, msgPrefix string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.HasPrefix(m["msg"].(string), msgPrefix) {
			out = append(out, m)
		}
	}
	return out
}

func TestReconcileReportsDisabledHooks(t *testing.T) {
	cw := emulator.NewCloudWatch()
	w := newWorld(t, withHookHealth(cw))
	until := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	hook := func(url, status string, until time.Time) emulator.Hook {
		return emulator.Hook{URL: url, PushEvents: true, TagPushEvents: true, MergeRequestsEvents: true, EnableSSLVerification: true, AlertStatus: status, DisabledUntil: until}
	}
	// team/core: pipegate's delivers; another tool's hook is disabled, which is not ours to report.
	w.gl.AddHook("team/core", hook("https://ci.example/hook", "disabled", time.Time{}))
	w.gl.AddHook("team/core", hook(pipegateURL, "executable", time.Time{}))
	authHook := w.gl.AddHook("team/auth", hook(pipegateURL+"/", "temporarily_disabled", until))
	// team/platform (two services): no hook to pipegate at all.

	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := w.gl.Calls("hooks"); n != 3 {
		t.Errorf("%d ListProjectHooks calls, want 3: one per routed project", n)
	}
	errs := logsStarting(w.logs, "GitLab disabled pipegate's webhook")
	if len(errs) != 1 {
		t.Fatalf("%d error lines, want 1 (team/auth):\n%s", len(errs), w.logs.String())
	}
	if e := errs[0]; e["level"] != "ERROR" || e["project"] != "team/auth" || e["disabled_until"] != "2026-12-02T06:00:00Z" ||
		e["alert_status"] != "temporarily_disabled" || e["hook"] != float64(authHook) {
		t.Errorf("error line %v", e)
	}
	if warns := logsStarting(w.logs, "project has no webhook to pipegate"); len(warns) != 1 || warns[0]["project"] != "team/platform" {
		t.Errorf("warnings %v, want one for team/platform", warns)
	}
	data := cw.Data()
	if len(data) != 1 || data[0].MetricName != app.MetricDisabledHooks || data[0].Value != 1 ||
		data[0].Namespace != metrics.Namespace || data[0].Dimensions[metrics.DimensionFunction] != "pipegate-PipelineEventsFunction-x" {
		t.Fatalf("metric data %+v, want one DisabledHooks=1", data)
	}

	// Once re-enabled (a test delivery succeeded), the next run publishes 0: the alarm clears.
	w.gl.SetHookStatus("team/auth", authHook, "executable", time.Time{})
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := w.gl.Calls("hooks"); n != 6 {
		t.Errorf("%d ListProjectHooks calls after two runs, want 6", n)
	}
	if data := cw.Data(); len(data) != 2 || data[1].Value != 0 {
		t.Errorf("metric data %+v, want a second value 0", data)
	}
	if errs := logsStarting(w.logs, "GitLab disabled pipegate's webhook"); len(errs) != 1 {
		t.Errorf("%d error lines after re-enabling, want still 1", len(errs))
	}
}

func TestReconcileHookFaults(t *testing.T) {
	cw := emulator.NewCloudWatch()
	w := newWorld(t, withHookHealth(cw))
	for _, p := range []string{"team/core", "team/auth", "team/platform"} {
		w.gl.AddHook(p, emulator.Hook{URL: pipegateURL, AlertStatus: "disabled"})
	}
	// One project's hooks unreadable (the token's user is no Maintainer there):
	// the others still count; CloudWatch refusing the metric fails nothing.
	w.gl.FailNext("hooks", 1, emulator.Fault{Status: 403, Message: "403 Forbidden"})
	cw.FailNext("PutMetricData", 1, emulator.Fault{Status: 403, Code: "AccessDenied", Message: "denied"})
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatalf("a failing webhook read or metric failed the run: %v", err)
	}
	if n := cw.Calls("PutMetricData"); n != 1 {
		t.Errorf("%d PutMetricData calls, want 1", n)
	}
	if warns := logsStarting(w.logs, "metric not published"); len(warns) != 1 {
		t.Errorf("no warning for the refused metric:\n%s", w.logs.String())
	}
	if n := len(logsStarting(w.logs, "webhooks not read")); n != 1 {
		t.Errorf("%d warnings for unread webhooks, want 1", n)
	}
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if data := cw.Data(); len(data) != 1 || data[0].Value != 3 {
		t.Errorf("metric data %+v, want DisabledHooks=3 once all are read", data)
	}

	// Every read failing: no value at all, rather than a 0 that says all is well.
	cw2 := emulator.NewCloudWatch()
	w2 := newWorld(t, withHookHealth(cw2))
	w2.gl.FailNext("hooks", 3, emulator.Fault{Status: 403, Message: "403 Forbidden"})
	if _, err := w2.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := cw2.Calls("PutMetricData"); n != 0 {
		t.Errorf("%d PutMetricData calls with no webhook read, want 0", n)
	}
}

func TestReconcileWithoutWebhookURLReadsNoHooks(t *testing.T) {
	cw := emulator.NewCloudWatch()
	w := newWorld(t, withHookHealth(cw))
	w.app.HookHealth.WebhookURL = ""
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, m := w.gl.Calls("hooks"), cw.Calls("PutMetricData"); n != 0 || m != 0 {
		t.Errorf("%d hook reads, %d metrics without WEBHOOK_URL, want none", n, m)
	}
}
