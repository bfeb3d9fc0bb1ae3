package freeze

import (
	"testing"
	"time"
)

func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestActive(t *testing.T) {
	weekend := func(z string) Period { return Period{Start: "0 23 * * 5", End: "0 8 * * 1", Timezone: z} }
	night := Period{Start: "0 22 * * *", End: "0 6 * * *", Timezone: "Asia/Kolkata"}
	cases := []struct {
		name    string
		periods []Period
		now     time.Time
		frozen  bool
		until   string
		wantErr bool
	}{
		{"no periods", nil, at(t, "UTC", "2026-12-05 12:00"), false, "", false},
		{"weekend Berlin saturday", []Period{weekend("Europe/Berlin")}, at(t, "Europe/Berlin", "2026-12-05 12:00"), true, "2026-12-07 08:00 CET", false},
		{"weekend Berlin friday before", []Period{weekend("Europe/Berlin")}, at(t, "Europe/Berlin", "2026-12-04 22:59"), false, "", false},
		{"exactly at start", []Period{weekend("Europe/Berlin")}, at(t, "Europe/Berlin", "2026-12-04 23:00"), true, "2026-12-07 08:00 CET", false},
		{"exactly at end", []Period{weekend("Europe/Berlin")}, at(t, "Europe/Berlin", "2026-12-07 08:00"), false, "", false},
		{"New York, now given in UTC", []Period{weekend("America/New_York")}, at(t, "UTC", "2026-12-05 03:59"), false, "", false},
		{"New York frozen", []Period{weekend("America/New_York")}, at(t, "UTC", "2026-12-05 04:00"), true, "2026-12-07 08:00 EST", false},
		{"spanning midnight Kolkata", []Period{night}, at(t, "Asia/Kolkata", "2026-12-02 01:30"), true, "2026-12-02 06:00 IST", false},
		{"Kolkata daytime", []Period{night}, at(t, "Asia/Kolkata", "2026-12-02 12:00"), false, "", false},
		{"DST change Berlin", []Period{weekend("Europe/Berlin")}, at(t, "Europe/Berlin", "2026-03-29 12:00"), true, "2026-03-30 08:00 CEST", false},
		{"overlap: latest end", []Period{weekend("UTC"), {Start: "0 0 * * 6", End: "0 8 * * 2", Timezone: "UTC"}}, at(t, "UTC", "2026-12-05 12:00"), true, "2026-12-08 08:00 UTC", false},
		{"back to back: a release-day freeze begins as the weekend ends", []Period{weekend("Europe/Berlin"), {Start: "0 8 * * 1", End: "0 18 * * 1", Timezone: "Europe/Berlin"}},
			at(t, "Europe/Berlin", "2026-12-05 12:00"), true, "2026-12-07 18:00 CET", false},
		{"back to back across zones", []Period{weekend("UTC"), {Start: "0 3 * * 1", End: "0 12 * * 1", Timezone: "America/New_York"}},
			at(t, "UTC", "2026-12-05 12:00"), true, "2026-12-07 12:00 EST", false},
		{"a gap of a minute ends the freeze", []Period{weekend("UTC"), {Start: "1 8 * * 1", End: "0 12 * * 1", Timezone: "UTC"}},
			at(t, "UTC", "2026-12-05 12:00"), true, "2026-12-07 08:00 UTC", false},
		{"invalid cron", []Period{{Start: "bogus", End: "0 8 * * 1"}}, at(t, "UTC", "2026-12-05 12:00"), false, "", true},
		{"unknown zone", []Period{{Start: "0 23 * * 5", End: "0 8 * * 1", Timezone: "Mars/Olympus"}}, at(t, "UTC", "2026-12-05 12:00"), false, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := Active(c.periods, c.now)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if v.Frozen != c.frozen {
				t.Fatalf("frozen = %v, want %v", v.Frozen, c.frozen)
			}
			if c.frozen {
				if got := v.Until.Format("2006-01-02 15:04 MST"); got != c.until {
					t.Fatalf("until = %s, want %s", got, c.until)
				}
			}
		})
	}
}
