package store

import (
	"context"
	"fmt"
	"time"
)

// Head is the last commit pipegate knows a branch of a routed project at: the
// `after` of the last push delivered to it (started, or deliberately skipped), or
// the head the reconciler last read. The reconciler starts what lies between it
// and the branch's real head when GitLab delivered nothing (docs/statuses.md).
type Head struct {
	Project, Branch string // the project as the routing file names it
	Commit          string
	At              time.Time // when it was recorded
	// Candidate is a head the reconciler found that no delivery brought, and
	// CandidateAt when it first found it: it waits a run before starting it, so
	// that a delivery merely late is not raced.
	Candidate   string
	CandidateAt time.Time
}

// memHeads are Memory's heads and the commits seen on each branch.
type memHeads struct {
	last map[[2]string]memHead
	seen map[[3]string]time.Time // project, branch, commit -> expiry
}

type memHead struct {
	head    Head
	expires time.Time
}

func checkHead(project, branch, commit string) error {
	if project == "" || branch == "" || commit == "" {
		return fmt.Errorf("record head: project %q branch %q commit %q: all are needed", project, branch, commit)
	}
	return nil
}

// NoteHead records commit as branch's last known head, and as a commit seen on
// it (HeadSeen). It replaces a candidate: the reconciler decides again.
func (m *Memory) NoteHead(ctx context.Context, project, branch, commit string) error {
	if err := checkHead(project, branch, commit); err != nil {
		return err
	}
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.heads.last == nil {
		m.heads.last, m.heads.seen = map[[2]string]memHead{}, map[[3]string]time.Time{}
	}
	exp := now.Add(retention(m.Retention))
	m.heads.last[[2]string{project, branch}] = memHead{Head{Project: project, Branch: branch, Commit: commit, At: now}, exp}
	m.heads.seen[[3]string{project, branch, commit}] = exp
	return nil
}

// GetHead returns branch's last known head.
func (m *Memory) GetHead(ctx context.Context, project, branch string) (Head, bool, error) {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.heads.last[[2]string{project, branch}]
	if !ok || !now.Before(h.expires) {
		return Head{}, false, nil
	}
	return h.head, true, nil
}

// HeadSeen reports whether commit was ever recorded as branch's head.
func (m *Memory) HeadSeen(ctx context.Context, project, branch, commit string) (bool, error) {
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.heads.seen[[3]string{project, branch, commit}]
	return ok && now.Before(exp), nil
}

// PutCandidate records commit as branch's candidate, first found at now, unless
// it is the candidate already. Without a head record it does nothing: a branch
// without one is a baseline, never started.
func (m *Memory) PutCandidate(ctx context.Context, project, branch, commit string) error {
	if err := checkHead(project, branch, commit); err != nil {
		return err
	}
	now := clock(m.Now)
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{project, branch}
	h, ok := m.heads.last[k]
	if !ok || !now.Before(h.expires) || h.head.Candidate == commit {
		return nil
	}
	h.head.Candidate, h.head.CandidateAt = commit, now
	m.heads.last[k] = h
	return nil
}
