package hookstate

import (
	"testing"
	"time"
)

func TestIsDisabled(t *testing.T) {
	for status, want := range map[string]bool{
		"": false, Executable: false, TemporarilyDisabled: true, Disabled: true, "something_new": false,
	} {
		if got := IsDisabled(status); got != want {
			t.Errorf("IsDisabled(%q) = %v, want %v", status, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	const mine = "https://abc.execute-api.eu-west-1.amazonaws.com/webhook"
	until := time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)
	other := Hook{ID: 1, URL: "https://ci.example/hook", AlertStatus: Disabled}
	for _, tc := range []struct {
		name  string
		hooks []Hook
		want  Finding
	}{
		{"no hooks", nil, Finding{Project: "g/p"}},
		{"only another hook, disabled", []Hook{other}, Finding{Project: "g/p"}},
		{"pipegate's executable", []Hook{other, {ID: 2, URL: mine, AlertStatus: Executable}},
			Finding{Project: "g/p", Found: true, HookID: 2, Status: Executable}},
		{"pipegate's, no status (older GitLab)", []Hook{{ID: 2, URL: mine}},
			Finding{Project: "g/p", Found: true, HookID: 2}},
		{"pipegate's temporarily disabled", []Hook{{ID: 3, URL: mine + "/", AlertStatus: TemporarilyDisabled, DisabledUntil: until}},
			Finding{Project: "g/p", Found: true, HookID: 3, Disabled: true, Status: TemporarilyDisabled, Until: until}},
		{"pipegate's disabled for good: no until", []Hook{{ID: 4, URL: "HTTPS://ABC.execute-api.eu-west-1.amazonaws.com/webhook", AlertStatus: Disabled, DisabledUntil: until}},
			Finding{Project: "g/p", Found: true, HookID: 4, Disabled: true, Status: Disabled}},
		{"first of two decides", []Hook{{ID: 5, URL: mine, AlertStatus: Executable}, {ID: 6, URL: mine, AlertStatus: Disabled}},
			Finding{Project: "g/p", Found: true, HookID: 5, Status: Executable}},
		{"another path is not pipegate's", []Hook{{ID: 7, URL: "https://abc.execute-api.eu-west-1.amazonaws.com/other", AlertStatus: Disabled}},
			Finding{Project: "g/p"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Check("g/p", mine, tc.hooks); got != tc.want {
				t.Errorf("Check = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCountDisabled(t *testing.T) {
	fs := []Finding{{Disabled: true}, {}, {Found: true}, {Found: true, Disabled: true}}
	if n := CountDisabled(fs); n != 2 {
		t.Errorf("CountDisabled = %d, want 2", n)
	}
	if n := CountDisabled(nil); n != 0 {
		t.Errorf("CountDisabled(nil) = %d, want 0", n)
	}
}
