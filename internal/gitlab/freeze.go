package gitlab

import (
	"context"
	"encoding/json"
	"fmt"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/pipegate/pipegate/internal/freeze"
)

// FreezePeriods reads the project's deploy freeze periods
// (GET /projects/:id/freeze_periods), all pages, for internal/freeze to judge.
func (c *Client) FreezePeriods(ctx context.Context, project string) ([]freeze.Period, error) {
	var out []freeze.Period
	opt := &gl.ListFreezePeriodsOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
	for {
		got, resp, err := c.api.FreezePeriods.ListFreezePeriods(project, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("read deploy freeze periods of %s: %w", project, err)
		}
		for _, p := range got {
			out = append(out, freezePeriod(p))
		}
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// DecodeFreezePeriods reads GitLab's answer to GET /projects/:id/freeze_periods
// (a JSON array, as curl or glab saves it) for pipegate explain.
func DecodeFreezePeriods(data []byte) ([]freeze.Period, error) {
	var got []*gl.FreezePeriod
	if err := json.Unmarshal(data, &got); err != nil {
		return nil, fmt.Errorf("read deploy freeze periods: %w", err)
	}
	out := make([]freeze.Period, 0, len(got))
	for i, p := range got {
		if p == nil || p.FreezeStart == "" || p.FreezeEnd == "" {
			return nil, fmt.Errorf("read deploy freeze periods: period %d has no freeze_start or freeze_end", i+1)
		}
		out = append(out, freezePeriod(p))
	}
	return out, nil
}

func freezePeriod(p *gl.FreezePeriod) freeze.Period {
	return freeze.Period{Start: p.FreezeStart, End: p.FreezeEnd, Timezone: p.CronTimezone}
}
