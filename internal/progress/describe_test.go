package progress_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/text"
)

func TestDescribe(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	done := func(state string, d time.Duration) progress.Status {
		return progress.Status{ExecutionID: "e", State: state, Began: t0, At: t0.Add(d)}
	}
	tests := []struct {
		subject string
		s       progress.Status
		summary string
		want    string
	}{
		{"Build", progress.Status{State: "STARTED", At: t0, Began: t0}, "", "Build running"},
		{"Build", progress.Status{State: "InProgress"}, "", "Build running"},
		{"Build", progress.Status{State: "RESUMED"}, "", "Build running"},
		{"core-pipeline", progress.Status{State: "STOPPING"}, "", "core-pipeline stopping"},
		{"Build", done("SUCCEEDED", 3*time.Minute+12*time.Second+900*time.Millisecond), "", "Build succeeded in 3m 12s"},
		{"Build", done("SUCCEEDED", 45*time.Second), "", "Build succeeded in 45s"},
		{"Build", done("SUCCEEDED", 0), "", "Build succeeded in 0s"},
		{"Build", done("SUCCEEDED", 3*time.Minute), "", "Build succeeded in 3m 0s"},
		{"Build", done("SUCCEEDED", time.Hour+4*time.Minute+59*time.Second), "", "Build succeeded in 1h 4m"},
		{"Build", done("SUCCEEDED", 26*time.Hour), "", "Build succeeded in 26h 0m"},
		{"Build", done("Succeeded", -time.Second), "", "Build succeeded"},
		{"Build", progress.Status{State: "SUCCEEDED", At: t0}, "", "Build succeeded"},
		{"Deploy", done("FAILED", time.Minute), "", "Deploy failed"},
		{"Deploy", done("FAILED", time.Minute), "Deploy: CodeDeploy deployment d-1 failed", "Deploy failed: Deploy: CodeDeploy deployment d-1 failed"},
		{"Build", done("FAILED", time.Minute), "  exit status 2\n\tmake: *** [test]  Error 1\n", "Build failed: exit status 2 make: *** [test] Error 1"},
		{"Build", progress.Status{State: "CANCELED"}, "", "Build canceled"},
		{"Build", progress.Status{State: "Cancelled"}, "", "Build canceled"},
		{"core-pipeline", progress.Status{State: "SUPERSEDED"}, "", "core-pipeline superseded by a newer execution"},
		{"Staging", progress.Status{State: "STOPPED"}, "", "Staging stopped"},
		{"Staging", progress.Status{State: "ABANDONED"}, "", "Staging abandoned"},
		{"Production", progress.Status{State: "SKIPPED"}, "", "Production skipped"},
	}
	for _, tt := range tests {
		if got := progress.Describe(tt.subject, tt.s, tt.summary); got != tt.want {
			t.Errorf("Describe(%q, %s, %q) = %q, want %q", tt.subject, tt.s.State, tt.summary, got, tt.want)
		}
	}
}

func TestDescribeTruncates(t *testing.T) {
	failed := progress.Status{State: "FAILED"}
	prefix := "Deploy failed: " // 15 characters

	// Exactly the limit: kept whole.
	exact := strings.Repeat("x", text.MaxDescription-len(prefix))
	if got := progress.Describe("Deploy", failed, exact); got != prefix+exact {
		t.Errorf("255 characters were cut: %q", got)
	}

	for _, filler := range []string{"x", "é", "日本", "🚀", "aé🚀"} {
		summary := strings.Repeat(filler, 300)
		got := progress.Describe("Deploy", failed, summary)
		if !utf8.ValidString(got) {
			t.Errorf("%q: invalid UTF-8 %q", filler, got)
		}
		if n := utf8.RuneCountInString(got); n != text.MaxDescription {
			t.Errorf("%q: %d characters, want %d", filler, n, text.MaxDescription)
		}
		if want := prefix + string([]rune(summary)[:text.MaxDescription-len(prefix)-1]) + "…"; got != want {
			t.Errorf("%q:\n got %q\nwant %q", filler, got, want)
		}
	}
}

func TestNeedsStart(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		s    progress.Status
		want bool
	}{
		{progress.Status{State: "SUCCEEDED", At: t0}, true},
		{progress.Status{State: "Succeeded", At: t0}, true},
		{progress.Status{State: "SUCCEEDED", At: t0, Began: t0.Add(-time.Minute)}, false},
		{progress.Status{State: "FAILED", At: t0}, false}, // a failure says why, not how long
		{progress.Status{State: "CANCELED", At: t0}, false},
		{progress.Status{State: "STARTED", At: t0}, false},
	} {
		if got := progress.NeedsStart(tt.s); got != tt.want {
			t.Errorf("NeedsStart(%s began %v) = %v, want %v", tt.s.State, tt.s.Began, got, tt.want)
		}
		// The rule agrees with Describe: a success gets a duration once its start is known.
		if tt.want {
			known := tt.s
			known.Began = t0.Add(-time.Minute)
			if d := progress.Describe("Build", known, ""); d != "Build succeeded in 1m 0s" {
				t.Errorf("with its start: %q", d)
			}
		}
	}
}
