package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// ErrRefused is returned (wrapped) when GitLab answers 400 to a deployment's
// create or move: an invalid transition, or a field it will not take. Asking
// again cannot help.
var ErrRefused = errors.New("gitlab refused the deployment change")

// Deployment is a GitLab deployment as pipegate reads one.
type Deployment struct {
	ID          int64
	Environment string
	SHA, Ref    string
	Status      string
	CreatedAt   time.Time
}

// NewDeployment is what a deployment is created with. GitLab's deployments API
// takes no link nor description: the commit status links to the execution.
type NewDeployment struct {
	Environment, SHA, Ref string
	Tag                   bool
	Status                string // created, running, success, failed, canceled
}

// CreateDeployment creates a deployment (the environment on first use) and
// returns its id.
func (c *Client) CreateDeployment(ctx context.Context, project string, d NewDeployment) (int64, error) {
	status := gl.DeploymentStatusValue(d.Status)
	got, _, err := c.api.Deployments.CreateProjectDeployment(project, &gl.CreateProjectDeploymentOptions{
		Environment: &d.Environment, SHA: &d.SHA, Ref: &d.Ref, Tag: &d.Tag, Status: &status,
	}, gl.WithContext(ctx), gl.WithRequestRetry(onlyUnprocessed))
	if err != nil {
		return 0, fmt.Errorf("create deployment to %s of %s@%s (%s): %w", d.Environment, project, d.SHA, d.Status, refused(err))
	}
	return got.ID, nil
}

// UpdateDeployment moves deployment id to status. When GitLab refuses (400),
// it reads the deployment: one that has status already (an earlier answer
// lost on the way) is success; else the error wraps ErrRefused.
func (c *Client) UpdateDeployment(ctx context.Context, project string, id int64, status string) error {
	s := gl.DeploymentStatusValue(status)
	_, _, err := c.api.Deployments.UpdateProjectDeployment(project, id, &gl.UpdateProjectDeploymentOptions{Status: &s}, gl.WithContext(ctx))
	if err == nil {
		return nil
	}
	if gl.HasStatusCode(err, http.StatusBadRequest) {
		if got, _, gerr := c.api.Deployments.GetProjectDeployment(project, id, gl.WithContext(ctx)); gerr == nil && got.Status == status {
			return nil
		}
	}
	return fmt.Errorf("move deployment %d of %s to %s: %w", id, project, status, refused(err))
}

// maxDeploymentPages bounds the look for a deployment to adopt: the newest
// 200 of the environment.
const maxDeploymentPages = 2

// FindDeployments returns the deployments of environment on sha, newest
// first, among the environment's newest ones: what a crash between creating
// a deployment and recording its id left at GitLab.
func (c *Client) FindDeployments(ctx context.Context, project, environment, sha string) ([]Deployment, error) {
	opt := &gl.ListProjectDeploymentsOptions{
		ListOptions: gl.ListOptions{PerPage: 100, Page: 1},
		Environment: &environment, OrderBy: gl.Ptr("id"), Sort: gl.Ptr("desc"),
	}
	var out []Deployment
	for range maxDeploymentPages {
		list, resp, err := c.api.Deployments.ListProjectDeployments(project, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("list deployments to %s of %s: %w", environment, project, err)
		}
		for _, d := range list {
			if d.SHA != sha {
				continue
			}
			x := Deployment{ID: d.ID, SHA: d.SHA, Ref: d.Ref, Status: d.Status, Environment: environment}
			if d.CreatedAt != nil {
				x.CreatedAt = *d.CreatedAt
			}
			out = append(out, x)
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return out, nil
}

// onlyUnprocessed retries a create only when GitLab did not take it (429):
// after a 5xx or a lost answer the deployment may exist, and a second POST
// would make a second one. The caller records its intent first and adopts
// what a failed create left.
func onlyUnprocessed(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	return err == nil && resp != nil && resp.StatusCode == http.StatusTooManyRequests, nil
}

func refused(err error) error {
	if gl.HasStatusCode(err, http.StatusBadRequest) {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}
