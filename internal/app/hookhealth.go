package app

import (
	"context"
	"time"

	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/hookstate"
)

// MetricDisabledHooks is the metric the template's DisabledHooksAlarm watches:
// how many routed projects' pipegate webhooks GitLab has disabled.
const MetricDisabledHooks = "DisabledHooks"

// HookLister reads a project's webhooks (gitlab.Client).
type HookLister interface {
	Hooks(ctx context.Context, project string) ([]gitlab.Hook, error)
}

// MetricPublisher publishes one value of a metric (metrics.Publisher).
type MetricPublisher interface {
	Put(ctx context.Context, name string, value float64) error
}

// HookHealth watches pipegate's own webhooks. GitLab disables a hook after 4
// failed deliveries in a row and then sends nothing, so the pushes of that
// time are lost without a word to anyone; the reconciler notices instead. The
// zero value watches nothing (local use, a template without WEBHOOK_URL).
type HookHealth struct {
	// WebhookURL is pipegate's webhook URL (WEBHOOK_URL): the hook of a
	// project that is pipegate's is the one to this URL.
	WebhookURL string
	Hooks      HookLister
	Metrics    MetricPublisher // nil: the findings are only logged
}

// checkHooks reads each routed project's webhooks once (one ListProjectHooks
// per project per run: a handful of GitLab calls every five minutes), logs an
// error for each pipegate webhook GitLab disabled, and publishes how many
// there are, 0 included, so that the alarm always has data. A project whose
// hooks cannot be read counts as neither; it is logged. It never fails the
// run: the reconciler's other work matters more than the metric.
func (a *App) checkHooks(ctx context.Context) {
	h := a.HookHealth
	if h.WebhookURL == "" || h.Hooks == nil {
		return
	}
	var found []hookstate.Finding
	for _, project := range a.Routes.Projects() {
		cctx, cancel := a.call(ctx)
		hooks, err := h.Hooks.Hooks(cctx, project)
		cancel()
		if err != nil {
			a.Log.Warn("webhooks not read: cannot tell whether GitLab disabled pipegate's", "project", project, "error", err.Error())
			continue
		}
		f := hookstate.Check(project, h.WebhookURL, stateOf(hooks))
		found = append(found, f)
		switch {
		case !f.Found:
			a.Log.Warn("project has no webhook to pipegate: its pushes never reach pipegate (pipegate hooks adds it)", "project", project, "webhook_url", h.WebhookURL)
		case f.Disabled:
			until := ""
			if !f.Until.IsZero() {
				until = f.Until.UTC().Format(time.RFC3339)
			}
			a.Log.Error("GitLab disabled pipegate's webhook: it delivers no pushes until it is re-enabled; the reconciler starts missed pushes meanwhile",
				"project", project, "hook", f.HookID, "alert_status", f.Status, "disabled_until", until)
		}
	}
	if h.Metrics == nil || len(found) == 0 {
		return // nothing known: no value, rather than a 0 that says all is well
	}
	n := hookstate.CountDisabled(found)
	if err := h.Metrics.Put(ctx, MetricDisabledHooks, float64(n)); err != nil {
		a.Log.Warn("metric not published", "metric", MetricDisabledHooks, "value", n, "error", err.Error())
	}
}

func stateOf(hooks []gitlab.Hook) []hookstate.Hook {
	out := make([]hookstate.Hook, len(hooks))
	for i, h := range hooks {
		out[i] = hookstate.Hook{ID: h.ID, URL: h.URL, AlertStatus: h.AlertStatus, DisabledUntil: h.DisabledUntil}
	}
	return out
}
