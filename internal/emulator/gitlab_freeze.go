package emulator

import (
	"encoding/json"
	"net/http"
)

// FreezePeriod is one of a project's deploy freeze periods, as GitLab's
// freeze_periods API shows it (cron expressions in CronTimezone).
type FreezePeriod struct {
	FreezeStart  string
	FreezeEnd    string
	CronTimezone string
}

// SetFreezePeriods replaces the deploy freeze periods of project (its path).
func (g *GitLab) SetFreezePeriods(project string, periods ...FreezePeriod) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.freezes == nil {
		g.freezes = map[string][]FreezePeriod{}
	}
	g.freezes[project] = periods
}

// glFreezePeriods answers GET /projects/:id/freeze_periods, route
// "freeze_periods", in one page (GitLab's fields: id, freeze_start, freeze_end,
// cron_timezone).
func (g *GitLab) glFreezePeriods(w http.ResponseWriter, p glProject) {
	g.mu.Lock()
	periods := g.freezes[p.path]
	g.mu.Unlock()
	out := make([]map[string]any, 0, len(periods))
	for i, f := range periods {
		out = append(out, map[string]any{
			"id": i + 1, "freeze_start": f.FreezeStart, "freeze_end": f.FreezeEnd, "cron_timezone": f.CronTimezone,
			"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
		})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
