package missed

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	const grace = 2 * time.Minute
	old := now.Add(-grace)
	young := now.Add(-grace + time.Second)
	for _, c := range []struct {
		name string
		in   Input
		want Verdict
	}{
		{"branch gone", Input{Known: "a"}, Gone},
		{"nothing known: baseline", Input{Head: "b"}, Baseline},
		{"nothing known, even with facts: baseline", Input{Head: "b", Delivered: No, Ran: No}, Baseline},
		{"head is the known one", Input{Head: "a", Known: "a"}, Unchanged},
		{"moved: was it delivered?", Input{Head: "b", Known: "a"}, AskDelivered},
		{"delivered (started or skipped)", Input{Head: "b", Known: "a", Delivered: Yes}, Known},
		{"undelivered, first sight", Input{Head: "b", Known: "a", Delivered: No}, Wait},
		{"undelivered, another candidate", Input{Head: "c", Known: "a", Delivered: No, Candidate: "b", CandidateAt: old}, Wait},
		{"undelivered, within the grace", Input{Head: "b", Known: "a", Delivered: No, Candidate: "b", CandidateAt: young}, Wait},
		{"undelivered past the grace: did it run?", Input{Head: "b", Known: "a", Delivered: No, Candidate: "b", CandidateAt: old}, AskRan},
		{"ran (started by other means)", Input{Head: "b", Known: "a", Delivered: No, Ran: Yes, Candidate: "b", CandidateAt: old}, Known},
		{"undelivered, never ran: start", Input{Head: "b", Known: "a", Delivered: No, Ran: No, Candidate: "b", CandidateAt: old}, Start},
		{"delivered wins over ran", Input{Head: "b", Known: "a", Delivered: Yes, Ran: No, Candidate: "b", CandidateAt: old}, Known},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.Now, in.Grace = now, grace
			if got := Decide(in); got != c.want {
				t.Errorf("Decide(%+v) = %q, want %q", in, got, c.want)
			}
		})
	}
}
