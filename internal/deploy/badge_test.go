package deploy

import (
	"maps"
	"slices"
	"strings"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/cfn"
)

// checkBadgeRoute checks that WebhookFunction also serves the status badges on
// the route the code answers (app.BadgeRoute), on the same API as the webhook,
// with payload format 2.0, and that the path variable is the one the code reads.
// The badge needs no grant beyond the webhook's: the store reads results with
// GetItem, and PipelineEventsFunction writes them with PutItem.
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
	}
	if !found {
		c.errorf("%s: no HttpApi event for %s (the status badges)", webhookFunction, app.BadgeRoute)
	}
}
