package store

import (
	"fmt"
	"time"
)

// DeploymentKey names one execution's deployment to one GitLab environment.
// The records of one environment and commit are kept together, so that a
// deployment GitLab created but pipegate never recorded (a crash between the
// two) can be told apart from the other executions' (Deployments).
type DeploymentKey struct{ Project, Environment, CommitSHA, Pipeline, ExecutionID string }

func (k DeploymentKey) String() string {
	return fmt.Sprintf("%s %s@%s (%s execution %s)", k.Project, k.Environment, k.CommitSHA, k.Pipeline, k.ExecutionID)
}

// Deployment is pipegate's record of one GitLab deployment: what the
// decision (progress.Deployment) last accepted, what GitLab has, and the
// GitLab deployment's id once it is known.
type Deployment struct {
	Key DeploymentKey
	Ref string // the branch or tag name GitLab is told
	Tag bool

	// The decision: the stage's last accepted state and the approval.
	ExecutionStart time.Time
	State          string // CodePipeline state, event vocabulary
	At             time.Time
	Began          time.Time
	Approved       bool
	Want           string // the deployment status the decision says GitLab should show

	// At GitLab.
	ID int64 // GitLab's deployment id; 0: not created (or not known to be)
	// Creating is when a create was begun and its answer not yet recorded; zero
	// otherwise. A record with Creating and no ID may have a deployment at
	// GitLab already: it is adopted, not created again.
	Creating time.Time
	Posted   string // the status GitLab last accepted
	// Refused is GitLab's answer when it refused to move the deployment to
	// Want (an invalid transition): not asked again for that status.
	Refused   string
	UpdatedAt time.Time // when the record was last written (set by the store)
	Version   int64     // set by the store; 0: not stored yet
}
