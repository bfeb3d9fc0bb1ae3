package setup

import (
	"fmt"
	"strings"
	"time"

	"github.com/pipegate/pipegate/internal/hookstate"
)

// Hook is a project webhook, as GitLab lists it.
type Hook struct {
	ID                                                                    int64
	URL                                                                   string
	PushEvents, TagPushEvents, MergeRequestsEvents, EnableSSLVerification bool
	AlertStatus                                                           string // executable, temporarily_disabled, disabled
	DisabledUntil                                                         time.Time
}

// Wanted is pipegate's webhook at url: the three kinds of event it acts on
// (pushes start pipelines, tag pushes release, merge requests open production
// gates) and GitLab checking the certificate of the host it delivers the secret to.
func Wanted(url string) Hook {
	return Hook{URL: url, PushEvents: true, TagPushEvents: true, MergeRequestsEvents: true, EnableSSLVerification: true}
}

// Lacks says what h lacks of what pipegate's webhook needs, in words; nil when nothing.
func Lacks(h Hook) []string {
	var out []string
	for _, f := range []struct {
		on   bool
		name string
	}{
		{h.PushEvents, "push events"},
		{h.TagPushEvents, "tag push events"},
		{h.MergeRequestsEvents, "merge request events"},
		{h.EnableSSLVerification, "SSL verification"},
	} {
		if !f.on {
			out = append(out, f.name)
		}
	}
	return out
}

// SameURL reports whether two webhook URLs name the same endpoint (the rule
// is hookstate's, which the reconciler uses too).
func SameURL(a, b string) bool { return hookstate.SameURL(a, b) }

// HookAction is what hooks does to a project.
type HookAction string

const (
	HookCreate HookAction = "create"
	HookUpdate HookAction = "update"
	HookKeep   HookAction = "keep"
)

// HookStep is what hooks does to one project's webhooks, and why.
type HookStep struct {
	Project string
	Action  HookAction
	HookID  int64    // the hook updated or kept
	Changes []string // what create or update sets, in words
	// Warnings are what hooks cannot mend: more hooks to the same URL (each
	// event delivered to each), a hook GitLab disabled.
	Warnings []string
}

// PlanHook decides what makes project's webhooks hold pipegate's at url: add it
// when none has that URL; else edit the first that does when it lacks
// something, or when setToken asks for the token to be set again (GitLab
// never shows a hook's token, so an unchanged hook keeps the one it has); else
// leave it alone. An edit always sets the token too.
func PlanHook(project, url string, hooks []Hook, setToken bool) HookStep {
	step := HookStep{Project: project}
	var mine []Hook
	for _, h := range hooks {
		if SameURL(h.URL, url) {
			mine = append(mine, h)
		}
	}
	if len(mine) == 0 {
		step.Action = HookCreate
		step.Changes = []string{"add a webhook to " + url + ": push, tag push and merge request events, SSL verification, the secret token"}
		return step
	}
	h := mine[0]
	step.HookID = h.ID
	for _, lack := range Lacks(h) {
		step.Changes = append(step.Changes, "turn on "+lack)
	}
	switch {
	case len(step.Changes) > 0:
		step.Action = HookUpdate
		step.Changes = append(step.Changes, "set the secret token")
	case setToken:
		step.Action = HookUpdate
		step.Changes = []string{"set the secret token"}
	default:
		step.Action = HookKeep
	}
	if len(mine) > 1 {
		var ids []string
		for _, o := range mine[1:] {
			ids = append(ids, fmt.Sprint(o.ID))
		}
		which := "hook " + ids[0] + " also delivers"
		if len(ids) > 1 {
			which = "hooks " + strings.Join(ids, ", ") + " also deliver"
		}
		step.Warnings = append(step.Warnings, fmt.Sprintf("%s to %s: GitLab sends each event to each; keep one (Settings > Webhooks)", which, url))
	}
	if d := Disabled(h); d != "" {
		step.Warnings = append(step.Warnings, d+"; "+ReenableFix)
	}
	return step
}

// ReenableFix is how a person re-enables a webhook GitLab disabled.
const ReenableFix = "once pipegate answers (pipegate doctor), send a test event (Settings > Webhooks > Test > Push events): a delivery that succeeds re-enables it"

// Disabled says how GitLab disabled h after failed deliveries, "" when it
// delivers. Whether it is disabled is hookstate's rule, the one the
// reconciler's DisabledHooks metric counts by; a status neither knows is
// shown as it is.
func Disabled(h Hook) string {
	switch {
	case h.AlertStatus == "" || h.AlertStatus == hookstate.Executable:
		return ""
	case !hookstate.IsDisabled(h.AlertStatus):
		return fmt.Sprintf("GitLab reports hook %d as %s", h.ID, h.AlertStatus)
	case h.AlertStatus == hookstate.TemporarilyDisabled:
		until := "for now"
		if !h.DisabledUntil.IsZero() {
			until = "until " + h.DisabledUntil.UTC().Format(time.RFC3339)
		}
		return fmt.Sprintf("GitLab disabled hook %d %s after failed deliveries (alert_status temporarily_disabled)", h.ID, until)
	}
	return fmt.Sprintf("GitLab disabled hook %d after too many failed deliveries in a row (alert_status disabled)", h.ID)
}
