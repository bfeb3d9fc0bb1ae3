package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// Head is the commit a branch points at, as GET branch reports it.
type Head struct {
	Commit  string // commit.id
	Message string // commit.message: where skip markers are read from
}

// BranchHead returns the head commit of branch in project (a path or numeric
// id). found is false when GitLab answers 404: the branch, or the project, does
// not exist (any more). One request; client-go waits out a 429 per
// RateLimit-Reset, up to the cap in backoff.
func (c *Client) BranchHead(ctx context.Context, project, branch string) (h Head, found bool, err error) {
	b, _, err := c.api.Branches.GetBranch(project, branch, gl.WithContext(ctx))
	switch {
	case errors.Is(err, gl.ErrNotFound):
		return Head{}, false, nil
	case err != nil:
		return Head{}, false, fmt.Errorf("read branch %s of %s: %w", branch, project, err)
	case b.Commit == nil || b.Commit.ID == "":
		return Head{}, false, fmt.Errorf("read branch %s of %s: GitLab named no head commit", branch, project)
	}
	return Head{Commit: b.Commit.ID, Message: b.Commit.Message}, true, nil
}

// RateLimited reports whether err is GitLab's 429 that client-go's retries did
// not outlast: the caller should make no more calls this run.
func RateLimited(err error) bool {
	var er *gl.ErrorResponse
	return errors.As(err, &er) && er.HasStatusCode(http.StatusTooManyRequests)
}

// RateLimitReset is when GitLab said its rate limit resets (RateLimit-Reset,
// unix seconds) on the 429 in err, if it said.
func RateLimitReset(err error) (time.Time, bool) {
	var er *gl.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return time.Time{}, false
	}
	sec, perr := strconv.ParseInt(er.Response.Header.Get("RateLimit-Reset"), 10, 64)
	if perr != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, 0), true
}
