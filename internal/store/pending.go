package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Pending is a delivery whose work is not known to be finished. The webhook
// records it before it claims the delivery and deletes it once the work is done,
// so that an invocation that dies in between (a Lambda timeout, an out-of-memory
// kill), or whose last writes fail, leaves a record the reconciler finishes,
// without GitLab's help. A record of a delivery that is done already is harmless:
// its claim says so.
type Pending struct {
	Key string    // the delivery key
	Job []byte    // what finishing it takes (the handler's job, opaque here)
	At  time.Time // when it was recorded; set by the store
}

// MaxPendingJob bounds a pending job, far below DynamoDB's 400 KB item limit: a
// job carries a routing decision, not a payload.
const MaxPendingJob = 16 << 10

// errJobTooLarge refuses a job over MaxPendingJob.
var errJobTooLarge = errors.New("store: pending job too large")

func checkPending(p Pending) error {
	if p.Key == "" {
		return errors.New("store: pending record without a delivery key")
	}
	if len(p.Job) > MaxPendingJob {
		return fmt.Errorf("%w: %d bytes, at most %d", errJobTooLarge, len(p.Job), MaxPendingJob)
	}
	return nil
}

// oldest sorts records oldest first and keeps the first limit of them.
func oldest(ps []Pending, limit int) []Pending {
	slices.SortFunc(ps, func(a, b Pending) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	if limit > 0 && len(ps) > limit {
		ps = ps[:limit]
	}
	return ps
}

// PutPending records p, replacing an earlier record of the same delivery.
func (m *Memory) PutPending(ctx context.Context, p Pending) error {
	if err := checkPending(p); err != nil {
		return err
	}
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil {
		m.pending = map[string]memPending{}
	}
	p.At = now.UTC()
	p.Job = slices.Clone(p.Job)
	m.pending[p.Key] = memPending{p, now.Add(retention(m.Retention))}
	return nil
}

// DeletePending drops the record of key; there being none is not an error.
func (m *Memory) DeletePending(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, key)
	return nil
}

// Pendings returns up to limit pending records recorded before before, oldest first.
func (m *Memory) Pendings(ctx context.Context, before time.Time, limit int) ([]Pending, error) {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Pending
	for _, p := range m.pending {
		if now.Before(p.expires) && p.p.At.Before(before) {
			q := p.p
			q.Job = slices.Clone(q.Job)
			out = append(out, q)
		}
	}
	return oldest(out, limit), nil
}

// GetPending returns the record of key, if there is one.
func (m *Memory) GetPending(ctx context.Context, key string) (Pending, bool, error) {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pending[key]
	if !ok || !now.Before(p.expires) {
		return Pending{}, false, nil
	}
	q := p.p
	q.Job = slices.Clone(q.Job)
	return q, true, nil
}

type memPending struct {
	p       Pending
	expires time.Time
}
