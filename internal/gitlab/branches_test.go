package gitlab

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/emulator"
)

func TestBranchHead(t *testing.T) {
	g, c := start(t)
	ctx := ctxTimeout(t, 10*time.Second)
	g.SetBranch("team/core", "release/1.x", "c0ffee", "Fix the build\n\n[skip ci]")
	for _, project := range []string{"team/core", "42"} {
		h, found, err := c.BranchHead(ctx, project, "release/1.x")
		if err != nil || !found {
			t.Fatalf("%s: %v found=%v", project, err, found)
		}
		if h.Commit != "c0ffee" || h.Message != "Fix the build\n\n[skip ci]" {
			t.Errorf("%s: head %+v", project, h)
		}
	}
	// A branch or project GitLab does not know is not found, not an error.
	for _, pb := range [][2]string{{"team/core", "gone"}, {"team/nope", "main"}} {
		if _, found, err := c.BranchHead(ctx, pb[0], pb[1]); err != nil || found {
			t.Errorf("%v: found=%v err=%v", pb, found, err)
		}
	}
	// A push moves the head and lists its files in the compare API.
	if before := g.Push("team/core", "release/1.x", "beef", "next", []string{"a.go"}); before != "c0ffee" {
		t.Errorf("push: before %q", before)
	}
	if h, _, _ := c.BranchHead(ctx, "team/core", "release/1.x"); h.Commit != "beef" {
		t.Errorf("after push: %+v", h)
	}
	if paths, err := c.ChangedPaths(ctx, "team/core", "c0ffee", "beef"); err != nil || len(paths) != 1 {
		t.Errorf("compare after push: %v %v", paths, err)
	}
}

// TestBranchHeadRateLimited: a 429 that outlasts client-go's retries is told
// apart from other failures, with the reset GitLab announced.
func TestBranchHeadRateLimited(t *testing.T) {
	g, c := start(t)
	ctx := ctxTimeout(t, 10*time.Second)
	g.SetBranch("team/core", "main", "c0ffee", "x")
	reset := time.Now().Truncate(time.Second)
	g.FailNext("branch", retryMax+1, emulator.Fault{Status: http.StatusTooManyRequests, Message: "Retry later",
		Header: http.Header{"RateLimit-Reset": {strconv.FormatInt(reset.Unix(), 10)}, "Retry-After": {"0"}}})
	_, _, err := c.BranchHead(ctx, "team/core", "main")
	if !RateLimited(err) {
		t.Fatalf("err %v: not told as rate limited", err)
	}
	if got, ok := RateLimitReset(err); !ok || !got.Equal(reset) {
		t.Errorf("reset %v %v, want %v", got, ok, reset)
	}
	g.FailNext("branch", retryMax+1, emulator.ServerError)
	if _, _, err := c.BranchHead(ctx, "team/core", "main"); err == nil || RateLimited(err) {
		t.Errorf("a 500 told as rate limited: %v", err)
	}
}
