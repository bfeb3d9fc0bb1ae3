package app_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/store"
)

// otherSHA is a second commit of team/core.
const otherSHA = "f3a6d9c2e5b8a1f4d7c0e3b6a9f2d5c8e1b4a7d0"

// badgeRequest asks for file ("core.svg") the way API Gateway routes it.
func badgeRequest(file string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       app.BadgeRoute,
		RawPath:        "/badges/" + file,
		PathParameters: map[string]string{"service": file},
		Headers:        map[string]string{"accept": "image/svg+xml,image/*"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: app.BadgeRoute,
			HTTP:     events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: "/badges/" + file},
		},
	}
}

// get sends req through the webhook function's API Gateway entry point.
func (w *world) get(req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	w.t.Helper()
	resp, err := w.app.WebhookHTTPAPI(context.Background(), req)
	if err != nil {
		w.t.Fatalf("badge request returned an error: %v", err)
	}
	return resp
}

// shownBadge is what a badge says: its title, and its visible texts left to right.
type shownBadge struct {
	title string
	texts []string
}

// badge gets file's badge, checks the answer is a fresh SVG image, and parses it.
func (w *world) badge(file string) shownBadge {
	w.t.Helper()
	resp := w.get(badgeRequest(file))
	if resp.StatusCode != http.StatusOK || resp.Headers["Content-Type"] != "image/svg+xml" || resp.Headers["Cache-Control"] != "no-cache" || resp.IsBase64Encoded {
		w.t.Fatalf("badge %s: %d %v base64 %v: %s", file, resp.StatusCode, resp.Headers, resp.IsBase64Encoded, resp.Body)
	}
	return parseBadge(w.t, resp.Body)
}

// parseBadge reads an SVG badge with encoding/xml: it must be well-formed XML
// with <svg> as its root.
func parseBadge(t testing.TB, body string) shownBadge {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(body))
	var b shownBadge
	depth := 0
	var in []string // element names from the root down
	hidden := []bool{false}
	for {
		tok, err := dec.Token()
		if err != nil {
			if depth != 0 || len(in) != 0 {
				t.Fatalf("badge is not well-formed XML: %v\n%s", err, body)
			}
			if !errors.Is(err, io.EOF) {
				t.Fatalf("badge: %v\n%s", err, body)
			}
			break
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 && (tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" || len(in) != 0) {
				t.Fatalf("root element %v, want one svg in the SVG namespace\n%s", tok.Name, body)
			}
			h := hidden[len(hidden)-1]
			for _, a := range tok.Attr {
				h = h || (a.Name.Local == "aria-hidden" && a.Value == "true")
			}
			in, hidden = append(in, tok.Name.Local), append(hidden, h)
			depth++
		case xml.EndElement:
			in, hidden = in[:len(in)-1], hidden[:len(hidden)-1]
			depth--
		case xml.CharData:
			switch {
			case len(in) == 0:
				if len(bytes.TrimSpace(tok)) != 0 {
					t.Fatalf("text outside the root: %q", tok)
				}
			case in[len(in)-1] == "title":
				b.title += string(tok)
			case in[len(in)-1] == "text" && !hidden[len(hidden)-1]:
				b.texts = append(b.texts, string(tok))
			}
		}
	}
	if b.title == "" || len(b.texts) == 0 {
		t.Fatalf("badge without title or text:\n%s", body)
	}
	return b
}

// says checks a badge against the results the store holds for core: each one's
// environment, state and commit, in words in the title and as a mark in the text.
func (w *world) says(b shownBadge, want ...store.Result) {
	w.t.Helper()
	got, err := w.store.Results(context.Background(), "core")
	if err != nil {
		w.t.Fatal(err)
	}
	if len(got) != len(want) {
		w.t.Fatalf("store holds %+v, want %+v", got, want)
	}
	for i, r := range got {
		if r.Service != "core" || r.Environment != want[i].Environment || r.State != want[i].State ||
			r.Commit != want[i].Commit || !r.At.Equal(want[i].At) {
			w.t.Fatalf("store holds %+v, want %+v", r, want[i])
		}
		if words := r.Environment + " " + r.State + " (" + r.Commit[:8] + ")"; !strings.Contains(b.title, words) {
			w.t.Errorf("badge title %q does not say %q", b.title, words)
		}
		mark := map[string]string{"success": "✓", "failed": "✗"}[r.State]
		if !slices.Contains(b.texts, r.Environment+" "+mark) {
			w.t.Errorf("badge texts %q have no %q", b.texts, r.Environment+" "+mark)
		}
	}
	if len(b.texts) == 0 || b.texts[0] != "core" {
		w.t.Errorf("badge texts %q, want core first", b.texts)
	}
}

func TestBadgeShowsLastDeployments(t *testing.T) {
	for _, tt := range []struct {
		name  string
		store func(t *testing.T) app.Store
	}{
		{"memory", func(*testing.T) app.Store { return store.NewMemory() }},
		{"dynamo", dynamoStore},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, withClock, withStore(tt.store(t)))
			if b := w.badge("core.svg"); !slices.Equal(b.texts, []string{"core", "no deploys yet"}) {
				t.Fatalf("badge before any deployment: %+v", b)
			}

			id := w.pushed()
			// Source and Build, and Staging running, are no deployment's end.
			for _, ev := range execution(id)[:6] {
				w.event(ev)
			}
			w.event(emulator.StageEvent("core-pipeline", id, "Build", "SUCCEEDED", at(197)))
			w.event(emulator.StageEvent("core-pipeline", id, "Staging", "STARTED", at(198)))
			if b := w.badge("core.svg"); !slices.Equal(b.texts, []string{"core", "no deploys yet"}) {
				t.Fatalf("badge before staging ended: %+v", b)
			}

			w.event(emulator.StageEvent("core-pipeline", id, "Staging", "SUCCEEDED", at(260)))
			w.says(w.badge("core.svg"), store.Result{Environment: "staging", State: "success", Commit: headSHA, At: at(260)})

			w.event(emulator.StageEvent("core-pipeline", id, "Production", "STARTED", at(300)))
			w.event(emulator.StageEvent("core-pipeline", id, "Production", "FAILED", at(400)))
			w.event(emulator.PipelineEvent("core-pipeline", id, "FAILED", at(400)))
			b := w.badge("core.svg")
			w.says(b,
				store.Result{Environment: "staging", State: "success", Commit: headSHA, At: at(260)},
				store.Result{Environment: "production", State: "failed", Commit: headSHA, At: at(400)})
			if !slices.Equal(b.texts, []string{"core", "staging ✓", "production ✗"}) {
				t.Errorf("badge texts %q", b.texts)
			}
			// The statuses the badge follows are in GitLab as well.
			if s := w.latest("core-pipeline/Production"); s.State != "failed" {
				t.Errorf("Production status %+v", s)
			}
		})
	}
}

// Events of an older deployment arriving late (another commit, so its own
// statuses take them) do not overwrite the newer result on the badge.
func TestBadgeKeepsNewerResult(t *testing.T) {
	w := newWorld(t, withClock)
	old := w.pushed()
	code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main", func(m map[string]any) {
		m["before"], m["after"], m["checkout_sha"] = headSHA, otherSHA, otherSHA
	}), headers: map[string]string{"idempotency-key": "second-push", "x-gitlab-event-uuid": "uuid-second"}})
	if code != http.StatusOK || len(ans.Started) != 1 || ans.Started[0].Commit != otherSHA {
		t.Fatalf("second push: %d %+v", code, ans)
	}
	newer := ans.Started[0].ExecutionID

	w.event(emulator.StageEvent("core-pipeline", newer, "Staging", "SUCCEEDED", at(600)))
	w.event(emulator.StageEvent("core-pipeline", old, "Staging", "FAILED", at(250)))
	// GitLab has the old commit's failure, on the old commit.
	if s := w.latest("core-pipeline/Staging"); s.State != "failed" {
		t.Fatalf("old commit's Staging status %+v, want failed", s)
	}
	w.says(w.badge("core.svg"), store.Result{Environment: "staging", State: "success", Commit: otherSHA, At: at(600)})

	// A newer end replaces it, whichever commit it is of.
	w.event(emulator.StageEvent("core-pipeline", old, "Production", "SUCCEEDED", at(700)))
	w.event(emulator.StageEvent("core-pipeline", newer, "Production", "CANCELED", at(650)))
	got, err := w.store.Results(context.Background(), "core")
	if err != nil || len(got) != 2 || got[1].State != "success" || got[1].Commit != headSHA {
		t.Fatalf("results %+v, %v; want production success of %s", got, err, headSHA)
	}
}

// staging_stage and production.stage name the stages the badge follows.
func TestBadgeFollowsRoutingStages(t *testing.T) {
	w := newWorld(t, withClock)
	cfg, err := routing.Parse([]byte(routes + `
  - name: web
    project: team/core
    pipeline: web-pipeline
    paths: ["web/**"]
    staging_stage: QA
    production: {stage: Live}
`))
	if err != nil {
		t.Fatal(err)
	}
	w.app.Routes = cfg
	w.cp.AddExecution("web-pipeline", emulator.Execution{ID: "web-1", CommitSHA: headSHA, Status: "InProgress", StartedAt: at(0)})
	for _, ev := range [][]byte{
		emulator.StageEvent("web-pipeline", "web-1", "Staging", "SUCCEEDED", at(10)),
		emulator.StageEvent("web-pipeline", "web-1", "Production", "SUCCEEDED", at(20)),
	} {
		w.event(ev)
	}
	if b := w.badge("web.svg"); !slices.Equal(b.texts, []string{"web", "no deploys yet"}) {
		t.Fatalf("badge after stages web does not follow: %+v", b)
	}
	w.event(emulator.StageEvent("web-pipeline", "web-1", "QA", "SUCCEEDED", at(30)))
	w.event(emulator.StageEvent("web-pipeline", "web-1", "Live", "SUCCEEDED", at(40)))
	if b := w.badge("web.svg"); !slices.Equal(b.texts, []string{"web", "staging ✓", "production ✓"}) {
		t.Fatalf("badge after QA and Live: %+v", b)
	}
	// Each service its own badge.
	if b := w.badge("core.svg"); !slices.Equal(b.texts, []string{"core", "no deploys yet"}) {
		t.Fatalf("core's badge: %+v", b)
	}
}

func TestBadgeRequests(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	w.event(emulator.StageEvent("core-pipeline", id, "Staging", "SUCCEEDED", at(260)))

	// A Lambda function URL gives the path only.
	furl := func(method, path string) events.APIGatewayV2HTTPRequest {
		return events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "$default", RawPath: path,
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RouteKey: "$default",
				HTTP:     events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
			},
		}
	}
	resp := w.get(furl(http.MethodGet, "/badges/core.svg"))
	if resp.StatusCode != http.StatusOK || resp.Headers["Content-Type"] != "image/svg+xml" {
		t.Fatalf("function URL badge: %d %v", resp.StatusCode, resp.Headers)
	}
	if b := parseBadge(t, resp.Body); !slices.Equal(b.texts, []string{"core", "staging ✓", "production –"}) {
		t.Errorf("function URL badge texts %q", b.texts)
	}
	if resp := w.get(furl(http.MethodPost, "/badges/core.svg")); resp.StatusCode != http.StatusMethodNotAllowed || resp.Headers["Allow"] != "GET" {
		t.Errorf("POST of a badge: %d %v", resp.StatusCode, resp.Headers)
	}

	for _, req := range []events.APIGatewayV2HTTPRequest{
		badgeRequest("nobody.svg"),
		badgeRequest("core-pipeline.svg"), // a pipeline, not a service
		badgeRequest("Core.svg"),
		badgeRequest(".svg"),
		furl(http.MethodGet, "/badges/%3Cscript%3E.svg"),
		furl(http.MethodGet, "/badges/%zz"),
	} {
		resp := w.get(req)
		if resp.StatusCode != http.StatusNotFound || resp.Headers["Cache-Control"] != "no-cache" {
			t.Errorf("%s: %d %v, want 404", req.RawPath, resp.StatusCode, resp.Headers)
		}
		if strings.Contains(resp.Body, "script") || strings.Contains(resp.Body, "nobody") {
			t.Errorf("%s: the answer repeats the path: %q", req.RawPath, resp.Body)
		}
	}

	// A webhook delivery is still one, and asks the store for no badge.
	code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "feature")})
	if code != http.StatusOK || ans.Result == "" {
		t.Errorf("webhook after badges: %d %+v", code, ans)
	}
}

// resultsFail is a store whose badge results cannot be written or read.
type resultsFail struct{ app.Store }

var errResults = errors.New("results table on fire")

func (resultsFail) PutResult(context.Context, store.Result) error { return errResults }
func (resultsFail) Results(context.Context, string) ([]store.Result, error) {
	return nil, errResults
}

// A badge never fails a status: the status is posted, the failure logged.
func TestBadgeFailureDoesNotFailStatus(t *testing.T) {
	w := newWorld(t, withClock)
	w.store = resultsFail{w.store}
	w.app.Store = w.store
	id := w.pushed()
	if ans := w.event(emulator.StageEvent("core-pipeline", id, "Staging", "SUCCEEDED", at(260))); ans.Result != "posted" {
		t.Fatalf("event answered %+v", ans)
	}
	if s := w.latest("core-pipeline/Staging"); s.State != "success" {
		t.Fatalf("Staging status %+v", s)
	}
	lines := logLines(w.logs, "badge result not recorded")
	if len(lines) != 1 || lines[0]["level"] != "WARN" || lines[0]["service"] != "core" || lines[0]["environment"] != "staging" {
		t.Fatalf("log lines %v", lines)
	}
	if resp := w.get(badgeRequest("core.svg")); resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(resp.Body, "fire") {
		t.Errorf("badge with a failing store: %d %q", resp.StatusCode, resp.Body)
	}
}
