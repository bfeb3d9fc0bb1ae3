package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Memory is a Store for one process. It is safe for concurrent use.
type Memory struct {
	Now       func() time.Time // nil: time.Now
	Retention time.Duration    // zero: DefaultRetention

	mu     sync.Mutex
	claims map[string]*memClaim
	starts map[[2]string]*memStart
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

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{
		claims: make(map[string]*memClaim),
		starts: make(map[[2]string]*memStart),
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
