package emulator

import (
	"errors"
	"net/http"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
)

func TestGitLabProjectHooks(t *testing.T) {
	g, srv, c := glStart(t)
	// client-go's own calls, as pipegate hooks makes them.
	h, _, err := c.Projects.AddProjectHook("my.group/svc.api", &gl.AddProjectHookOptions{
		URL: gl.Ptr("https://abc.execute-api.eu-west-1.amazonaws.com/webhook"), Token: gl.Ptr("s3cret"),
		PushEvents: gl.Ptr(true), TagPushEvents: gl.Ptr(true), MergeRequestsEvents: gl.Ptr(true), EnableSSLVerification: gl.Ptr(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.ID == 0 || !h.PushEvents || !h.TagPushEvents || !h.MergeRequestsEvents || !h.EnableSSLVerification || h.AlertStatus != "executable" || h.ProjectID != 7 {
		t.Errorf("added %+v", h)
	}
	// GitLab's own defaults when the fields are left out: push events and SSL verification.
	d, _, err := c.Projects.AddProjectHook("7", &gl.AddProjectHookOptions{URL: gl.Ptr("https://other.example/hook")})
	if err != nil || !d.PushEvents || d.TagPushEvents || d.MergeRequestsEvents || !d.EnableSSLVerification {
		t.Errorf("defaults %+v %v", d, err)
	}

	list, _, err := c.Projects.ListProjectHooks("my.group/svc.api", nil)
	if err != nil || len(list) != 2 || list[0].URL != "https://abc.execute-api.eu-west-1.amazonaws.com/webhook" {
		t.Fatalf("list %+v %v", list, err)
	}
	// The token is write-only: no answer carries it.
	if code, body := glDo(t, http.MethodGet, srv.URL+"/api/v4/projects/7/hooks/1", glTestToken, "", ""); code != 200 || body["token"] != nil || body["url"] == nil {
		t.Errorf("GET hook: %d %v", code, body)
	}
	if got := g.Hooks("my.group/svc.api"); len(got) != 2 || got[0].Token != "s3cret" {
		t.Errorf("stored %+v", got)
	}

	// An edit changes what it names; the token stays unless the URL changes without one.
	e, _, err := c.Projects.EditProjectHook("my.group/svc.api", h.ID, &gl.EditProjectHookOptions{URL: gl.Ptr(h.URL), TagPushEvents: gl.Ptr(false)})
	if err != nil || e.TagPushEvents || !e.PushEvents {
		t.Errorf("edited %+v %v", e, err)
	}
	if got := g.Hooks("my.group/svc.api")[0]; got.Token != "s3cret" {
		t.Errorf("token after an edit of the same URL: %q", got.Token)
	}
	if _, _, err := c.Projects.EditProjectHook("my.group/svc.api", h.ID, &gl.EditProjectHookOptions{URL: gl.Ptr("https://elsewhere.example/")}); err != nil {
		t.Fatal(err)
	}
	if got := g.Hooks("my.group/svc.api")[0]; got.Token != "" {
		t.Errorf("the token followed the hook to another URL: %q", got.Token)
	}
	if _, _, err := c.Projects.EditProjectHook("my.group/svc.api", 99, &gl.EditProjectHookOptions{URL: gl.Ptr("https://x.example/")}); !errors.Is(err, gl.ErrNotFound) {
		t.Errorf("edit of an unknown hook: %v", err)
	}
	if code, _ := glDo(t, http.MethodPut, srv.URL+"/api/v4/projects/7/hooks/1", glTestToken, "application/json", `{"push_events":true}`); code != 400 {
		t.Errorf("an edit without url: %d", code)
	}
	if _, _, err := c.Projects.AddProjectHook("my.group/svc.api", &gl.AddProjectHookOptions{URL: gl.Ptr("ftp://x")}); !gl.HasStatusCode(err, 422) {
		t.Errorf("a bad URL: %v", err)
	}
	if _, _, err := c.Projects.ListProjectHooks("my.group/none", nil); !errors.Is(err, gl.ErrNotFound) {
		t.Errorf("hooks of an unknown project: %v", err)
	}
}

func TestGitLabDisabledHookAndProject(t *testing.T) {
	g, _, c := glStart(t)
	until := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	g.AddHook("my.group/svc.api", Hook{URL: "https://x.example/webhook", PushEvents: true, AlertStatus: "temporarily_disabled", DisabledUntil: until})
	list, _, err := c.Projects.ListProjectHooks("my.group/svc.api", nil)
	if err != nil || len(list) != 1 || list[0].AlertStatus != "temporarily_disabled" || list[0].DisabledUntil == nil || !list[0].DisabledUntil.Equal(until) {
		t.Fatalf("list %+v %v", list, err)
	}
	p, _, err := c.Projects.GetProject("my.group/svc.api", nil)
	if err != nil || p.ID != 7 || p.PathWithNamespace != "my.group/svc.api" || p.DefaultBranch != "trunk" {
		t.Errorf("project %+v %v", p, err)
	}
	if _, _, err := c.Projects.GetProject("my.group/none", nil); !errors.Is(err, gl.ErrNotFound) {
		t.Errorf("an unknown project: %v", err)
	}
}

func TestGitLabTokenSelf(t *testing.T) {
	g, srv, c := glStart(t)
	tok, _, err := c.PersonalAccessTokens.GetSinglePersonalAccessToken()
	if err != nil || len(tok.Scopes) != 1 || tok.Scopes[0] != "api" || !tok.Active {
		t.Fatalf("token %+v %v", tok, err)
	}
	g.SetTokenScopes("read_api", "read_repository")
	if tok, _, err = c.PersonalAccessTokens.GetSinglePersonalAccessToken(); err != nil || len(tok.Scopes) != 2 || tok.Scopes[0] != "read_api" {
		t.Errorf("token %+v %v", tok, err)
	}
	other, _ := gl.NewClient("glpat-wrong", gl.WithBaseURL(srv.URL), gl.WithoutRetries())
	if _, _, err := other.PersonalAccessTokens.GetSinglePersonalAccessToken(); !gl.HasStatusCode(err, 401) {
		t.Errorf("a wrong token: %v", err)
	}
	g.FailNext("token_self", 1, Fault{Status: 404})
	if _, _, err := c.PersonalAccessTokens.GetSinglePersonalAccessToken(); !errors.Is(err, gl.ErrNotFound) {
		t.Errorf("a fault: %v", err)
	}
}
