package gitlab

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pipegate/pipegate/internal/emulator"
)

const token = "glpat-test"

func start(t *testing.T) (*emulator.GitLab, *Client) {
	t.Helper()
	g := emulator.NewGitLab(token)
	g.AddProject(42, "team/core", "main")
	g.AddProject(7, "my.group/svc.api", "main")
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, token, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return g, c
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestSetStatus(t *testing.T) {
	g, c := start(t)
	ctx := ctxTimeout(t, 10*time.Second)
	s := Status{State: "running", Name: "core-pipeline", Ref: "main", TargetURL: "https://console.aws.amazon.com/x", Description: "Build"}
	for _, project := range []string{"team/core", "my.group/svc.api", "42"} {
		if err := c.SetStatus(ctx, project, "abc", s); err != nil {
			t.Fatalf("%s: %v", project, err)
		}
	}
	got := g.Statuses()
	if len(got) != 2 {
		t.Fatalf("statuses: %+v", got)
	}
	want := emulator.CommitStatus{Project: "team/core", SHA: "abc", State: "running", Name: "core-pipeline", Ref: "main", TargetURL: "https://console.aws.amazon.com/x", Description: "Build"}
	if got[0] != want {
		t.Errorf("got %+v, want %+v", got[0], want)
	}
	if got[1].Project != "my.group/svc.api" {
		t.Errorf("dotted path: %+v", got[1])
	}
	// "42" is team/core, already running: GitLab refuses, we call it done.
	if n := g.Calls("statuses"); n != 3 {
		t.Errorf("calls: %d", n)
	}

	long := strings.Repeat("é", 300)
	if err := c.SetStatus(ctx, "team/core", "abc", Status{State: "failed", Name: "core-pipeline", Ref: "main", Description: long}); err != nil {
		t.Fatal(err)
	}
	l, _ := g.Latest("team/core", "abc", "core-pipeline")
	// Cut to GitLab's 255 characters by the one rule: a shortened text ends in "…".
	if want := string([]rune(long)[:254]) + "…"; l.State != "failed" || utf8.RuneCountInString(l.Description) != 255 || l.Description != want {
		t.Errorf("truncated: %q", l.Description)
	}
}

func TestSetStatusRetries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fault   emulator.Fault
		n       int
		wantErr bool
		calls   int
	}{
		{"500 twice", emulator.ServerError, 2, false, 3},
		{"500 forever", emulator.ServerError, 100, true, 3},
		{"429 with RateLimit-Reset", emulator.Fault{Status: 429, Message: "Retry later",
			Header: http.Header{"RateLimit-Reset": {strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)}}}, 1, false, 2},
		{"409 twice", emulator.Fault{Status: 409, Message: "409 Conflict"}, 2, false, 3},
		{"409 forever", emulator.Fault{Status: 409, Message: "409 Conflict"}, 100, true, 3},
		{"400", emulator.Fault{Status: 400, Message: "ref is invalid"}, 1, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, c := start(t)
			g.FailNext("statuses", tc.n, tc.fault)
			err := c.SetStatus(ctxTimeout(t, 10*time.Second), "team/core", "abc", Status{State: "pending", Name: "p"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "set status pending on team/core@abc") {
				t.Errorf("error not wrapped: %v", err)
			}
			if n := g.Calls("statuses"); n != tc.calls {
				t.Errorf("calls: %d, want %d", n, tc.calls)
			}
			if recorded := len(g.Statuses()); recorded != map[bool]int{false: 1, true: 0}[tc.wantErr] {
				t.Errorf("recorded %d statuses", recorded)
			}
		})
	}
}

func TestSetStatusBoundedByContext(t *testing.T) {
	g, c := start(t)
	g.FailNext("statuses", 1, emulator.Hang)
	ctx := ctxTimeout(t, 300*time.Millisecond)
	err := c.SetStatus(ctx, "team/core", "abc", Status{State: "pending"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}

	// 500 forever with a deadline shorter than the retries: returns with an error.
	g.FailNext("statuses", 100, emulator.ServerError)
	if err := c.SetStatus(ctxTimeout(t, 150*time.Millisecond), "team/core", "abc", Status{State: "pending"}); err == nil {
		t.Error("no error")
	}
}

func TestWrongToken(t *testing.T) {
	g := emulator.NewGitLab(token)
	g.AddProject(42, "team/core", "main")
	srv := httptest.NewServer(g)
	defer srv.Close()
	c, err := New(srv.URL, "wrong", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.SetStatus(ctxTimeout(t, 10*time.Second), "team/core", "abc", Status{State: "pending"})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("err = %v", err)
	}
	if n := g.Calls("statuses"); n != 1 {
		t.Errorf("calls: %d", n)
	}
}

func TestChangedPaths(t *testing.T) {
	g, c := start(t)
	g.SetCompare("team/core", "aaa", "bbb", []string{"services/core/b.go", "README.md", "services/core/b.go"})
	paths, err := c.ChangedPaths(ctxTimeout(t, 10*time.Second), "team/core", "aaa", "bbb")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"README.md", "services/core/b.go"}; !slices.Equal(paths, want) {
		t.Errorf("got %v, want %v", paths, want)
	}
	_, err = c.ChangedPaths(ctxTimeout(t, 10*time.Second), "42", "bbb", "ccc")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown pair: %v", err)
	}
}

func TestMergeRequestsAndApprovals(t *testing.T) {
	g, c := start(t)
	g.AddMergeRequest("team/core", emulator.MergeRequest{
		IID: 5, Title: "Ship it", State: "merged", SHA: "head", SquashCommitSHA: "squash", TargetBranch: "release/2.4",
		Author: "ann", ApprovedBy: []string{"bob", "cy"}, ApprovalsRequired: 2,
	})
	ctx := ctxTimeout(t, 10*time.Second)
	mrs, err := c.MergeRequestsOfCommit(ctx, "team/core", "squash")
	if err != nil {
		t.Fatal(err)
	}
	if len(mrs) != 1 || mrs[0].IID != 5 || !mrs[0].Merged() || mrs[0].Author != "ann" || mrs[0].SquashCommitSHA != "squash" || mrs[0].WebURL == "" ||
		mrs[0].TargetBranch != "release/2.4" {
		t.Fatalf("MRs: %+v", mrs)
	}
	a, err := c.Approvals(ctx, "team/core", 5)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Approved || a.Required != 2 || a.Left != 0 || !slices.Equal(a.ApprovedBy, []string{"bob", "cy"}) {
		t.Errorf("approvals: %+v", a)
	}
	g.FailNext("approvals", 1, emulator.Fault{Status: 403, Message: "403 Forbidden"})
	if _, err := c.Approvals(ctx, "team/core", 5); err == nil || !strings.Contains(err.Error(), "approvals of team/core!5") {
		t.Errorf("403: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	resp := func(reset time.Time) *http.Response {
		return &http.Response{StatusCode: 429, Header: http.Header{"Ratelimit-Reset": {strconv.FormatInt(reset.Unix(), 10)}}}
	}
	if d := backoff(0, 0, 0, resp(time.Now().Add(time.Hour))); d != maxRateLimitWait {
		t.Errorf("far reset: %v", d)
	}
	if d := backoff(0, 0, 0, resp(time.Now().Add(-time.Hour))); d < retryWait || d > 2*retryWait {
		t.Errorf("past reset: %v", d)
	}
	if d := backoff(0, 0, 1, &http.Response{StatusCode: 500}); d < 2*retryWait || d > 3*retryWait {
		t.Errorf("500, second retry: %v", d)
	}
}

// LatestStatus reads GitLab's latest status of one name and ref: a newer one
// over a finished status wins, other names and refs are left out, and a name
// GitLab has none of is not found.
func TestLatestStatus(t *testing.T) {
	_, c := start(t)
	ctx := ctxTimeout(t, 10*time.Second)
	for _, s := range []Status{
		{State: "pending", Name: "core-pipeline/Production", Ref: "main", TargetURL: "https://console/1", Description: "waits"},
		{State: "failed", Name: "core-pipeline/Production", Ref: "main", TargetURL: "https://console/1", Description: "rejected"},
		{State: "pending", Name: "core-pipeline/Production", Ref: "main", TargetURL: "https://console/2", Description: "waits again"},
		{State: "running", Name: "core-pipeline", Ref: "main"},
		{State: "success", Name: "core-pipeline/Production", Ref: "release"},
	} {
		if err := c.SetStatus(ctx, "team/core", "abc", s); err != nil {
			t.Fatal(err)
		}
	}
	got, found, err := c.LatestStatus(ctx, "team/core", "abc", "core-pipeline/Production", "main")
	want := Status{State: "pending", Name: "core-pipeline/Production", Ref: "main", TargetURL: "https://console/2", Description: "waits again"}
	if err != nil || !found || got != want {
		t.Errorf("latest: %+v %v %v, want %+v", got, found, err, want)
	}
	if _, found, err := c.LatestStatus(ctx, "team/core", "abc", "core-pipeline/Staging", "main"); err != nil || found {
		t.Errorf("a name without a status: found %v, %v", found, err)
	}
	if _, _, err := c.LatestStatus(ctx, "team/none", "abc", "core-pipeline", "main"); err == nil {
		t.Error("an unknown project: no error")
	}
}
