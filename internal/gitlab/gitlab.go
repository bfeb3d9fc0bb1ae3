// Package gitlab is a thin adapter over client-go for the few GitLab calls pipegate
// makes. It sets short retries: client-go's own 5xx backoff keeps one call busy for
// about 13 s, longer than GitLab gives a webhook delivery. Every call still needs a
// context deadline from the caller.
package gitlab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/pipegate/pipegate/internal/text"
)

// ErrNotFound is returned (wrapped) when GitLab answers 404: an unknown project,
// commit, ref or merge request.
var ErrNotFound = gl.ErrNotFound

// ErrCompareTimeout is returned (wrapped) when GitLab gave up computing a compare,
// so the changed paths it lists may be incomplete.
var ErrCompareTimeout = errors.New("gitlab compare timed out")

const (
	retryMax         = 2                      // retries of a 429 or 5xx, done by client-go
	retryWait        = 100 * time.Millisecond // first wait; grows by this per retry, plus jitter
	maxRateLimitWait = time.Second            // never wait longer for RateLimit-Reset
	conflictRetries  = 2                      // retries of a 409 on a commit status
	conflictWait     = 150 * time.Millisecond
)

// Client calls the GitLab REST API v4.
type Client struct {
	api *gl.Client
}

// New returns a client for the GitLab at baseURL (e.g. https://gitlab.com; the
// /api/v4 suffix is added). httpClient may be nil.
func New(baseURL, token string, httpClient *http.Client) (*Client, error) {
	opts := []gl.ClientOptionFunc{
		gl.WithBaseURL(baseURL),
		gl.WithCustomRetryMax(retryMax),
		gl.WithCustomBackoff(backoff),
	}
	if httpClient != nil {
		opts = append(opts, gl.WithHTTPClient(httpClient))
	}
	api, err := gl.NewClient(token, opts...)
	if err != nil {
		return nil, fmt.Errorf("gitlab client for %s: %w", baseURL, err)
	}
	return &Client{api: api}, nil
}

// backoff is the wait before retry number attempt+1 of a 429 or 5xx. A 429's
// RateLimit-Reset (unix seconds) is honoured up to maxRateLimitWait: a longer wait
// would outlast the caller's deadline anyway.
func backoff(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	wait := retryWait*time.Duration(attempt+1) + rand.N(retryWait)
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		if reset, err := strconv.ParseInt(resp.Header.Get("RateLimit-Reset"), 10, 64); err == nil {
			wait = max(wait, time.Until(time.Unix(reset, 0)))
		}
		wait = min(wait, maxRateLimitWait)
	}
	return wait
}

// Status is a commit status.
type Status struct {
	State       string // pending, running, success, failed, canceled, skipped
	Name        string // empty: GitLab's "default"
	Ref         string // empty: GitLab picks a branch containing the commit
	TargetURL   string
	Description string // cut to text.MaxDescription characters
}

// LatestStatus reads the status GitLab shows as name on sha for ref: the latest
// of that name (GET /projects/:id/repository/commits/:sha/statuses without
// all, which leaves out those a newer one replaced).
func (c *Client) LatestStatus(ctx context.Context, project, sha, name, ref string) (Status, bool, error) {
	opt := &gl.GetCommitStatusesOptions{Name: gl.Ptr(name), ListOptions: gl.ListOptions{PerPage: 100}}
	if ref != "" {
		opt.Ref = gl.Ptr(ref)
	}
	got, _, err := c.api.Commits.GetCommitStatuses(project, sha, opt, gl.WithContext(ctx))
	if err != nil {
		return Status{}, false, fmt.Errorf("read commit status %s of %.8s in %s: %w", name, sha, project, err)
	}
	var latest *gl.CommitStatus
	for _, st := range got {
		if st != nil && st.Name == name && (latest == nil || st.ID > latest.ID) {
			latest = st
		}
	}
	if latest == nil {
		return Status{}, false, nil
	}
	return Status{State: latest.Status, Name: latest.Name, Ref: latest.Ref, TargetURL: latest.TargetURL, Description: latest.Description}, true, nil
}

// SetStatus sets a commit status on sha. project is a path ("group/name") or a
// numeric id. Setting the state a status already has is not an error.
func (c *Client) SetStatus(ctx context.Context, project, sha string, s Status) error {
	opt := &gl.SetCommitStatusOptions{
		State:       gl.BuildStateValue(s.State),
		Name:        optional(s.Name),
		Ref:         optional(s.Ref),
		TargetURL:   optional(s.TargetURL),
		Description: optional(text.Truncate(s.Description, text.MaxDescription)),
	}
	for attempt := 0; ; attempt++ {
		_, _, err := c.api.Commits.SetCommitStatus(project, sha, opt, gl.WithContext(ctx))
		switch {
		case err == nil:
			return nil
		case sameState(err):
			return nil
		case gl.HasStatusCode(err, http.StatusConflict) && attempt < conflictRetries:
			// Another update of this sha/ref is in progress in GitLab.
			if werr := sleep(ctx, conflictWait*time.Duration(attempt+1)); werr != nil {
				return fmt.Errorf("set status %s on %s@%s: %w (after %w)", s.State, project, sha, werr, err)
			}
			continue
		}
		return fmt.Errorf("set status %s on %s@%s: %w", s.State, project, sha, err)
	}
}

// sameState reports GitLab's refusal to move a status to the state it already has,
// e.g. 400 "Cannot transition status via :run from :running".
func sameState(err error) bool {
	var er *gl.ErrorResponse
	return errors.As(err, &er) && er.HasStatusCode(http.StatusBadRequest) &&
		strings.Contains(er.Message, "Cannot transition status")
}

// ChangedPaths returns the paths changed between the commits from and to: every
// old and new path, sorted, without duplicates.
func (c *Client) ChangedPaths(ctx context.Context, project, from, to string) ([]string, error) {
	cmp, _, err := c.api.Repositories.Compare(project, &gl.CompareOptions{From: &from, To: &to}, gl.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("compare %s %s...%s: %w", project, from, to, err)
	}
	if cmp.CompareTimeout {
		return nil, fmt.Errorf("compare %s %s...%s: %w", project, from, to, ErrCompareTimeout)
	}
	var paths []string
	for _, d := range cmp.Diffs {
		for _, p := range []string{d.OldPath, d.NewPath} {
			if p != "" {
				paths = append(paths, p)
			}
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths), nil
}

// MergeRequest is a merge request as pipegate's production gate sees it.
type MergeRequest struct {
	IID             int64
	Title           string
	WebURL          string
	State           string // opened, closed, locked, merged
	SHA             string
	MergeCommitSHA  string
	SquashCommitSHA string
	TargetBranch    string // the branch it merges into: only those a service deploys count for its gate
	Author          string // username
}

// Merged reports whether the merge request is merged.
func (mr MergeRequest) Merged() bool { return mr.State == "merged" }

// MergeRequestsOfCommit returns the merge requests that introduced sha.
func (c *Client) MergeRequestsOfCommit(ctx context.Context, project, sha string) ([]MergeRequest, error) {
	list, _, err := c.api.Commits.ListMergeRequestsByCommit(project, sha, gl.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("merge requests of %s@%s: %w", project, sha, err)
	}
	out := make([]MergeRequest, 0, len(list))
	for _, m := range list {
		mr := MergeRequest{
			IID: m.IID, Title: m.Title, WebURL: m.WebURL, State: m.State,
			SHA: m.SHA, MergeCommitSHA: m.MergeCommitSHA, SquashCommitSHA: m.SquashCommitSHA,
			TargetBranch: m.TargetBranch,
		}
		if m.Author != nil {
			mr.Author = m.Author.Username
		}
		out = append(out, mr)
	}
	return out, nil
}

// Approvals is the approval state of a merge request.
type Approvals struct {
	Approved   bool
	ApprovedBy []string // usernames
	// Required and Left are meaningful on GitLab Premium and Ultimate only; 0 on Free.
	Required int64
	Left     int64
}

// Approvals returns the approval state of merge request iid.
func (c *Client) Approvals(ctx context.Context, project string, iid int64) (Approvals, error) {
	a, _, err := c.api.MergeRequestApprovals.GetConfiguration(project, iid, gl.WithContext(ctx))
	if err != nil {
		return Approvals{}, fmt.Errorf("approvals of %s!%d: %w", project, iid, err)
	}
	out := Approvals{Approved: a.Approved, Required: a.ApprovalsRequired, Left: a.ApprovalsLeft}
	for _, u := range a.ApprovedBy {
		if u != nil && u.User != nil {
			out.ApprovedBy = append(out.ApprovedBy, u.User.Username)
		}
	}
	return out, nil
}

// optional is nil for "", so client-go leaves the field out.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
