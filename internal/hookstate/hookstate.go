// Package hookstate decides, without I/O, which of a project's GitLab webhooks
// is pipegate's and whether GitLab has disabled it. `pipegate doctor`, `pipegate
// hooks` (internal/setup) and the reconciler (internal/app) all ask it, so that
// the three never disagree on what "disabled" means.
package hookstate

import (
	"net/url"
	"strings"
	"time"
)

// GitLab's alert_status values of a project webhook.
const (
	Executable          = "executable"
	TemporarilyDisabled = "temporarily_disabled"
	Disabled            = "disabled"
)

// IsDisabled reports whether GitLab sends nothing to a hook whose alert_status
// is status: it disabled the hook after failed deliveries, for a while
// (temporarily_disabled, until disabled_until) or for good (disabled). An empty
// status (an older GitLab that does not report it) and executable deliver; so
// does a status this code does not know, which doctor words as it is.
func IsDisabled(status string) bool {
	return status == TemporarilyDisabled || status == Disabled
}

// SameURL reports whether two webhook URLs name the same endpoint: scheme and
// host in any case, a trailing slash or not.
func SameURL(a, b string) bool {
	ua, ea := url.Parse(strings.TrimSpace(a))
	ub, eb := url.Parse(strings.TrimSpace(b))
	if ea != nil || eb != nil {
		return strings.TrimSpace(a) == strings.TrimSpace(b)
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) &&
		strings.TrimSuffix(ua.Path, "/") == strings.TrimSuffix(ub.Path, "/") && ua.RawQuery == ub.RawQuery
}

// Hook is what the decision needs of a project webhook.
type Hook struct {
	ID            int64
	URL           string
	AlertStatus   string
	DisabledUntil time.Time
}

// Finding is what Check found of one project's webhooks.
type Finding struct {
	Project string
	// Found: the project has a webhook to pipegate's URL; HookID is the first.
	Found  bool
	HookID int64
	// Disabled: GitLab disabled that hook (Status, and Until when temporarily).
	Disabled bool
	Status   string
	Until    time.Time
}

// Check finds pipegate's webhook among hooks (the first to webhookURL, as
// `pipegate hooks` keeps it) and says whether GitLab disabled it.
func Check(project, webhookURL string, hooks []Hook) Finding {
	f := Finding{Project: project}
	for _, h := range hooks {
		if !SameURL(h.URL, webhookURL) {
			continue
		}
		f.Found, f.HookID, f.Status = true, h.ID, h.AlertStatus
		if IsDisabled(h.AlertStatus) {
			f.Disabled = true
			if h.AlertStatus == TemporarilyDisabled {
				f.Until = h.DisabledUntil
			}
		}
		return f
	}
	return f
}

// CountDisabled is the number of findings whose hook GitLab disabled: the
// value of the DisabledHooks metric.
func CountDisabled(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if f.Disabled {
			n++
		}
	}
	return n
}
