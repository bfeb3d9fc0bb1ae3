package store_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/store"
)

// pendingStore is what the pending records need of a store.
type pendingStore interface {
	PutPending(ctx context.Context, p store.Pending) error
	DeletePending(ctx context.Context, key string) error
	Pendings(ctx context.Context, before time.Time, limit int) ([]store.Pending, error)
	GetPending(ctx context.Context, key string) (store.Pending, bool, error)
}

type newPendingStore func(t *testing.T, c *clock, r time.Duration) pendingStore

func pendingConformance(t *testing.T, newStore newPendingStore) {
	ctx := context.Background()

	t.Run("recorded, listed oldest first, deleted", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		for _, k := range []string{"b", "a", "c"} {
			if err := s.PutPending(ctx, store.Pending{Key: k, Job: []byte(`{"k":"` + k + `"}`)}); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second)
		}
		got, err := s.Pendings(ctx, clk.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if keys(got) != "b,a,c" || !bytes.Equal(got[1].Job, []byte(`{"k":"a"}`)) {
			t.Fatalf("pending %s %q, want b,a,c oldest first with their jobs", keys(got), got)
		}
		if !got[0].At.Equal(clk.Now().Add(-3 * time.Second)) {
			t.Errorf("at %v, want when it was recorded (%v)", got[0].At, clk.Now().Add(-3*time.Second))
		}
		// Only those recorded before the given time, and at most limit of them.
		if got, _ := s.Pendings(ctx, clk.Now().Add(-1500*time.Millisecond), 0); keys(got) != "b,a" {
			t.Errorf("before: %s, want b,a", keys(got))
		}
		if got, _ := s.Pendings(ctx, clk.Now(), 1); keys(got) != "b" {
			t.Errorf("limit 1: %s, want b", keys(got))
		}
		if err := s.DeletePending(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeletePending(ctx, "never-recorded"); err != nil {
			t.Fatalf("deleting a missing record: %v", err)
		}
		if got, _ := s.Pendings(ctx, clk.Now(), 0); keys(got) != "b,c" {
			t.Errorf("after delete: %s, want b,c", keys(got))
		}
		// One record by its key, with its job and time; a deleted or never
		// recorded one is not found.
		if p, found, err := s.GetPending(ctx, "c"); err != nil || !found || !bytes.Equal(p.Job, []byte(`{"k":"c"}`)) || p.Key != "c" ||
			!p.At.Equal(clk.Now().Add(-time.Second)) {
			t.Errorf("get c: %+v %v %v, want its record", p, found, err)
		}
		for _, k := range []string{"a", "never-recorded"} {
			if p, found, err := s.GetPending(ctx, k); err != nil || found {
				t.Errorf("get %s: %+v %v %v, want none", k, p, found, err)
			}
		}
	})

	t.Run("recording again replaces", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		s.PutPending(ctx, store.Pending{Key: "k", Job: []byte("one")})
		clk.Advance(time.Second)
		s.PutPending(ctx, store.Pending{Key: "k", Job: []byte("two")})
		got, err := s.Pendings(ctx, clk.Now().Add(time.Second), 0)
		if err != nil || len(got) != 1 || string(got[0].Job) != "two" {
			t.Fatalf("got %q %v, want one record with the second job", got, err)
		}
	})

	t.Run("expired records are gone", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, time.Hour)
		s.PutPending(ctx, store.Pending{Key: "k", Job: []byte("j")})
		clk.Advance(2 * time.Hour)
		if got, _ := s.Pendings(ctx, clk.Now(), 0); len(got) != 0 {
			t.Fatalf("expired record listed: %q", got)
		}
		if _, found, _ := s.GetPending(ctx, "k"); found {
			t.Fatal("expired record found by its key")
		}
	})

	t.Run("a job over the limit is refused", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		err := s.PutPending(ctx, store.Pending{Key: "k", Job: bytes.Repeat([]byte("x"), store.MaxPendingJob+1)})
		if err == nil || errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want a refusal", err)
		}
	})
}

func keys(ps []store.Pending) string {
	var k []string
	for _, p := range ps {
		k = append(k, p.Key)
	}
	return strings.Join(k, ",")
}
