package setup

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const hookURL = "https://abc.execute-api.eu-west-1.amazonaws.com/webhook"

func TestPlanHook(t *testing.T) {
	full := Wanted(hookURL)
	full.ID, full.AlertStatus = 7, "executable"
	noTags := full
	noTags.TagPushEvents, noTags.EnableSSLVerification = false, false
	other := Hook{ID: 3, URL: "https://ci.example/hook", PushEvents: true}
	spelled := full
	spelled.URL = "HTTPS://ABC.execute-api.eu-west-1.amazonaws.com/webhook/"
	dup := full
	dup.ID = 9
	off := full
	off.AlertStatus, off.DisabledUntil = "temporarily_disabled", time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		hooks    []Hook
		setToken bool
		want     string // action hookID: changes | warnings
	}{
		{"no hook", nil, false, "create 0: add a webhook to " + hookURL + ": push, tag push and merge request events, SSL verification, the secret token |"},
		{"only others' hooks", []Hook{other}, false, "create 0: add a webhook to " + hookURL + ": push, tag push and merge request events, SSL verification, the secret token |"},
		{"pipegate's, complete", []Hook{other, full}, false, "keep 7:  |"},
		{"the same URL spelled otherwise", []Hook{spelled}, false, "keep 7:  |"},
		{"lacking tags and SSL", []Hook{noTags}, false, "update 7: turn on tag push events; turn on SSL verification; set the secret token |"},
		{"complete, the token asked for", []Hook{full}, true, "update 7: set the secret token |"},
		{"twice", []Hook{full, dup}, false, "keep 7:  | hook 9 also delivers to " + hookURL + ": GitLab sends each event to each; keep one (Settings > Webhooks)"},
		{"disabled by GitLab", []Hook{off}, false, "keep 7:  | GitLab disabled hook 7 until 2026-12-01T13:00:00Z after failed deliveries (alert_status temporarily_disabled); " + ReenableFix},
	} {
		s := PlanHook("acme/api", hookURL, tc.hooks, tc.setToken)
		got := string(s.Action) + " " + fmt.Sprint(s.HookID) + ": " + strings.Join(s.Changes, "; ") + " | " + strings.Join(s.Warnings, "; ")
		if strings.TrimSpace(got) != strings.TrimSpace(tc.want) || s.Project != "acme/api" {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestSameURL(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{hookURL, hookURL, true},
		{hookURL, hookURL + "/", true},
		{hookURL, "https://ABC.execute-api.eu-west-1.amazonaws.com/webhook", true},
		{hookURL, "http://abc.execute-api.eu-west-1.amazonaws.com/webhook", false},
		{hookURL, "https://abc.execute-api.eu-west-1.amazonaws.com/Webhook", false},
		{hookURL, "https://abc.execute-api.eu-west-1.amazonaws.com/webhook?x=1", false},
		{hookURL, "https://other.execute-api.eu-west-1.amazonaws.com/webhook", false},
	} {
		if got := SameURL(tc.a, tc.b); got != tc.same {
			t.Errorf("SameURL(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
