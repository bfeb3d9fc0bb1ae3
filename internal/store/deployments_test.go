package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

// deploymentStore is what the deployments need of a store (app.Deployments).
type deploymentStore interface {
	GetDeployment(ctx context.Context, key store.DeploymentKey) (store.Deployment, bool, error)
	PutDeployment(ctx context.Context, d store.Deployment) (store.Deployment, error)
	Deployments(ctx context.Context, project, environment, sha string) ([]store.Deployment, error)
}

var (
	_ deploymentStore = (*store.Memory)(nil)
	_ deploymentStore = (*store.Dynamo)(nil)
)

func TestDeploymentsMemory(t *testing.T) {
	deploymentConformance(t, func(t *testing.T, c *clock, r time.Duration) deploymentStore {
		m := store.NewMemory()
		m.Now, m.Retention = c.Now, r
		return m
	})
}

func TestDeploymentsDynamo(t *testing.T) {
	client := testenv.DynamoClient(t)
	deploymentConformance(t, func(t *testing.T, c *clock, r time.Duration) deploymentStore {
		d := store.NewDynamo(client, testenv.CreateTable(t, client))
		d.Now, d.Retention = c.Now, r
		return d
	})
}

func deploymentConformance(t *testing.T, newStore func(t *testing.T, c *clock, r time.Duration) deploymentStore) {
	ctx := context.Background()
	key := store.DeploymentKey{Project: "team/core", Environment: "core/production", CommitSHA: "abc", Pipeline: "core-pipeline", ExecutionID: "e1"}

	t.Run("written, read, versioned", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		got, found, err := s.GetDeployment(ctx, key)
		if err != nil || found || got.Key != key || got.Version != 0 {
			t.Fatalf("empty store: %+v found=%v err=%v", got, found, err)
		}
		at := clk.Now().Add(-time.Minute)
		want := store.Deployment{
			Key: key, Ref: "v1.2.0", Tag: true,
			ExecutionStart: at.Add(-time.Minute), State: "STARTED", At: at, Began: at, Approved: false, Want: "created",
			Creating: clk.Now(),
		}
		stored, err := s.PutDeployment(ctx, want)
		if err != nil || stored.Version != 1 || !stored.UpdatedAt.Equal(clk.Now()) {
			t.Fatalf("first put: %+v %v", stored, err)
		}
		want.Version, want.UpdatedAt = 1, clk.Now()
		got, found, err = s.GetDeployment(ctx, key)
		if err != nil || !found {
			t.Fatalf("read back: found=%v err=%v", found, err)
		}
		sameDeployment(t, "read back", got, want)

		// A writer that read version 1 wins once; the second writer of version 1 loses.
		next := got
		next.ID, next.Creating, next.Posted, next.Approved, next.Want = 501, time.Time{}, "created", true, "running"
		clk.Advance(time.Second)
		if _, err := s.PutDeployment(ctx, next); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutDeployment(ctx, next); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale write: %v, want ErrConflict", err)
		}
		fresh := store.Deployment{Key: key, State: "FAILED"}
		if _, err := s.PutDeployment(ctx, fresh); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("create over an existing record: %v, want ErrConflict", err)
		}
		got, _, _ = s.GetDeployment(ctx, key)
		next.Version, next.UpdatedAt = 2, clk.Now()
		sameDeployment(t, "after the update", got, next)
	})

	t.Run("racing creators: one wins", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.PutDeployment(ctx, store.Deployment{Key: key, State: "STARTED", Want: "running"})
				if err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if !errors.Is(err, store.ErrConflict) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d creators won, want 1", wins)
		}
	})

	t.Run("one environment and commit, every execution", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		others := []store.DeploymentKey{
			{Project: "team/core", Environment: "core/production", CommitSHA: "abc", Pipeline: "core-pipeline", ExecutionID: "e2"},
			key,
			{Project: "team/core", Environment: "core/staging", CommitSHA: "abc", Pipeline: "core-pipeline", ExecutionID: "e1"},    // another environment
			{Project: "team/core", Environment: "core/production", CommitSHA: "abd", Pipeline: "core-pipeline", ExecutionID: "e3"}, // another commit
			{Project: "team/core", Environment: "core/production", CommitSHA: "abc", Pipeline: "api-pipeline", ExecutionID: "e9"},
		}
		for i, k := range others {
			if _, err := s.PutDeployment(ctx, store.Deployment{Key: k, ID: int64(100 + i)}); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.Deployments(ctx, "team/core", "core/production", "abc")
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, d := range list {
			got = append(got, d.ID)
		}
		// In the order of pipeline, then execution.
		if len(got) != 3 || got[0] != 104 || got[1] != 101 || got[2] != 100 {
			t.Fatalf("ids %v, want [104 101 100]", got)
		}
	})

	t.Run("expired records are gone", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, time.Hour)
		if _, err := s.PutDeployment(ctx, store.Deployment{Key: key, ID: 7}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Hour)
		if _, found, _ := s.GetDeployment(ctx, key); found {
			t.Fatal("an expired record was found")
		}
		if list, _ := s.Deployments(ctx, key.Project, key.Environment, key.CommitSHA); len(list) != 0 {
			t.Fatalf("expired records listed: %+v", list)
		}
		// Written again as new (version 0), over the expired one.
		if _, err := s.PutDeployment(ctx, store.Deployment{Key: key, ID: 8}); err != nil {
			t.Fatalf("rewrite over an expired record: %v", err)
		}
	})
}

func sameDeployment(t *testing.T, what string, got, want store.Deployment) {
	t.Helper()
	times := [][2]time.Time{{got.ExecutionStart, want.ExecutionStart}, {got.At, want.At}, {got.Began, want.Began},
		{got.Creating, want.Creating}, {got.UpdatedAt, want.UpdatedAt}}
	for _, p := range times {
		if !p[0].Equal(p[1]) {
			t.Errorf("%s: times differ\n got %+v\nwant %+v", what, got, want)
			return
		}
	}
	got.ExecutionStart, got.At, got.Began, got.Creating, got.UpdatedAt = want.ExecutionStart, want.At, want.Began, want.Creating, want.UpdatedAt
	if got != want {
		t.Errorf("%s\n got %+v\nwant %+v", what, got, want)
	}
}
