package gitlab

import (
	"context"
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
			out = append(out, freeze.Period{Start: p.FreezeStart, End: p.FreezeEnd, Timezone: p.CronTimezone})
		}
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}
