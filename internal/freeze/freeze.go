// Package freeze decides whether a GitLab deploy freeze period holds now
// (INTERFACE.md "Production gate" step 2). It is pure: the caller reads the
// periods (GET /projects/:id/freeze_periods) and passes the clock.
//
// robfig/cron/v3 is the de-facto standard Go cron parser and has no
// dependencies; GitLab's freeze_start/freeze_end are standard 5-field crons.
package freeze

import (
	"fmt"
	"time"
	_ "time/tzdata" // provided.al2023 has no zoneinfo; cron_timezone must still resolve

	"github.com/robfig/cron/v3"
)

// Period is one GitLab freeze period.
type Period struct {
	Start    string // freeze_start cron
	End      string // freeze_end cron
	Timezone string // cron_timezone, IANA name; empty means UTC
}

// Verdict says whether a freeze holds and until when (in the period's zone).
type Verdict struct {
	Frozen bool
	Until  time.Time
	Period Period
}

// maxLookBack bounds the search for the last fire: a cron that did not fire
// within a year (e.g. "0 0 29 2 *") is treated as not having fired.
const maxLookBack = 366 * 24 * time.Hour

// Active applies GitLab's rule: a period is active when its most recent
// freeze_start fire at or before now is later than its most recent
// freeze_end fire at or before now. An unreadable period fails closed (error).
//
// Until is the end of the whole freeze: when another period begins as one ends
// (a weekend freeze, then a release-day freeze), the gate stays shut through
// both, so Until is the later end, followed up to maxChain periods.
func Active(periods []Period, now time.Time) (Verdict, error) {
	v, err := activeAt(periods, now)
	if err != nil || !v.Frozen {
		return v, err
	}
	for range maxChain {
		next, err := activeAt(periods, v.Until)
		if err != nil || !next.Frozen || !next.Until.After(v.Until) {
			break
		}
		v.Until = next.Until
	}
	return v, nil
}

// maxChain bounds how many back-to-back periods Until follows: a freeze with
// no end in sight is still reported with an end, the next evaluation looks again.
const maxChain = 16

// activeAt is Active for the periods active at now alone.
func activeAt(periods []Period, now time.Time) (Verdict, error) {
	var v Verdict
	for _, p := range periods {
		start, end, loc, err := parse(p)
		if err != nil {
			return Verdict{}, err
		}
		t := now.In(loc)
		ls, okS := lastFire(start, t)
		le, okE := lastFire(end, t)
		if !okS || (okE && !ls.After(le)) {
			continue
		}
		until := end.Next(t)
		if !v.Frozen || until.After(v.Until) {
			v = Verdict{Frozen: true, Until: until, Period: p}
		}
	}
	return v, nil
}

func parse(p Period) (cron.Schedule, cron.Schedule, *time.Location, error) {
	loc, err := time.LoadLocation(p.Timezone)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading freeze period time zone %q: %w", p.Timezone, err)
	}
	start, err := cron.ParseStandard(p.Start)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading freeze_start %q: %w", p.Start, err)
	}
	end, err := cron.ParseStandard(p.End)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading freeze_end %q: %w", p.End, err)
	}
	return start, end, loc, nil
}

// lastFire finds the latest fire at or before now: robfig/cron only steps
// forward, so it walks Next from now minus a window, widening the window
// (1 day, doubling, up to maxLookBack) until a fire is found.
func lastFire(s cron.Schedule, now time.Time) (time.Time, bool) {
	for w := 24 * time.Hour; ; w *= 2 {
		if w > maxLookBack {
			w = maxLookBack
		}
		var last time.Time
		found := false
		for t := s.Next(now.Add(-w).Add(-time.Second)); !t.IsZero() && !t.After(now); t = s.Next(t) {
			last, found = t, true
		}
		if found || w == maxLookBack {
			return last, found
		}
	}
}
