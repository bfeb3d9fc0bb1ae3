package app

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/badge"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// BadgeRoute is the API Gateway route of the status badge (template.yaml);
// {service} is "<service>.svg".
const BadgeRoute = "GET /badges/{service}"

// badgePrefix is the badge route's path up to the service.
const badgePrefix = "/badges/"

// BadgeResults are how each service's deployments last ended, for its badge
// (store.Result).
type BadgeResults interface {
	PutResult(ctx context.Context, r store.Result) error
	Results(ctx context.Context, service string) ([]store.Result, error)
}

// recordResult is the commit statuses' way to the badge. The staging and
// production stages' results come from their deployments (putResult from
// deployments.go), so that the badge and GitLab's environments say the same:
// for those stages this records nothing.
func (a *App) recordResult(ctx context.Context, svc routing.Service, stage string, s store.Status) {
	if _, deploys := svc.Environment(stage); deploys {
		return
	}
	env := ""
	switch {
	case stage == "":
		return // the pipeline's own status
	case stage == svc.StagingStage:
		env = store.Staging
	case stage == svc.Production.Stage:
		env = store.Production
	default:
		return
	}
	state, _ := progress.GitLabState(s.State)
	if !progress.Final(state) {
		return
	}
	a.putResult(ctx, svc, env, state, s.Key.CommitSHA, s.At)
}

// putResult keeps how a deployment ended, for the service's badge: env is
// store.Staging or store.Production, or the stage whose deployment it is. It
// is best effort: a badge must never fail a deployment or a status, so an
// error is logged and the event goes on.
func (a *App) putResult(ctx context.Context, svc routing.Service, env, state, commit string, at time.Time) {
	switch env {
	case store.Staging, store.Production:
	case svc.StagingStage:
		env = store.Staging
	case svc.Production.Stage:
		env = store.Production
	default:
		return
	}
	r := store.Result{Service: svc.Name, Environment: env, State: state, Commit: commit, At: at}
	if err := a.Store.PutResult(ctx, r); err != nil {
		a.Log.Warn("badge result not recorded", "service", svc.Name, "environment", env, "state", state,
			"commit", r.Commit, "error", err.Error())
		return
	}
	a.Log.Info("badge result recorded", "service", svc.Name, "environment", env, "state", state, "commit", r.Commit)
}

// Badge returns the status badge (SVG) of the service called name: how its last
// staging and production deployments ended. found is false when no service of
// the routing file has that name.
func (a *App) Badge(ctx context.Context, name string) (svg []byte, found bool, err error) {
	svc, ok := a.Routes.Named(name)
	if !ok {
		return nil, false, nil
	}
	cctx, cancel := a.call(ctx)
	defer cancel()
	results, err := a.Store.Results(cctx, svc.Name)
	if err != nil {
		return nil, true, fmt.Errorf("read results of %s: %w", svc.Name, err)
	}
	var br []badge.Result
	for _, r := range results {
		br = append(br, badge.Result{Environment: r.Environment, State: r.State, Commit: r.Commit})
	}
	return badge.SVG(svc.Name, br), true, nil
}

// isBadgeRequest reports whether req asks for a badge. API Gateway names the
// route, and its naming is final; a function URL (route key "$default") gives
// only the path.
func isBadgeRequest(req events.APIGatewayV2HTTPRequest) bool {
	switch req.RouteKey {
	case BadgeRoute:
		return true
	case "", "$default":
		return strings.HasPrefix(req.RawPath, badgePrefix)
	}
	return false
}

// badgeHTTPAPI answers a badge request. GitLab shows a project badge as an image
// that the viewer's browser (or GitLab's asset proxy) loads, so every answer says
// no-cache: a cached badge would go on showing an old deployment.
func (a *App) badgeHTTPAPI(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	if m := req.RequestContext.HTTP.Method; m != "" && m != http.MethodGet {
		return badgeText(http.StatusMethodNotAllowed, "badges answer GET only\n", map[string]string{"Allow": http.MethodGet})
	}
	name, ok := req.PathParameters["service"]
	if !ok {
		// A function URL: the service is the rest of the raw (still escaped) path.
		raw := strings.TrimPrefix(req.RawPath, badgePrefix)
		var err error
		if name, err = url.PathUnescape(raw); err != nil {
			return badgeText(http.StatusNotFound, "no such badge\n", nil)
		}
	}
	name = strings.TrimSuffix(name, ".svg")
	svg, found, err := a.Badge(ctx, name)
	switch {
	case err != nil:
		a.Log.Error("badge unavailable", "service", name, "error", err.Error())
		return badgeText(http.StatusServiceUnavailable, "badge unavailable\n", nil)
	case !found:
		a.Log.Info("badge of an unknown service", "service", name)
		return badgeText(http.StatusNotFound, "no such badge\n", nil)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusOK,
		Headers: map[string]string{
			"Content-Type":  "image/svg+xml",
			"Cache-Control": "no-cache",
		},
		Body: string(svg),
	}
}

// badgeText is a plain-text answer to a badge request. It never repeats the
// path it was asked for.
func badgeText(status int, body string, headers map[string]string) events.APIGatewayV2HTTPResponse {
	h := map[string]string{"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache"}
	maps.Copy(h, headers)
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: h, Body: body}
}
