// Package store keeps the webhook's delivery de-duplication state: who is
// working on a delivery, and which pipeline executions a delivery started.
//
// Memory serves one process (local use); Dynamo serves every Lambda instance
// through one DynamoDB table. Both give the same answers to the same calls.
package store

import (
	"crypto/rand"
	"errors"
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
)

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
