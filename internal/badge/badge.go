// Package badge draws a service's status badge: a flat, shields.io-style SVG
// whose left part names the service and whose right parts say how its last
// staging and production deployments ended. It does no I/O.
package badge

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

// Result is how the last deployment to one environment ended.
type Result struct {
	Environment string // "staging" or "production"
	State       string // GitLab state: success, failed, canceled, skipped
	Commit      string
}

// Colours, as shields.io names them.
const (
	labelColour   = "#555"    // the service's name
	green         = "#4c1"    // success
	red           = "#e05d44" // failed
	grey          = "#7d7d7d" // canceled, skipped, or a state this package does not know
	lightgrey     = "#9f9f9f" // nothing to show
	noDeploys     = "no deploys yet"
	height        = 20
	padding       = 10 // around the text of each part, both sides together
	fontSize      = 11
	commitInTitle = 8 // how much of a commit the title shows, as GitLab shortens it
)

// environments are the environments a badge shows, in order.
func environments() []string { return []string{"staging", "production"} }

// part is one coloured box of the badge with its text.
type part struct {
	text, colour string
}

// SVG returns the badge of service for results (at most one per environment;
// unknown environments are left out). With no result at all the badge says "no
// deploys yet"; an environment without a result shows a dash. The <title>
// spells everything out (for screen readers and hover) with states in words and
// short commits; the visible text uses marks.
func SVG(service string, results []Result) []byte {
	byEnv := map[string]Result{}
	for _, r := range results {
		if _, seen := byEnv[r.Environment]; !seen {
			byEnv[r.Environment] = r
		}
	}
	parts := []part{{service, labelColour}}
	var title []string
	for _, env := range environments() {
		r, ok := byEnv[env]
		switch {
		case ok:
			mark, colour := look(r.State)
			parts = append(parts, part{env + " " + mark, colour})
			t := env + " " + r.State
			if c := short(r.Commit); c != "" {
				t += " (" + c + ")"
			}
			title = append(title, t)
		case known(byEnv):
			// The other environment has a result: a dash keeps the badge's
			// shape and does not suggest this one does not exist.
			parts = append(parts, part{env + " –", lightgrey})
			title = append(title, env+" none")
		}
	}
	if len(title) == 0 {
		parts = append(parts, part{noDeploys, lightgrey})
		title = append(title, noDeploys)
	}
	return render(service+": "+strings.Join(title, ", "), parts)
}

// known reports whether any environment the badge shows has a result.
func known(byEnv map[string]Result) bool {
	for _, env := range environments() {
		if _, ok := byEnv[env]; ok {
			return true
		}
	}
	return false
}

// look is the mark and colour of a GitLab state.
func look(state string) (mark, colour string) {
	switch state {
	case "success":
		return "✓", green
	case "failed":
		return "✗", red
	case "canceled":
		return "canceled", grey
	case "skipped":
		return "skipped", grey
	case "":
		return "?", grey
	}
	return state, grey
}

func short(commit string) string {
	if len(commit) > commitInTitle {
		return commit[:commitInTitle]
	}
	return commit
}

func render(title string, parts []part) []byte {
	widths := make([]int, len(parts))
	total := 0
	for i, p := range parts {
		widths[i] = textWidth(p.text) + padding
		total += widths[i]
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">`, total, height, esc(title))
	fmt.Fprintf(&b, `<title>%s</title>`, esc(title))
	b.WriteString(`<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`)
	fmt.Fprintf(&b, `<clipPath id="r"><rect width="%d" height="%d" rx="3" fill="#fff"/></clipPath>`, total, height)
	b.WriteString(`<g clip-path="url(#r)">`)
	x := 0
	for i, p := range parts {
		fmt.Fprintf(&b, `<rect x="%d" width="%d" height="%d" fill="%s"/>`, x, widths[i], height, p.colour)
		x += widths[i]
	}
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="url(#s)"/></g>`, total, height)
	fmt.Fprintf(&b, `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="%d">`, fontSize)
	x = 0
	for i, p := range parts {
		mid := float64(x) + float64(widths[i])/2
		tl := widths[i] - padding
		// A shadow under each text, as shields.io draws it; textLength pins the
		// width the layout assumed, whatever font the viewer has.
		fmt.Fprintf(&b, `<text aria-hidden="true" x="%.1f" y="15" fill="#010101" fill-opacity=".3" textLength="%d">%s</text>`, mid, tl, esc(p.text))
		fmt.Fprintf(&b, `<text x="%.1f" y="14" textLength="%d">%s</text>`, mid, tl, esc(p.text))
		x += widths[i]
	}
	b.WriteString(`</g></svg>`)
	return b.Bytes()
}

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // writes to a strings.Builder, which cannot fail
	return b.String()
}

// textWidth estimates the width in pixels of s in 11 px Verdana, from a few
// classes of characters: close enough for a badge, and the same on every run.
func textWidth(s string) int {
	w := 0 // tenths of a pixel
	for _, r := range s {
		switch {
		case strings.ContainsRune("il.,:;|!'", r):
			w += 35
		case strings.ContainsRune("fjrt()[]{}-/ ", r):
			w += 45
		case strings.ContainsRune("mwMW%@", r):
			w += 105
		case r >= 'A' && r <= 'Z':
			w += 80
		case r < 0x80:
			w += 68
		default: // marks and other symbols, CJK is wider but rare in service names
			w += 90
		}
	}
	return (w + 9) / 10
}
