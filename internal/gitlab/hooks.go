package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// Project is a GitLab project as pipegate's set-up commands see it.
type Project struct {
	ID                  int64
	Path, DefaultBranch string // path_with_namespace, default_branch
	WebURL              string
}

// Project reads project (path or numeric id): whether the token reaches it.
func (c *Client) Project(ctx context.Context, project string) (Project, error) {
	p, _, err := c.api.Projects.GetProject(project, nil, gl.WithContext(ctx))
	if err != nil {
		return Project{}, fmt.Errorf("project %s: %w", project, err)
	}
	return Project{ID: p.ID, Path: p.PathWithNamespace, DefaultBranch: p.DefaultBranch, WebURL: p.WebURL}, nil
}

// Token is what GitLab says of the token the client calls with.
type Token struct {
	Name            string
	Scopes          []string
	Active, Revoked bool
	ExpiresAt       time.Time // zero: never
}

// Token reads the client's own token (GET /personal_access_tokens/self). GitLab
// answers it for personal, project and group access tokens; for another kind
// of token (OAuth, CI job) it answers 404 (ErrNotFound) or 401.
func (c *Client) Token(ctx context.Context) (Token, error) {
	t, _, err := c.api.PersonalAccessTokens.GetSinglePersonalAccessToken(gl.WithContext(ctx))
	if err != nil {
		return Token{}, fmt.Errorf("read the token's scopes: %w", err)
	}
	out := Token{Name: t.Name, Scopes: t.Scopes, Active: t.Active, Revoked: t.Revoked}
	if t.ExpiresAt != nil {
		out.ExpiresAt = time.Time(*t.ExpiresAt)
	}
	return out, nil
}

// Hook is a project webhook.
type Hook struct {
	ID                                                                    int64
	URL                                                                   string
	PushEvents, TagPushEvents, MergeRequestsEvents, EnableSSLVerification bool
	// AlertStatus is executable, temporarily_disabled or disabled: GitLab
	// disables a hook whose deliveries keep failing (until DisabledUntil when
	// temporarily).
	AlertStatus   string
	DisabledUntil time.Time
}

// Hooks lists project's webhooks (every page; GitLab allows 100 per project).
func (c *Client) Hooks(ctx context.Context, project string) ([]Hook, error) {
	opt := &gl.ListProjectHooksOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
	var out []Hook
	for {
		list, resp, err := c.api.Projects.ListProjectHooks(project, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("webhooks of %s: %w", project, err)
		}
		for _, h := range list {
			out = append(out, hookOf(h))
		}
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

func hookOf(h *gl.ProjectHook) Hook {
	out := Hook{
		ID: h.ID, URL: h.URL, PushEvents: h.PushEvents, TagPushEvents: h.TagPushEvents,
		MergeRequestsEvents: h.MergeRequestsEvents, EnableSSLVerification: h.EnableSSLVerification,
		AlertStatus: h.AlertStatus,
	}
	if h.DisabledUntil != nil {
		out.DisabledUntil = *h.DisabledUntil
	}
	return out
}

// HookSettings is what AddHook and EditHook set: every field, the token only
// when not empty (GitLab keeps a hook's token when an edit sends none).
type HookSettings struct {
	URL, Token                                                            string
	PushEvents, TagPushEvents, MergeRequestsEvents, EnableSSLVerification bool
}

// AddHook adds a webhook to project.
func (c *Client) AddHook(ctx context.Context, project string, s HookSettings) (Hook, error) {
	h, _, err := c.api.Projects.AddProjectHook(project, &gl.AddProjectHookOptions{
		URL: gl.Ptr(s.URL), Token: optional(s.Token),
		PushEvents: gl.Ptr(s.PushEvents), TagPushEvents: gl.Ptr(s.TagPushEvents),
		MergeRequestsEvents: gl.Ptr(s.MergeRequestsEvents), EnableSSLVerification: gl.Ptr(s.EnableSSLVerification),
	}, gl.WithContext(ctx))
	if err != nil {
		return Hook{}, fmt.Errorf("add a webhook to %s: %w", project, err)
	}
	return hookOf(h), nil
}

// EditHook sets the webhook id of project to s.
func (c *Client) EditHook(ctx context.Context, project string, id int64, s HookSettings) (Hook, error) {
	h, _, err := c.api.Projects.EditProjectHook(project, id, &gl.EditProjectHookOptions{
		URL: gl.Ptr(s.URL), Token: optional(s.Token),
		PushEvents: gl.Ptr(s.PushEvents), TagPushEvents: gl.Ptr(s.TagPushEvents),
		MergeRequestsEvents: gl.Ptr(s.MergeRequestsEvents), EnableSSLVerification: gl.Ptr(s.EnableSSLVerification),
	}, gl.WithContext(ctx))
	if err != nil {
		return Hook{}, fmt.Errorf("edit webhook %d of %s: %w", id, project, err)
	}
	return hookOf(h), nil
}

// HTTPStatus is the HTTP status GitLab answered with when err is GitLab's
// refusal (401, 403, 404, ...), else 0: the set-up commands word each.
func HTTPStatus(err error) int {
	var er *gl.ErrorResponse
	switch {
	case errors.Is(err, gl.ErrNotFound):
		return http.StatusNotFound
	case errors.As(err, &er) && er.Response != nil:
		return er.Response.StatusCode
	}
	return 0
}
