package gitlab

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/emulator"
)

func TestHooks(t *testing.T) {
	g, c := start(t)
	ctx := context.Background()
	want := HookSettings{URL: "https://abc.example/webhook", Token: "s3cret", PushEvents: true, TagPushEvents: true, MergeRequestsEvents: true, EnableSSLVerification: true}
	h, err := c.AddHook(ctx, "my.group/svc.api", want)
	if err != nil {
		t.Fatal(err)
	}
	if h.ID == 0 || h.URL != want.URL || !h.PushEvents || !h.TagPushEvents || !h.MergeRequestsEvents || !h.EnableSSLVerification || h.AlertStatus != "executable" {
		t.Errorf("added %+v", h)
	}
	// Every field is sent, false ones too; an empty token is not sent, so GitLab keeps it.
	edit := want
	edit.Token, edit.MergeRequestsEvents = "", false
	if h, err = c.EditHook(ctx, "my.group/svc.api", h.ID, edit); err != nil || h.MergeRequestsEvents {
		t.Fatalf("edited %+v %v", h, err)
	}
	if stored := g.Hooks("my.group/svc.api"); len(stored) != 1 || stored[0].Token != "s3cret" || stored[0].MergeRequestsEvents {
		t.Errorf("stored %+v", stored)
	}
	until := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	g.AddHook("my.group/svc.api", emulator.Hook{URL: "https://old.example/", AlertStatus: "temporarily_disabled", DisabledUntil: until})
	list, err := c.Hooks(ctx, "my.group/svc.api")
	if err != nil || len(list) != 2 || list[1].AlertStatus != "temporarily_disabled" || !list[1].DisabledUntil.Equal(until) {
		t.Errorf("hooks %+v %v", list, err)
	}
	if _, err := c.Hooks(ctx, "my.group/none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("hooks of an unknown project: %v", err)
	}
}

func TestProjectAndToken(t *testing.T) {
	g, c := start(t)
	ctx := context.Background()
	p, err := c.Project(ctx, "my.group/svc.api")
	if err != nil || p.ID != 7 || p.Path != "my.group/svc.api" || p.DefaultBranch != "main" {
		t.Errorf("project %+v %v", p, err)
	}
	if _, err := c.Project(ctx, "my.group/none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown project: %v", err)
	}
	g.SetTokenScopes("read_api")
	tok, err := c.Token(ctx)
	if err != nil || len(tok.Scopes) != 1 || tok.Scopes[0] != "read_api" || !tok.Active {
		t.Errorf("token %+v %v", tok, err)
	}
	g.FailNext("token_self", 1, emulator.Fault{Status: 404})
	if _, err := c.Token(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("a GitLab that cannot say: %v", err)
	}
}

func TestHTTPStatus(t *testing.T) {
	g, c := start(t)
	ctx := context.Background()
	g.FailNext("hooks", 1, emulator.Fault{Status: 403, Message: "403 Forbidden"})
	_, err := c.Hooks(ctx, "my.group/svc.api")
	_, missing := c.Project(ctx, "my.group/none")
	for _, tc := range []struct {
		err  error
		want int
	}{{err, 403}, {missing, 404}, {errors.New("dial tcp: refused"), 0}, {nil, 0}} {
		if got := HTTPStatus(tc.err); got != tc.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
