package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Project webhooks (GET/POST/PUT /projects/:id/hooks[/:hook_id]), the project
// itself (GET /projects/:id) and the token's own record (GET
// /personal_access_tokens/self), which `pipegate hooks` and `pipegate doctor` use.

// Hook is a project webhook as the stand-in keeps it.
type Hook struct {
	ID  int64
	URL string
	// Token is the secret token GitLab sends as X-Gitlab-Token. GitLab's API never
	// shows it; tests read it here.
	Token                                                                 string
	PushEvents, TagPushEvents, MergeRequestsEvents, EnableSSLVerification bool
	// AlertStatus is executable (the default), temporarily_disabled or disabled:
	// GitLab disables a hook whose deliveries keep failing, until DisabledUntil
	// when temporarily.
	AlertStatus   string
	DisabledUntil time.Time
}

// AddHook adds a webhook to project (path or numeric id), as a person would in
// Settings > Webhooks, and returns its id. AlertStatus defaults to executable.
func (g *GitLab) AddHook(project string, h Hook) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.glFind(project)
	if !ok {
		panic("emulator: AddHook on unknown project " + project)
	}
	return g.addHook(p, h)
}

// addHook stores h with a fresh id; g.mu must be held.
func (g *GitLab) addHook(p glProject, h Hook) int64 {
	g.nextHookID++
	h.ID = g.nextHookID
	if h.AlertStatus == "" {
		h.AlertStatus = "executable"
	}
	if g.hooks == nil {
		g.hooks = map[string][]*Hook{}
	}
	g.hooks[p.path] = append(g.hooks[p.path], &h)
	return h.ID
}

// Hooks returns a copy of project's webhooks, tokens included, oldest first.
func (g *GitLab) Hooks(project string) []Hook {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.glFind(project)
	if !ok {
		return nil
	}
	var out []Hook
	for _, h := range g.hooks[p.path] {
		out = append(out, *h)
	}
	return out
}

// SetTokenScopes sets the scopes GET /personal_access_tokens/self reports of
// the stand-in's token; by default it has api.
func (g *GitLab) SetTokenScopes(scopes ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.scopes = slices.Clone(scopes)
	if g.scopes == nil {
		g.scopes = []string{}
	}
}

func (g *GitLab) glProjectJSON(w http.ResponseWriter, p glProject) {
	name := p.path[strings.LastIndexByte(p.path, '/')+1:]
	namespace := strings.TrimSuffix(p.path, "/"+name)
	glJSON(w, http.StatusOK, map[string]any{
		"id": p.id, "name": name, "path": name, "path_with_namespace": p.path,
		"name_with_namespace": strings.ReplaceAll(p.path, "/", " / "),
		"default_branch":      glNull(p.defaultBranch),
		"web_url":             "https://gitlab.example/" + p.path,
		"namespace":           map[string]any{"name": namespace, "path": namespace, "full_path": namespace, "kind": "group"},
	})
}

func (g *GitLab) glTokenSelf(w http.ResponseWriter) {
	g.mu.Lock()
	scopes := g.scopes
	g.mu.Unlock()
	if scopes == nil {
		scopes = []string{"api"}
	}
	glJSON(w, http.StatusOK, map[string]any{
		"id": 1, "name": "pipegate", "revoked": false, "created_at": "2026-01-05T09:00:00.000Z",
		"description": "", "scopes": scopes, "user_id": 1, "last_used_at": nil,
		"active": true, "expires_at": nil,
	})
}

func glHookJSON(p glProject, h *Hook) map[string]any {
	var until any
	if !h.DisabledUntil.IsZero() {
		until = h.DisabledUntil.UTC()
	}
	return map[string]any{
		"id": h.ID, "url": h.URL, "name": "", "description": "", "project_id": p.id,
		"push_events": h.PushEvents, "push_events_branch_filter": "", "branch_filter_strategy": "wildcard",
		"issues_events": false, "confidential_issues_events": false,
		"merge_requests_events": h.MergeRequestsEvents, "tag_push_events": h.TagPushEvents,
		"note_events": false, "confidential_note_events": false, "job_events": false,
		"pipeline_events": false, "wiki_page_events": false, "deployment_events": false,
		"releases_events": false, "milestone_events": false, "feature_flag_events": false,
		"emoji_events": false, "resource_access_token_events": false, "vulnerability_events": false,
		"repository_update_events": false, "enable_ssl_verification": h.EnableSSLVerification,
		"alert_status": h.AlertStatus, "disabled_until": until,
		"url_variables": []any{}, "custom_headers": []any{}, "custom_webhook_template": "",
		"created_at": "2026-01-05T09:00:00.000Z",
	}
}

func (g *GitLab) glListHooks(w http.ResponseWriter, p glProject) {
	g.mu.Lock()
	out := []map[string]any{}
	for _, h := range g.hooks[p.path] {
		out = append(out, glHookJSON(p, h))
	}
	g.mu.Unlock()
	glJSON(w, http.StatusOK, out)
}

// glHookOf finds the hook of p named by the path's id; g.mu must be held.
func (g *GitLab) glHookOf(p glProject, arg string) *Hook {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return nil
	}
	for _, h := range g.hooks[p.path] {
		if h.ID == id {
			return h
		}
	}
	return nil
}

func (g *GitLab) glGetHook(w http.ResponseWriter, p glProject, arg string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h := g.glHookOf(p, arg)
	if h == nil {
		glError(w, http.StatusNotFound, "404 Not found")
		return
	}
	glJSON(w, http.StatusOK, glHookJSON(p, h))
}

// glHookInput is a hook's fields as a POST or PUT gives them, JSON or form;
// nil is a field not given.
type glHookInput struct {
	URL                   *string `json:"url"`
	Token                 *string `json:"token"`
	PushEvents            *bool   `json:"push_events"`
	TagPushEvents         *bool   `json:"tag_push_events"`
	MergeRequestsEvents   *bool   `json:"merge_requests_events"`
	EnableSSLVerification *bool   `json:"enable_ssl_verification"`
}

// readHookInput reads a POST or PUT of a hook, which must name an http(s) URL
// (GitLab's API requires url on both), or answers as GitLab does and returns false.
func readHookInput(w http.ResponseWriter, r *http.Request) (glHookInput, bool) {
	in, ok := decodeHookInput(r)
	switch {
	case !ok:
		glError(w, http.StatusBadRequest, "400 Bad request - body is not JSON")
	case in.URL == nil:
		glJSON(w, http.StatusBadRequest, map[string]string{"error": "url is missing"})
	case !glValidURL(in.URL):
		glJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": map[string][]string{"url": {"is blocked: Only allowed schemes are http, https"}}})
	default:
		return in, true
	}
	return in, false
}

func decodeHookInput(r *http.Request) (glHookInput, bool) {
	var in glHookInput
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return in, json.NewDecoder(r.Body).Decode(&in) == nil
	}
	if err := r.ParseForm(); err != nil {
		return in, false
	}
	str := func(k string) *string {
		if !r.Form.Has(k) {
			return nil
		}
		v := r.Form.Get(k)
		return &v
	}
	flag := func(k string) *bool {
		if !r.Form.Has(k) {
			return nil
		}
		v := r.Form.Get(k) == "true"
		return &v
	}
	in.URL, in.Token = str("url"), str("token")
	in.PushEvents, in.TagPushEvents = flag("push_events"), flag("tag_push_events")
	in.MergeRequestsEvents, in.EnableSSLVerification = flag("merge_requests_events"), flag("enable_ssl_verification")
	return in, true
}

// apply sets the given fields of h. GitLab forgets a hook's token when its URL
// changes and no new token comes with it, so that a secret never follows the
// hook to another host.
func (in glHookInput) apply(h *Hook) {
	if in.URL != nil && *in.URL != h.URL {
		h.URL = *in.URL
		if in.Token == nil {
			h.Token = ""
		}
	}
	if in.Token != nil {
		h.Token = *in.Token
	}
	for _, f := range []struct {
		v   *bool
		dst *bool
	}{{in.PushEvents, &h.PushEvents}, {in.TagPushEvents, &h.TagPushEvents}, {in.MergeRequestsEvents, &h.MergeRequestsEvents}, {in.EnableSSLVerification, &h.EnableSSLVerification}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
}

// glValidURL is GitLab's check of a hook URL: an absolute http(s) URL.
func glValidURL(s *string) bool {
	if s == nil {
		return false
	}
	u, err := url.Parse(*s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (g *GitLab) glAddHook(w http.ResponseWriter, r *http.Request, p glProject) {
	in, ok := readHookInput(w, r)
	if !ok {
		return
	}
	// GitLab's defaults for a new hook: push events and SSL verification on.
	h := Hook{PushEvents: true, EnableSSLVerification: true}
	in.apply(&h)
	g.mu.Lock()
	id := g.addHook(p, h)
	out := glHookJSON(p, g.glHookOf(p, strconv.FormatInt(id, 10)))
	g.mu.Unlock()
	glJSON(w, http.StatusCreated, out)
}

func (g *GitLab) glEditHook(w http.ResponseWriter, r *http.Request, p glProject, arg string) {
	in, ok := readHookInput(w, r)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	h := g.glHookOf(p, arg)
	if h == nil {
		glError(w, http.StatusNotFound, "404 Not found")
		return
	}
	in.apply(h)
	glJSON(w, http.StatusOK, glHookJSON(p, h))
}

// SetHookStatus sets the alert_status (and disabled_until) of project's hook
// id, as GitLab does after failed deliveries or a successful test delivery.
func (g *GitLab) SetHookStatus(project string, id int64, status string, until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.glFind(project)
	if !ok {
		panic("emulator: SetHookStatus on unknown project " + project)
	}
	for _, h := range g.hooks[p.path] {
		if h.ID == id {
			h.AlertStatus, h.DisabledUntil = status, until
			return
		}
	}
	panic("emulator: SetHookStatus on unknown hook")
}
