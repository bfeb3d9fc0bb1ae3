package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is a Store for one process. It is safe for concurrent use.
type Memory struct {
	Now       func() time.Time // nil: time.Now
	Retention time.Duration    // zero: DefaultRetention

	mu         sync.Mutex
	claims     map[string]*memClaim
	starts     map[[2]string]*memStart
	executions map[[2]string]*memExecution
	statuses   map[StatusKey]*memStatus
	decisions  map[[2]string][]memDecision // by pipeline and execution, in the order recorded
	results    map[[2]string]Result        // by service and environment; they never expire
	pending    map[string]memPending       // by delivery key
	heads      memHeads                    // heads.go
	// deployments: deployment.go
	deployments map[DeploymentKey]*memDeployment
}

type memClaim struct {
	state      string // claimed, done or released, as in Dynamo
	owner      string
	leaseUntil time.Time
	expires    time.Time
}

type memStart struct {
	start   Start
	expires time.Time
}

type memExecution struct {
	execution Execution
	expires   time.Time
}

type memStatus struct {
	status  Status
	expires time.Time
}

type memDecision struct {
	decision GateDecision
	expires  time.Time
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{
		claims:     make(map[string]*memClaim),
		starts:     make(map[[2]string]*memStart),
		executions: make(map[[2]string]*memExecution),
		statuses:   make(map[StatusKey]*memStatus),
		decisions:  make(map[[2]string][]memDecision),
		results:    make(map[[2]string]Result),
	}
}

// Claim takes the delivery key for lease, or tells who has it.
func (m *Memory) Claim(ctx context.Context, key string, lease time.Duration) (Claim, error) {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()

	c := m.claims[key]
	if c != nil && !now.Before(c.expires) {
		// Past its retention the record counts as gone, as in DynamoDB.
		c = nil
	}
	retry := c != nil
	if c != nil {
		switch {
		case c.state == stateDone:
			return Claim{State: Done}, nil
		case c.state == stateClaimed && now.Before(c.leaseUntil):
			return Claim{State: Busy}, nil
		}
	}
	owner := newOwner()
	m.claims[key] = &memClaim{
		state:      stateClaimed,
		owner:      owner,
		leaseUntil: now.Add(lease),
		expires:    now.Add(retention(m.Retention)),
	}
	return Claim{State: Claimed, Owner: owner, Retry: retry}, nil
}

// Finish marks the delivery done. Finishing twice is harmless.
func (m *Memory) Finish(ctx context.Context, key, owner string) error {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.claims[key]
	if c == nil || c.owner != owner || c.state == stateReleased {
		return fmt.Errorf("finish %s: %w", key, ErrNotOwner)
	}
	c.state = stateDone
	c.expires = now.Add(retention(m.Retention))
	return nil
}

// Release gives the claim up so that the next Claim gets it at once.
func (m *Memory) Release(ctx context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.claims[key]
	if c == nil || c.owner != owner || c.state == stateDone {
		return fmt.Errorf("release %s: %w", key, ErrNotOwner)
	}
	c.state = stateReleased
	return nil
}

// PutStart records s unless a start is recorded for its delivery and
// pipeline already; it returns the recorded one.
func (m *Memory) PutStart(ctx context.Context, s Start) (Start, error) {
	now := clock(m.Now)
	k := [2]string{s.Delivery, s.Pipeline}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.starts[k]; old != nil && now.Before(old.expires) {
		return old.start, nil
	}
	m.starts[k] = &memStart{start: s, expires: now.Add(retention(m.Retention))}
	return s, nil
}

// GetStart returns the start recorded for delivery and pipeline.
func (m *Memory) GetStart(ctx context.Context, delivery, pipeline string) (Start, bool, error) {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.starts[[2]string{delivery, pipeline}]
	if st == nil || !now.Before(st.expires) {
		return Start{}, false, nil
	}
	return st.start, true, nil
}

// MarkPosted records that the pending status of a start was posted.
func (m *Memory) MarkPosted(ctx context.Context, delivery, pipeline string) error {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.starts[[2]string{delivery, pipeline}]
	if st == nil || !now.Before(st.expires) {
		return fmt.Errorf("mark posted %s/%s: %w", delivery, pipeline, ErrNotFound)
	}
	st.start.StatusPosted = true
	return nil
}

// PutExecution records e unless its execution is recorded already; then it
// fills the recorded one's empty fields from e and lowers its StartedAt to
// an earlier e.StartedAt. It returns the recorded execution.
func (m *Memory) PutExecution(ctx context.Context, e Execution) (Execution, error) {
	now := clock(m.Now)
	k := [2]string{e.Pipeline, e.ID}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.executions[k]; old != nil && now.Before(old.expires) {
		// Expiry stays as it was, as in Dynamo's update.
		old.execution = merge(old.execution, e)
		return old.execution, nil
	}
	m.executions[k] = &memExecution{execution: e, expires: now.Add(retention(m.Retention))}
	return e, nil
}

// GetExecution returns the execution recorded for pipeline and id.
func (m *Memory) GetExecution(ctx context.Context, pipeline, id string) (Execution, bool, error) {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.executions[[2]string{pipeline, id}]
	if e == nil || !now.Before(e.expires) {
		return Execution{}, false, nil
	}
	return e.execution, true, nil
}

// GetStatus returns the status recorded for key; when there is none, a
// Status with only Key set (Version 0).
func (m *Memory) GetStatus(ctx context.Context, key StatusKey) (Status, bool, error) {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.statuses[key]
	if st == nil || !now.Before(st.expires) {
		return Status{Key: key}, false, nil
	}
	return st.status, true, nil
}

// PutStatus stores s if the recorded version is still s.Version (0:
// nothing recorded) and returns s with its new Version; otherwise it
// returns ErrConflict.
func (m *Memory) PutStatus(ctx context.Context, s Status) (Status, error) {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	var version int64
	if old := m.statuses[s.Key]; old != nil && now.Before(old.expires) {
		version = old.status.Version
	}
	if s.Version != version {
		return Status{}, fmt.Errorf("put status %s version %d: %w", s.Key, s.Version, ErrConflict)
	}
	s.Version++
	m.statuses[s.Key] = &memStatus{status: s, expires: now.Add(retention(m.Retention))}
	return s, nil
}

// RecordDecision keeps d for Retention: one record per call, so every
// evaluation of a gate stays on file.
func (m *Memory) RecordDecision(ctx context.Context, d GateDecision) error {
	if err := checkDecision(d); err != nil {
		return err
	}
	now := clock(m.Now)
	d = normalDecision(d, now)
	k := [2]string{d.Pipeline, d.ExecutionID}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Expired records go now: nothing else would ever drop them.
	kept := slices.DeleteFunc(m.decisions[k], func(r memDecision) bool { return !now.Before(r.expires) })
	m.decisions[k] = append(kept, memDecision{decision: d, expires: now.Add(retention(m.Retention))})
	return nil
}

// Decisions returns the decisions recorded for one execution of pipeline,
// oldest first (by At).
func (m *Memory) Decisions(ctx context.Context, pipeline, executionID string) ([]GateDecision, error) {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []GateDecision
	for _, r := range m.decisions[[2]string{pipeline, executionID}] {
		if now.Before(r.expires) {
			out = append(out, normalDecision(r.decision, now))
		}
	}
	slices.SortStableFunc(out, func(a, b GateDecision) int { return a.At.Compare(b.At) })
	return out, nil
}

// PutResult keeps r unless the result kept for its service and environment is
// as new or newer (by At). Results do not expire: see Dynamo.PutResult.
func (m *Memory) PutResult(ctx context.Context, r Result) error {
	if err := checkResult(r); err != nil {
		return err
	}
	r.At = r.At.UTC()
	k := [2]string{r.Service, r.Environment}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.results[k]; ok && !old.At.Before(r.At) {
		return nil
	}
	m.results[k] = r
	return nil
}

// Results returns the results kept for service: staging's, then production's,
// each only when there is one.
func (m *Memory) Results(ctx context.Context, service string) ([]Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Result
	for _, env := range environments() {
		if r, ok := m.results[[2]string{service, env}]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

type memDeployment struct {
	deployment Deployment
	expires    time.Time
}

// GetDeployment returns the deployment recorded for key; when there is none,
// a Deployment with only Key set (Version 0).
func (m *Memory) GetDeployment(ctx context.Context, key DeploymentKey) (Deployment, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.deployments[key]
	if !ok || !clock(m.Now).Before(d.expires) {
		return Deployment{Key: key}, false, nil
	}
	return d.deployment, true, nil
}

// PutDeployment stores r if the recorded version is still r.Version (0:
// nothing recorded) and returns r with its new Version and UpdatedAt;
// otherwise it returns ErrConflict.
func (m *Memory) PutDeployment(ctx context.Context, r Deployment) (Deployment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := clock(m.Now)
	var have int64
	if d, ok := m.deployments[r.Key]; ok && now.Before(d.expires) {
		have = d.deployment.Version
	}
	if have != r.Version {
		return Deployment{}, fmt.Errorf("put deployment %s version %d: %w", r.Key, r.Version, ErrConflict)
	}
	r.Version++
	r.UpdatedAt = now
	if m.deployments == nil {
		m.deployments = make(map[DeploymentKey]*memDeployment)
	}
	m.deployments[r.Key] = &memDeployment{deployment: r, expires: now.Add(retention(m.Retention))}
	return r, nil
}

// Deployments returns every execution's deployment record for one project,
// environment and commit, in the order of their pipeline and execution (as
// Dynamo's sort key).
func (m *Memory) Deployments(ctx context.Context, project, environment, sha string) ([]Deployment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := clock(m.Now)
	var out []Deployment
	for k, d := range m.deployments {
		if k.Project == project && k.Environment == environment && k.CommitSHA == sha && now.Before(d.expires) {
			out = append(out, d.deployment)
		}
	}
	slices.SortFunc(out, func(a, b Deployment) int {
		return strings.Compare(a.Key.Pipeline+"#"+a.Key.ExecutionID, b.Key.Pipeline+"#"+b.Key.ExecutionID)
	})
	return out, nil
}
