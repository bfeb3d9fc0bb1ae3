package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
)

const glTestToken = "glpat-test"

func glStart(t *testing.T) (*GitLab, *httptest.Server, *gl.Client) {
	t.Helper()
	g := NewGitLab(glTestToken)
	g.AddProject(42, "team/core", "main")
	g.AddProject(7, "my.group/svc.api", "trunk")
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	c, err := gl.NewClient(glTestToken, gl.WithBaseURL(srv.URL), gl.WithoutRetries())
	if err != nil {
		t.Fatal(err)
	}
	return g, srv, c
}

func glDo(t *testing.T, method, u, token, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("PRIVATE-TOKEN", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, u, b, err)
	}
	return resp.StatusCode, out
}

func TestGitLabStatusThroughClientGo(t *testing.T) {
	g, _, c := glStart(t)
	for _, pid := range []any{"team/core", int64(42), "42"} {
		_, _, err := c.Commits.SetCommitStatus(pid, "abc123", &gl.SetCommitStatusOptions{State: gl.Pending, Name: gl.Ptr("p")})
		if err != nil && !strings.Contains(err.Error(), "Cannot transition status via :enqueue from :pending") {
			t.Fatalf("project %v: %v", pid, err)
		}
	}
	if n := len(g.Statuses()); n != 1 {
		t.Fatalf("statuses: got %d, want 1 (same state refused): %+v", n, g.Statuses())
	}

	// A path with dots: client-go escapes them as %2E.
	st, _, err := c.Commits.SetCommitStatus("my.group/svc.api", "def456", &gl.SetCommitStatusOptions{
		State: gl.Running, Name: gl.Ptr("svc-pipeline"), Ref: gl.Ptr("feature"),
		TargetURL: gl.Ptr("https://console.aws/x"), Description: gl.Ptr("started"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "running" || st.Name != "svc-pipeline" || st.Ref != "feature" || st.SHA != "def456" || st.TargetURL != "https://console.aws/x" || st.StartedAt == nil {
		t.Errorf("answer: %+v", st)
	}
	want := CommitStatus{Project: "my.group/svc.api", SHA: "def456", State: "running", Name: "svc-pipeline", Ref: "feature", TargetURL: "https://console.aws/x", Description: "started"}
	if got, ok := g.Latest("7", "def456", "svc-pipeline"); !ok || got != want {
		t.Errorf("Latest: got %+v %v, want %+v", got, ok, want)
	}

	// Default name and ref.
	if _, _, err := c.Commits.SetCommitStatus("team/core", "abc123", &gl.SetCommitStatusOptions{State: gl.Success}); err != nil {
		t.Fatal(err)
	}
	if got, ok := g.Latest("team/core", "abc123", "default"); !ok || got.Ref != "main" || got.State != "success" {
		t.Errorf("default name/ref: %+v %v", got, ok)
	}
}

func TestGitLabStatusTransitions(t *testing.T) {
	g, srv, _ := glStart(t)
	u := srv.URL + "/api/v4/projects/team%2Fcore/statuses/abc"
	for _, tc := range []struct {
		state, verb string
	}{{"pending", "enqueue"}, {"running", "run"}, {"success", "succeed"}, {"failed", "drop"}, {"canceled", "cancel"}} {
		// Form body, as curl sends it.
		body := url.Values{"state": {tc.state}, "name": {"n"}, "ref": {"main"}}.Encode()
		if code, out := glDo(t, "POST", u, glTestToken, "application/x-www-form-urlencoded", body); code != 201 || out["status"] != tc.state {
			t.Fatalf("%s: %d %v", tc.state, code, out)
		}
		code, out := glDo(t, "POST", u, glTestToken, "application/x-www-form-urlencoded", body)
		if tc.state != "pending" && tc.state != "running" {
			// GitLab updates only a pending or running status: over a finished
			// one it opens a new status.
			if code != 201 || out["status"] != tc.state {
				t.Errorf("%s again: %d %v, want 201, a new status", tc.state, code, out)
			}
			continue
		}
		want := "Cannot transition status via :" + tc.verb + " from :" + tc.state
		if code != 400 || out["message"] != want {
			t.Errorf("%s again: %d %v, want 400 %q", tc.state, code, out, want)
		}
	}
	if n := len(g.Statuses()); n != 8 {
		t.Errorf("statuses: %d, want 8", n)
	}
	// Another ref or name is another status.
	if code, out := glDo(t, "POST", u+"?state=canceled&name=n&ref=other", glTestToken, "", ""); code != 201 {
		t.Errorf("other ref: %d %v", code, out)
	}
	if code, out := glDo(t, "POST", u, glTestToken, "application/json", `{"state":"bogus"}`); code != 400 || out["error"] == nil {
		t.Errorf("bad state: %d %v", code, out)
	}
	if code, out := glDo(t, "POST", u, glTestToken, "application/json", `{"state":"failed","description":"`+strings.Repeat("x", 256)+`"}`); code != 400 {
		t.Errorf("long description: %d %v", code, out)
	}
}

func TestGitLabAuthAndNotFound(t *testing.T) {
	g, srv, _ := glStart(t)
	u := srv.URL + "/api/v4/projects/team%2Fcore/statuses/abc"
	body := `{"state":"pending"}`
	for _, tok := range []string{"", "wrong"} {
		if code, out := glDo(t, "POST", u, tok, "application/json", body); code != 401 || out["message"] != "401 Unauthorized" {
			t.Errorf("token %q: %d %v", tok, code, out)
		}
	}
	if code, out := glDo(t, "POST", srv.URL+"/api/v4/projects/team%2Fnope/statuses/abc", glTestToken, "application/json", body); code != 404 || out["message"] != "404 Project Not Found" {
		t.Errorf("unknown project: %d %v", code, out)
	}
	// A decoded slash is not a project path.
	if code, _ := glDo(t, "POST", srv.URL+"/api/v4/projects/team/core/statuses/abc", glTestToken, "application/json", body); code != 404 {
		t.Errorf("unescaped path: %d", code)
	}
	if code, _ := glDo(t, "GET", srv.URL+"/api/v4/projects/42/statuses/abc", glTestToken, "", ""); code != 404 {
		t.Errorf("GET statuses: %d", code)
	}
	if len(g.Statuses()) != 0 {
		t.Errorf("recorded: %+v", g.Statuses())
	}
	if n := g.Calls("statuses"); n != 3 { // unroutable requests are not counted
		t.Errorf("calls: %d, want 3", n)
	}
}

func TestGitLabCompare(t *testing.T) {
	g, _, c := glStart(t)
	g.SetCompare("team/core", "aaa", "bbb", []string{"services/core/main.go", "README.md"})
	cmp, _, err := c.Repositories.Compare(int64(42), &gl.CompareOptions{From: gl.Ptr("aaa"), To: gl.Ptr("bbb")})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, d := range cmp.Diffs {
		paths = append(paths, d.NewPath)
		if d.OldPath != d.NewPath {
			t.Errorf("diff %+v", d)
		}
	}
	if !slices.Equal(paths, []string{"services/core/main.go", "README.md"}) || len(cmp.Commits) != 1 || cmp.Commits[0].ID != "bbb" {
		t.Errorf("compare: %v %+v", paths, cmp.Commits)
	}
	_, _, err = c.Repositories.Compare("team/core", &gl.CompareOptions{From: gl.Ptr("bbb"), To: gl.Ptr("aaa")})
	if !errors.Is(err, gl.ErrNotFound) {
		t.Errorf("unknown pair: %v", err)
	}
}

func TestGitLabMergeRequests(t *testing.T) {
	g, _, c := glStart(t)
	g.AddMergeRequest("team/core", MergeRequest{
		IID: 3, Title: "Add thing", State: "merged", SHA: "head", MergeCommitSHA: "merge",
		Author: "ann", ApprovedBy: []string{"bob"}, ApprovalsRequired: 1,
	})
	g.AddMergeRequest("42", MergeRequest{IID: 4, Title: "Other", SHA: "other"})

	mrs, _, err := c.Commits.ListMergeRequestsByCommit("team/core", "merge")
	if err != nil {
		t.Fatal(err)
	}
	if len(mrs) != 1 {
		t.Fatalf("got %d MRs", len(mrs))
	}
	mr := mrs[0]
	if mr.IID != 3 || mr.State != "merged" || mr.MergeCommitSHA != "merge" || mr.SHA != "head" || mr.Author.Username != "ann" || mr.MergedAt == nil || !strings.HasSuffix(mr.WebURL, "/team/core/-/merge_requests/3") {
		t.Errorf("MR: %+v", mr)
	}
	if mrs, _, err := c.Commits.ListMergeRequestsByCommit(int64(42), "nothing"); err != nil || len(mrs) != 0 {
		t.Errorf("no MR: %v %v", mrs, err)
	}

	a, _, err := c.MergeRequestApprovals.GetConfiguration("team/core", 3)
	if err != nil {
		t.Fatal(err)
	}
	if a.IID != 3 || a.ApprovalsRequired != 1 || a.ApprovalsLeft != 0 || !a.Approved || len(a.ApprovedBy) != 1 || a.ApprovedBy[0].User.Username != "bob" {
		t.Errorf("approvals: %+v", a)
	}
	// Replacing by IID is how a test changes an MR.
	g.AddMergeRequest("team/core", MergeRequest{IID: 3, SHA: "head", ApprovalsRequired: 2, ApprovalsLeft: 1, ApprovedBy: []string{"bob"}})
	if a, _, err := c.MergeRequestApprovals.GetConfiguration("team/core", 3); err != nil || a.Approved || a.ApprovalsLeft != 1 {
		t.Errorf("after replace: %+v %v", a, err)
	}
	if _, _, err := c.MergeRequestApprovals.GetConfiguration("team/core", 99); !errors.Is(err, gl.ErrNotFound) {
		t.Errorf("unknown MR: %v", err)
	}
}

func TestGitLabFaults(t *testing.T) {
	g, srv, c := glStart(t)
	g.FailNext("statuses", 1, Fault{Status: 429, Message: "Too Many Requests", Header: http.Header{"RateLimit-Reset": {"1700000000"}}})
	resp, err := http.Post(srv.URL+"/api/v4/projects/42/statuses/abc", "application/json", strings.NewReader(`{"state":"pending"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("RateLimit-Reset") != "1700000000" {
		t.Errorf("fault: %d %v", resp.StatusCode, resp.Header)
	}

	g.FailNext("compare", 1, Fault{Status: 502})
	_, _, err = c.Repositories.Compare("team/core", &gl.CompareOptions{From: gl.Ptr("a"), To: gl.Ptr("b")})
	if !gl.HasStatusCode(err, 502) {
		t.Errorf("502: %v", err)
	}

	g.FailNext("approvals", 1, Hang)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, _, err = c.MergeRequestApprovals.GetConfiguration("team/core", 1, gl.WithContext(ctx))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v", err)
	}
	// A hung POST too: the client's deadline ends it.
	g.FailNext("statuses", 1, Hang)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	_, _, err = c.Commits.SetCommitStatus("team/core", "abc", &gl.SetCommitStatusOptions{State: gl.Pending}, gl.WithContext(ctx2))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang POST: %v", err)
	}
	g.FailNext("merge_requests", 1, ServerError)
	_, _, err = c.Commits.ListMergeRequestsByCommit("team/core", "x")
	if !gl.HasStatusCode(err, 500) {
		t.Errorf("500: %v", err)
	}
	for route, want := range map[string]int{"statuses": 2, "compare": 1, "approvals": 1, "merge_requests": 1} {
		if n := g.Calls(route); n != want {
			t.Errorf("Calls(%s) = %d, want %d", route, n, want)
		}
	}
	if len(g.Statuses()) != 0 {
		t.Errorf("faulted call recorded a status")
	}
}

func TestGitLabOnStatus(t *testing.T) {
	g := NewGitLab(glTestToken)
	g.AddProject(42, "team/core", "main")
	seen := make(chan CommitStatus, 10)
	g.OnStatus = func(s CommitStatus) {
		// Called without the lock: the stand-in's own methods work from inside.
		if n := len(g.Statuses()); n == 0 {
			t.Errorf("OnStatus(%+v) before the status was recorded", s)
		}
		seen <- s
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	c, err := gl.NewClient(glTestToken, gl.WithBaseURL(srv.URL), gl.WithoutRetries())
	if err != nil {
		t.Fatal(err)
	}
	opt := &gl.SetCommitStatusOptions{State: gl.Running, Name: gl.Ptr("core-pipeline"), Description: gl.Ptr("Build")}
	if _, _, err := c.Commits.SetCommitStatus("team/core", "abc123", opt); err != nil {
		t.Fatal(err)
	}
	want := CommitStatus{Project: "team/core", SHA: "abc123", State: "running", Name: "core-pipeline", Ref: "main", Description: "Build"}
	if got := <-seen; got != want {
		t.Fatalf("OnStatus got %+v, want %+v", got, want)
	}
	// A refused status is not reported.
	if _, _, err := c.Commits.SetCommitStatus("team/core", "abc123", opt); err == nil {
		t.Fatal("the same state twice was accepted")
	}
	select {
	case s := <-seen:
		t.Fatalf("OnStatus for a refused status: %+v", s)
	default:
	}
}

// Requests names the project of each call by path, whichever way the client named
// it, so that a test can see that nothing went to a project it should not.
func TestGitLabRequests(t *testing.T) {
	g, _, c := glStart(t)
	g.FailNext("statuses", 1, ServerError)
	_, _, _ = c.Commits.SetCommitStatus(int64(42), "abc", &gl.SetCommitStatusOptions{State: gl.Pending})
	_, _, _ = c.Commits.ListMergeRequestsByCommit("my.group/svc.api", "abc")
	_, _, _ = c.MergeRequestApprovals.GetConfiguration("nobody/else", 1)
	want := []Request{{"statuses", "team/core"}, {"merge_requests", "my.group/svc.api"}, {"approvals", "nobody/else"}}
	if got := g.Requests(); !slices.Equal(got, want) {
		t.Errorf("requests %+v, want %+v", got, want)
	}
}

// A merge request targets the project's default branch unless it says otherwise,
// and GitLab lists it with target_branch.
func TestGitLabMergeRequestTargetBranch(t *testing.T) {
	g, _, c := glStart(t)
	g.AddMergeRequest("my.group/svc.api", MergeRequest{IID: 1, SHA: "a"})
	g.AddMergeRequest("my.group/svc.api", MergeRequest{IID: 2, SHA: "a", TargetBranch: "feature/y"})
	mrs, _, err := c.Commits.ListMergeRequestsByCommit("my.group/svc.api", "a")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mr := range mrs {
		got = append(got, mr.TargetBranch)
	}
	if want := []string{"trunk", "feature/y"}; !slices.Equal(got, want) {
		t.Errorf("target branches %q, want %q", got, want)
	}
}
