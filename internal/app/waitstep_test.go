package app

import (
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/gitlab"
)

// What showing a wait takes over each status GitLab may show for the stage.
func TestNextWaitStep(t *testing.T) {
	const ours, other = "https://console/executions/2", "https://console/executions/1"
	want := gitlab.Status{State: "pending", Name: "core-pipeline/Production", TargetURL: ours,
		Description: "Production held: deploy freeze until Mon 30 Nov 08:00 CET"}
	status := func(state, url, words string) gitlab.Status {
		return gitlab.Status{State: state, Name: want.Name, TargetURL: url, Description: words}
	}
	long := want
	long.Description = strings.Repeat("x", 300)
	for _, tc := range []struct {
		name  string
		cur   gitlab.Status
		found bool
		want  gitlab.Status
		step  waitStep
	}{
		{"none yet", gitlab.Status{}, false, want, waitPost},
		{"the same words", status("pending", ours, want.Description), true, want, waitShown},
		{"the same long words, as GitLab keeps them", status("pending", ours, strings.Repeat("x", 254)+"…"), true, long, waitShown},
		{"other words", status("pending", ours, "Production waits for approval: needs 1 more approval on !118"), true, want, waitReplace},
		{"another execution waits", status("pending", other, want.Description), true, want, waitReplace},
		{"this stage runs: answered meanwhile", status("running", ours, "core-pipeline/Production running"), true, want, waitShown},
		{"this stage succeeded", status("success", ours, "deployed"), true, want, waitShown},
		{"this stage was canceled by its events", status("canceled", ours, "core-pipeline/Production canceled"), true, want, waitShown},
		{"pipegate's own cancel, its pending lost", status("canceled", ours, waitReplaced), true, want, waitPost},
		{"another execution runs the stage", status("running", other, "running"), true, want, waitShown},
		{"another execution finished", status("failed", other, "rejected"), true, want, waitPost},
	} {
		if got, _ := nextWaitStep(tc.cur, tc.found, tc.want); got != tc.step {
			t.Errorf("%s: step %d, want %d", tc.name, got, tc.step)
		}
	}
}
