package deploy

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/cfn"
)

// checkBadgeRoute checks that WebhookFunction also serves the status badges on
// the route the code answers (app.BadgeRoute), on the same API as the webhook,
// with payload format 2.0, and that the path variable is the one the code reads.
// The badge needs no grant beyond the webhook's: the store reads results with
// GetItem, and PipelineEventsFunction writes them with PutItem. The route must be
// throttled (checkBadgeThrottle), since it shares the webhook's function.
func (c *checker) checkBadgeRoute() {
	f, err := c.cf.GetServerlessFunctionWithName(webhookFunction)
	if err != nil {
		return // reported by checkFunctions
	}
	method, path, _ := strings.Cut(app.BadgeRoute, " ")
	found := false
	for _, name := range slices.Sorted(maps.Keys(f.Events)) {
		e := f.Events[name]
		if e.Type != "HttpApi" || e.Properties == nil || e.Properties.HttpApiEvent == nil {
			continue
		}
		h := e.Properties.HttpApiEvent
		if !strings.EqualFold(str(h.Method), method) || str(h.Path) != path {
			continue
		}
		found = true
		if v := str(h.PayloadFormatVersion); v != "" && v != "2.0" {
			c.errorf("%s event %s: PayloadFormatVersion %s, want 2.0 (events.APIGatewayV2HTTPRequest)", webhookFunction, name, v)
		}
		api, err := c.ev.Eval(cfn.Lookup(c.events(webhookFunction)[name], "Properties", "ApiId"))
		if err != nil {
			c.errorf("%s event %s: ApiId: %v", webhookFunction, name, err)
		} else if api != "{Ref:HttpApi}" {
			c.errorf("%s event %s: ApiId %v, want !Ref HttpApi (the API BadgeUrl names)", webhookFunction, name, api)
		}
		c.checkBadgeThrottle(name)
	}
	if !found {
		c.errorf("%s: no HttpApi event for %s (the status badges)", webhookFunction, app.BadgeRoute)
	}
}

// maxBadgeConcurrency bounds the Lambda concurrency the public badge route may
// take from WebhookFunction: a fifth of Lambda's default account quota of 1,000
// concurrent executions, so that GitLab's webhook deliveries keep the rest.
const maxBadgeConcurrency = 200

// checkBadgeThrottle checks that the badge route has its own throttling: SAM
// merges the HttpApi's RouteSettings for the route key "GET /badges/{service}"
// with the event's own RouteSettings (the event's win) into the stage's route
// settings. At ThrottlingRateLimit requests a second, each of which may run for
// the function's Timeout, plus a burst, the badges hold at most burst + rate x
// Timeout executions at once.
func (c *checker) checkBadgeThrottle(event string) {
	settings := map[string]any{}
	if m, ok := cfn.Lookup(c.raw, "Resources", "HttpApi", "Properties", "RouteSettings", app.BadgeRoute).(map[string]any); ok {
		maps.Copy(settings, m)
	}
	if m, ok := cfn.Lookup(c.events(webhookFunction)[event], "Properties", "RouteSettings").(map[string]any); ok {
		maps.Copy(settings, m)
	}
	limits := map[string]float64{}
	for _, k := range []string{"ThrottlingBurstLimit", "ThrottlingRateLimit"} {
		v, err := c.ev.Eval(settings[k])
		n, ok := toFloat(v)
		if err != nil || !ok || n <= 0 {
			c.errorf("%s: no %s (%v): a flood of public badge requests would take the Lambda concurrency GitLab's webhook deliveries need", app.BadgeRoute, k, v)
			return
		}
		limits[k] = n
	}
	burst, rate := limits["ThrottlingBurstLimit"], limits["ThrottlingRateLimit"]
	timeout := float64(c.timeout(webhookFunction))
	if worst := burst + rate*timeout; worst > maxBadgeConcurrency {
		c.errorf("%s: ThrottlingBurstLimit %v + ThrottlingRateLimit %v x %s's Timeout %v s lets the badges hold %v concurrent executions, over %d", app.BadgeRoute, burst, rate, webhookFunction, timeout, worst, maxBadgeConcurrency)
	}
}

// toFloat reads a number as YAML or an evaluation gives it.
func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case int:
		return float64(v), true
	case float64:
		return v, true
	case string:
		n, err := strconv.ParseFloat(v, 64)
		return n, err == nil
	}
	return 0, false
}
