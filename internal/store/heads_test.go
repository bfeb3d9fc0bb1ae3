package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

// headStore is what the reconciler's missed pushes need of a store.
type headStore interface {
	NoteHead(ctx context.Context, project, branch, commit string) error
	GetHead(ctx context.Context, project, branch string) (store.Head, bool, error)
	HeadSeen(ctx context.Context, project, branch, commit string) (bool, error)
	PutCandidate(ctx context.Context, project, branch, commit string) error
}

func TestHeadsMemory(t *testing.T) {
	headConformance(t, func(t *testing.T, c *clock, r time.Duration) headStore {
		m := store.NewMemory()
		m.Now, m.Retention = c.Now, r
		return m
	})
}

func TestHeadsDynamo(t *testing.T) {
	client := testenv.DynamoClient(t)
	headConformance(t, func(t *testing.T, c *clock, r time.Duration) headStore {
		d := store.NewDynamo(client, testenv.CreateTable(t, client))
		d.Now, d.Retention = c.Now, r
		return d
	})
}

func headConformance(t *testing.T, newStore func(t *testing.T, c *clock, r time.Duration) headStore) {
	ctx := context.Background()
	t.Run("noted, seen, candidate", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		if _, found, err := s.GetHead(ctx, "ic/core", "main"); found || err != nil {
			t.Fatalf("empty store: found=%v err=%v", found, err)
		}
		// No head record: a candidate is not recorded (the branch is a baseline).
		if err := s.PutCandidate(ctx, "ic/core", "main", "c1"); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := s.GetHead(ctx, "ic/core", "main"); found {
			t.Fatal("a candidate created a head record")
		}
		for _, c := range []string{"a1", "b2"} {
			if err := s.NoteHead(ctx, "ic/core", "main", c); err != nil {
				t.Fatal(err)
			}
		}
		h, found, err := s.GetHead(ctx, "ic/core", "main")
		if err != nil || !found || h.Commit != "b2" || !h.At.Equal(clk.Now()) || h.Candidate != "" {
			t.Fatalf("head %+v found=%v err=%v, want b2 at now, no candidate", h, found, err)
		}
		for c, want := range map[string]bool{"a1": true, "b2": true, "c3": false} {
			if got, err := s.HeadSeen(ctx, "ic/core", "main", c); got != want || err != nil {
				t.Errorf("seen %s = %v %v, want %v", c, got, err, want)
			}
		}
		// Other branches and projects are apart.
		if got, _ := s.HeadSeen(ctx, "ic/core", "dev", "a1"); got {
			t.Error("a1 seen on another branch")
		}
		if _, found, _ := s.GetHead(ctx, "ic/auth", "main"); found {
			t.Error("head of another project")
		}
		first := clk.Now()
		if err := s.PutCandidate(ctx, "ic/core", "main", "c3"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if err := s.PutCandidate(ctx, "ic/core", "main", "c3"); err != nil { // again: keeps its first time
			t.Fatal(err)
		}
		h, _, _ = s.GetHead(ctx, "ic/core", "main")
		if h.Commit != "b2" || h.Candidate != "c3" || !h.CandidateAt.Equal(first) {
			t.Fatalf("head %+v, want b2 with candidate c3 since %v", h, first)
		}
		if got, _ := s.HeadSeen(ctx, "ic/core", "main", "c3"); got {
			t.Error("a candidate counts as seen")
		}
		// A newer candidate replaces it; a noted head drops it.
		if err := s.PutCandidate(ctx, "ic/core", "main", "d4"); err != nil {
			t.Fatal(err)
		}
		if h, _, _ = s.GetHead(ctx, "ic/core", "main"); h.Candidate != "d4" || !h.CandidateAt.Equal(clk.Now()) {
			t.Fatalf("head %+v, want candidate d4 since now", h)
		}
		if err := s.NoteHead(ctx, "ic/core", "main", "d4"); err != nil {
			t.Fatal(err)
		}
		if h, _, _ = s.GetHead(ctx, "ic/core", "main"); h.Commit != "d4" || h.Candidate != "" {
			t.Fatalf("head %+v, want d4 without candidate", h)
		}
	})
	t.Run("retention", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, time.Hour)
		if err := s.NoteHead(ctx, "ic/core", "main", "a1"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Hour)
		if _, found, _ := s.GetHead(ctx, "ic/core", "main"); found {
			t.Error("expired head found")
		}
		if got, _ := s.HeadSeen(ctx, "ic/core", "main", "a1"); got {
			t.Error("expired commit seen")
		}
	})
	t.Run("incomplete", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		if err := s.NoteHead(ctx, "ic/core", "", "a1"); err == nil {
			t.Error("a head without a branch was recorded")
		}
	})
}
