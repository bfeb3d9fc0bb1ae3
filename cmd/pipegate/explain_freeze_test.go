package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// runExplainArgs runs pipegate explain with args (flags, then the event file).
func runExplainArgs(t *testing.T, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"explain"}, args...), getenv, &out, &out)
	return out.String(), err
}

// explain judges the deploy freeze as the gate does (internal/freeze), on
// GitLab's own answer of freeze periods, at the time asked: inside a weekend
// period across midnight in Berlin, inside a nightly one in New York, outside
// both; a gate that would not look at freezes (an event that only sets a
// status) says nothing of them; without the file it says where the gate reads
// them.
func TestExplainDeployFreeze(t *testing.T) {
	approval := writeEvent(t, sample(t, "action-approval-started.json"))
	merged := "../../events/merge-request-approved.json"
	webhookEnv := envOf("WEBHOOK_SECRET", localSecret, "PIPEGATE_CONFIG", sampleRouting)
	const periods = "testdata/freeze-periods.json"
	for _, tc := range []struct {
		name     string
		env      func(string) string
		args     []string
		want, no []string
	}{
		{"Saturday in the weekend freeze", sampleEnv, []string{"--freeze-periods", periods, "--at", "2026-11-28T10:00:00Z", approval},
			[]string{`deploy freeze: at 2026-11-28T10:00:00Z the period "0 18 * * 5" to "0 8 * * 1" (Europe/Berlin) holds, with any period that begins as it ends`,
				// Monday 08:00 in Berlin is 02:00 in New York, inside its nightly freeze: the gate stays shut until 06:00 there.
				`status "held: deploy freeze until Mon 30 Nov 06:00 EST"`}, nil},
		{"Friday night in Berlin: the weekend freeze began", sampleEnv, []string{"--freeze-periods", periods, "--at", "2026-11-27T17:30:00+00:00", approval},
			[]string{`(Europe/Berlin) holds`, "until Mon 30 Nov 06:00 EST"}, nil},
		{"Wednesday 23:00 in New York: the nightly freeze", sampleEnv, []string{"--freeze-periods", periods, "--at", "2026-11-26T04:00:00Z", approval},
			[]string{`the period "0 22 * * *" to "0 6 * * *" (America/New_York) holds`, "until Thu 26 Nov 06:00 EST"}, nil},
		{"Thursday noon: no freeze", sampleEnv, []string{"--freeze-periods", periods, "--at", "2026-11-26T12:00:00Z", approval},
			[]string{"deploy freezes: at 2026-11-26T12:00:00Z none of the 2 period(s) of testdata/freeze-periods.json holds"}, []string{"held:"}},
		{"a merge request webhook in the freeze", webhookEnv, []string{"--freeze-periods", periods, "--at", "2026-11-28T10:00:00Z", merged},
			[]string{"would re-evaluate the production gate", "(Europe/Berlin) holds"}, nil},
		{"no periods given", sampleEnv, []string{approval},
			[]string{"deploy freezes: the gate reads the project's freeze periods from GitLab when it decides"}, nil},
		{"a stage event: no gate, no freeze", sampleEnv, []string{"--freeze-periods", periods, "--at", "2026-11-28T10:00:00Z", "../../events/stage-build-succeeded.json"},
			[]string{"would set commit status"}, []string{"freeze"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runExplainArgs(t, tc.env, tc.args...)
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, out)
			}
			checkOutput(t, out, tc.want, tc.no)
		})
	}
}

// Periods explain cannot read, or that the gate could not judge, are errors: the
// gate would fail closed on them; --at without periods, or a time that is not
// one, is misuse.
func TestExplainDeployFreezeRefuses(t *testing.T) {
	approval := writeEvent(t, sample(t, "action-approval-started.json"))
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
	}{
		{"not JSON", []string{"--freeze-periods", file("a.json", "freeze!"), approval}, false},
		{"a period without its end", []string{"--freeze-periods", file("b.json", `[{"freeze_start": "0 9 * * 5"}]`), approval}, false},
		{"a zone no one has", []string{"--freeze-periods", file("c.json", `[{"freeze_start": "0 9 * * 5", "freeze_end": "0 8 * * 1", "cron_timezone": "Mars/Olympus"}]`), approval}, false},
		{"no such file", []string{"--freeze-periods", filepath.Join(dir, "none.json"), approval}, false},
		{"--at alone", []string{"--at", "2026-11-28T10:00:00Z", approval}, true},
		{"--at not a time", []string{"--freeze-periods", "testdata/freeze-periods.json", "--at", "Saturday", approval}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runExplainArgs(t, sampleEnv, tc.args...)
			var u *usageError
			if err == nil || errors.As(err, &u) != tc.usage {
				t.Fatalf("explain: %v (usage error: %t), want an error (usage error: %t)\n%s", err, errors.As(err, &u), tc.usage, out)
			}
		})
	}
}
