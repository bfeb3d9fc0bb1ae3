// Package store keeps pipegate's state: who is working on a webhook
// delivery, which pipeline executions a delivery started, which commit each
// pipeline execution runs, the last accepted state of each commit status, the
// production gate's decisions, for audit, and how each service's last staging
// and production deployments ended, for its status badge.
//
// Memory serves one process (local use); Dynamo serves every Lambda instance
// through one DynamoDB table. Both give the same answers to the same calls.
package store

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// DefaultRetention is how long records are kept when Retention is zero.
// GitLab's "Resend request" can replay a delivery long after it first came.
const DefaultRetention = 30 * 24 * time.Hour

// ClaimState is the outcome of a Claim.
type ClaimState int

const (
	Claimed ClaimState = iota + 1 // the caller now holds the delivery
	Busy                          // someone else holds it and their lease has not run out
	Done                          // the delivery was handled already
)

func (s ClaimState) String() string {
	switch s {
	case Claimed:
		return "claimed"
	case Busy:
		return "busy"
	case Done:
		return "done"
	}
	return "unknown"
}

// Claim is the answer to a Claim call.
type Claim struct {
	State ClaimState
	Owner string // random token identifying this holder; set when State == Claimed
	Retry bool   // Claimed over an expired earlier claim, or a released one: work may be half done
}

// Start records the pipeline execution a delivery started.
type Start struct {
	Delivery, Pipeline, ExecutionID  string
	Service, Project, CommitSHA, Ref string
	StartedAt                        time.Time
	StatusPosted                     bool
}

// Claim states as stored by Memory and in Dynamo's "state" attribute.
const (
	stateClaimed  = "claimed"
	stateDone     = "done"
	stateReleased = "released"
)

var (
	// ErrNotOwner is returned by Finish and Release when the caller no
	// longer holds the claim: its lease ran out and someone else took over.
	ErrNotOwner = errors.New("store: claim is held by another owner")
	// ErrNotFound is returned by MarkPosted when no start is recorded.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned by PutStatus when the stored version is not
	// the one the caller read: another writer got there first.
	ErrConflict = errors.New("store: record changed since it was read")
)

// Execution is what pipegate knows of one pipeline execution: the commit it runs.
type Execution struct {
	Pipeline, ID            string
	Project, CommitSHA, Ref string    // Project: numeric id as a string or path_with_namespace
	StartedAt               time.Time // when it began, as far as known
	// Trigger is CodePipeline's trigger type of the execution (e.g.
	// CreatePipeline, StartPipelineExecution) when pipegate looked it up;
	// empty for executions pipegate started itself.
	Trigger string
}

// merge is what PutExecution stores when old is recorded already: old's
// fields, with the empty ones filled from e and StartedAt lowered to a
// non-zero earlier e.StartedAt. Different sources (webhook, events,
// reconciler) learn different parts of an execution, in any order.
func merge(old, e Execution) Execution {
	if old.Project == "" {
		old.Project = e.Project
	}
	if old.CommitSHA == "" {
		old.CommitSHA = e.CommitSHA
	}
	if old.Ref == "" {
		old.Ref = e.Ref
	}
	if old.Trigger == "" {
		old.Trigger = e.Trigger
	}
	if !e.StartedAt.IsZero() && (old.StartedAt.IsZero() || e.StartedAt.Before(old.StartedAt)) {
		old.StartedAt = e.StartedAt
	}
	return old
}

// StatusKey names one commit status: its project, commit, status name and ref.
// GitLab keeps a commit's statuses per ref, so a branch's and a tag's executions
// of one commit each have their own.
type StatusKey struct{ Project, CommitSHA, Name, Ref string }

func (k StatusKey) String() string {
	return fmt.Sprintf("%s@%s %s (ref %s)", k.Project, k.CommitSHA, k.Name, k.Ref)
}

// Status is the last accepted state of one commit status, with what was posted.
type Status struct {
	Key            StatusKey
	ExecutionID    string
	ExecutionStart time.Time
	State          string
	At             time.Time
	Began          time.Time
	Ref            string
	Description    string
	Posted         bool  // GitLab has been told this version
	Version        int64 // set by the store; 0: not stored yet
}

func clock(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}

func retention(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultRetention
	}
	return d
}

// newOwner returns a token that no other claimer will draw.
func newOwner() string { return rand.Text() }

// GateDecision is one evaluation of a production gate, kept for audit: what was
// decided for which execution, on what grounds, and what made pipegate look.
type GateDecision struct {
	Pipeline, ExecutionID string
	At                    time.Time // when it was decided; zero: when recorded
	Verdict               string    // wait, approve, reject
	Commit                string
	MergeRequest          int64    // the IID of the merge request it names; 0: none
	Approvers             []string // the approvals that counted
	Reason                string   // the summary given to CodePipeline, or what is missing
	Trigger               string   // "approval action", "merge request !42 approved", "reconciler"
}

// checkDecision refuses a decision that names no execution: it could never be
// found again.
func checkDecision(d GateDecision) error {
	if d.Pipeline == "" || d.ExecutionID == "" {
		return fmt.Errorf("record gate decision: pipeline %q execution %q: both are needed", d.Pipeline, d.ExecutionID)
	}
	return nil
}

// normalDecision is d as both stores keep it: At in UTC (now when zero), no
// empty Approvers, and no slice shared with the caller.
func normalDecision(d GateDecision, now time.Time) GateDecision {
	if d.At.IsZero() {
		d.At = now
	}
	d.At = d.At.UTC()
	if len(d.Approvers) == 0 {
		d.Approvers = nil
	} else {
		d.Approvers = append([]string(nil), d.Approvers...)
	}
	return d
}
