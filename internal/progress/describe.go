package progress

import (
	"fmt"
	"strings"
	"time"

	"github.com/pipegate/pipegate/internal/text"
)

// Describe says in words what a status shows, at most text.MaxDescription characters: "Build
// running", "Build succeeded in 3m 12s" (the duration is At - Began, left out when Began is
// unknown), "Deploy failed: <summary>", "Build canceled", "core-pipeline superseded by a
// newer execution", "Staging stopped", "Production skipped". subject is the stage name, or
// the pipeline name for the pipeline's own status. A non-empty summary follows after a
// colon whatever the state, on one line.
func Describe(subject string, s Status, summary string) string {
	state := Normalize(s.State)
	var b strings.Builder
	b.WriteString(subject)
	b.WriteByte(' ')
	switch state {
	case "STARTED", "RESUMED":
		b.WriteString("running")
	case "STOPPING":
		b.WriteString("stopping")
	case "SUCCEEDED":
		b.WriteString("succeeded")
		if !s.Began.IsZero() && !s.At.Before(s.Began) {
			b.WriteString(" in ")
			b.WriteString(duration(s.At.Sub(s.Began)))
		}
	case "FAILED":
		b.WriteString("failed")
	case "CANCELED":
		b.WriteString("canceled")
	case "STOPPED":
		b.WriteString("stopped")
	case "SUPERSEDED":
		b.WriteString("superseded by a newer execution")
	case "ABANDONED":
		b.WriteString("abandoned")
	case "SKIPPED":
		b.WriteString("skipped")
	default:
		b.WriteString(strings.ToLower(state))
	}
	// Summaries come from build tools and may span lines; a description is one line.
	if summary = strings.Join(strings.Fields(summary), " "); summary != "" {
		b.WriteString(": ")
		b.WriteString(summary)
	}
	return text.Truncate(b.String(), text.MaxDescription)
}

// NeedsStart reports whether s is a success whose start is unknown: Describe would say how
// long it took if it knew when it began. Only a success carries a duration, so only then is
// a start worth asking CodePipeline for.
func NeedsStart(s Status) bool {
	return Normalize(s.State) == "SUCCEEDED" && s.Began.IsZero()
}

// duration writes d to the second in the two largest units: "45s", "3m 12s", "1h 4m".
func duration(d time.Duration) string {
	sec := int64(d / time.Second)
	switch h, m, s := sec/3600, sec/60%60, sec%60; {
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, s)
	default:
		return fmt.Sprintf("%ds", s)
	}
}
