package store_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The roles internal/app declares beside the code that uses them; both types
// must play every one (app.Store is all of them at once).
var (
	_ app.Store = (*store.Memory)(nil)
	_ app.Store = (*store.Dynamo)(nil)
)

// Store is the claims part of a store.
type Store = app.Claims

// fullStore is every role app declares, with the test-only parts of the
// decision, result and pending suites.
type fullStore interface {
	app.Claims
	app.Pending
	app.Starts
	app.Executions
	app.Statuses
	app.GateLog
	app.BadgeResults
	decisionStore
	resultStore
	pendingStore
}

var (
	_ fullStore = (*store.Memory)(nil)
	_ fullStore = (*store.Dynamo)(nil)
)

// clock is a test clock: leases and retention run out when the test says.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newStore returns an empty store on clock c with retention r (0: default).
type newStore func(t *testing.T, c *clock, r time.Duration) fullStore

func TestMemory(t *testing.T) {
	conformance(t, func(t *testing.T, c *clock, r time.Duration) fullStore {
		m := store.NewMemory()
		m.Now, m.Retention = c.Now, r
		return m
	})
}

func TestDynamo(t *testing.T) {
	client := testenv.DynamoClient(t)
	conformance(t, func(t *testing.T, c *clock, r time.Duration) fullStore {
		d := store.NewDynamo(client, testenv.CreateTable(t, client))
		d.Now, d.Retention = c.Now, r
		return d
	})
}

// TestDynamoFromConfig runs the suite through the client that production
// builds, with its quick retryer.
func TestDynamoFromConfig(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	client := testenv.DynamoClient(t)
	conformance(t, func(t *testing.T, c *clock, r time.Duration) fullStore {
		d := store.NewDynamoFromConfig(cfg, testenv.CreateTable(t, client))
		d.Now, d.Retention = c.Now, r
		return d
	})
}

func conformance(t *testing.T, newStore newStore) {
	ctx := context.Background()
	const lease = 30 * time.Second

	t.Run("decisions", func(t *testing.T) {
		decisionConformance(t, func(t *testing.T, c *clock, r time.Duration) decisionStore { return newStore(t, c, r) })
	})

	t.Run("results", func(t *testing.T) {
		resultConformance(t, func(t *testing.T, c *clock, r time.Duration) resultStore { return newStore(t, c, r) })
	})

	t.Run("pending", func(t *testing.T) {
		pendingConformance(t, func(t *testing.T, c *clock, r time.Duration) pendingStore { return newStore(t, c, r) })
	})

	t.Run("claim busy done", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		c := mustClaim(t, s, "d1", lease)
		if c.State != store.Claimed || c.Owner == "" || c.Retry {
			t.Fatalf("first claim = %+v, want Claimed with an owner, no retry", c)
		}
		if got := mustClaim(t, s, "d1", lease); got.State != store.Busy || got.Owner != "" {
			t.Fatalf("second claim = %+v, want Busy", got)
		}
		if got := mustClaim(t, s, "d2", lease); got.State != store.Claimed || got.Owner == c.Owner {
			t.Fatalf("claim of another key = %+v, want Claimed with a new owner", got)
		}
		if err := s.Finish(ctx, "d1", c.Owner); err != nil {
			t.Fatalf("finish: %v", err)
		}
		if got := mustClaim(t, s, "d1", lease); got.State != store.Done {
			t.Fatalf("claim after finish = %+v, want Done", got)
		}
		// An SDK retry of a Finish that landed must not read as a lost claim.
		if err := s.Finish(ctx, "d1", c.Owner); err != nil {
			t.Fatalf("second finish by the owner: %v", err)
		}
		if err := s.Release(ctx, "d1", c.Owner); !errors.Is(err, store.ErrNotOwner) {
			t.Fatalf("release after finish = %v, want ErrNotOwner", err)
		}
		if got := mustClaim(t, s, "d1", lease); got.State != store.Done {
			t.Fatalf("claim after release of a done key = %+v, want Done", got)
		}
	})

	t.Run("expired lease is taken over", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		first := mustClaim(t, s, "d1", lease)
		clk.Advance(lease - time.Second)
		if got := mustClaim(t, s, "d1", lease); got.State != store.Busy {
			t.Fatalf("claim before the lease ran out = %+v, want Busy", got)
		}
		clk.Advance(2 * time.Second)
		second := mustClaim(t, s, "d1", lease)
		if second.State != store.Claimed || !second.Retry || second.Owner == "" || second.Owner == first.Owner {
			t.Fatalf("claim after the lease ran out = %+v, want Claimed, Retry, new owner", second)
		}
		if got := mustClaim(t, s, "d1", lease); got.State != store.Busy {
			t.Fatalf("claim during the new lease = %+v, want Busy", got)
		}
		if err := s.Finish(ctx, "d1", first.Owner); !errors.Is(err, store.ErrNotOwner) {
			t.Fatalf("finish by the old owner = %v, want ErrNotOwner", err)
		}
		if err := s.Release(ctx, "d1", first.Owner); !errors.Is(err, store.ErrNotOwner) {
			t.Fatalf("release by the old owner = %v, want ErrNotOwner", err)
		}
		if err := s.Finish(ctx, "d1", second.Owner); err != nil {
			t.Fatalf("finish by the new owner: %v", err)
		}
		if got := mustClaim(t, s, "d1", lease); got.State != store.Done {
			t.Fatalf("claim after finish = %+v, want Done", got)
		}
	})

	t.Run("release", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		first := mustClaim(t, s, "d1", lease)
		if err := s.Release(ctx, "d1", "someone-else"); !errors.Is(err, store.ErrNotOwner) {
			t.Fatalf("release by a stranger = %v, want ErrNotOwner", err)
		}
		if err := s.Release(ctx, "d1", first.Owner); err != nil {
			t.Fatalf("release: %v", err)
		}
		if err := s.Release(ctx, "d1", first.Owner); err != nil {
			t.Fatalf("second release by the owner: %v", err)
		}
		if err := s.Finish(ctx, "d1", first.Owner); !errors.Is(err, store.ErrNotOwner) {
			t.Fatalf("finish after release = %v, want ErrNotOwner", err)
		}
		// No clock advance: a released claim is free at once.
		second := mustClaim(t, s, "d1", lease)
		if second.State != store.Claimed || !second.Retry || second.Owner == first.Owner {
			t.Fatalf("claim after release = %+v, want Claimed, Retry, new owner", second)
		}
		if err := s.Release(ctx, "d1", first.Owner); !errors.Is(err, store.ErrNotOwner) {
			t.Fatalf("release by the old owner after takeover = %v, want ErrNotOwner", err)
		}
		if got := mustClaim(t, s, "d1", lease); got.State != store.Busy {
			t.Fatalf("claim after re-claim = %+v, want Busy", got)
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		if err := s.Finish(ctx, "nope", "x"); !errors.Is(err, store.ErrNotOwner) {
			t.Fatalf("finish of an unclaimed key = %v, want ErrNotOwner", err)
		}
		if err := s.Release(ctx, "nope", "x"); !errors.Is(err, store.ErrNotOwner) {
			t.Fatalf("release of an unclaimed key = %v, want ErrNotOwner", err)
		}
		if _, found, err := s.GetStart(ctx, "nope", "p"); err != nil || found {
			t.Fatalf("get start of nothing = found %v, %v; want not found", found, err)
		}
		if err := s.MarkPosted(ctx, "nope", "p"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("mark posted of nothing = %v, want ErrNotFound", err)
		}
	})

	t.Run("first start wins", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		a := store.Start{
			Delivery: "d1", Pipeline: "core-pipeline", ExecutionID: "exec-a",
			Service: "core", Project: "ic/core", CommitSHA: "0123abcd", Ref: "refs/heads/main",
			StartedAt: clk.Now().Add(1500 * time.Millisecond),
		}
		got, err := s.PutStart(ctx, a)
		if err != nil {
			t.Fatalf("put start: %v", err)
		}
		sameStart(t, "first put", got, a)

		b := a
		b.ExecutionID, b.CommitSHA, b.StartedAt = "exec-b", "ffff", a.StartedAt.Add(time.Minute)
		got, err = s.PutStart(ctx, b)
		if err != nil {
			t.Fatalf("second put start: %v", err)
		}
		sameStart(t, "second put", got, a)

		got, found, err := s.GetStart(ctx, "d1", "core-pipeline")
		if err != nil || !found {
			t.Fatalf("get start = found %v, %v", found, err)
		}
		sameStart(t, "get", got, a)

		// Another pipeline of the same delivery is its own record, and the
		// claim of that delivery is not disturbed by starts.
		other := store.Start{Delivery: "d1", Pipeline: "web-pipeline", ExecutionID: "exec-w"}
		if got, err := s.PutStart(ctx, other); err != nil || got.ExecutionID != "exec-w" {
			t.Fatalf("put start of another pipeline = %+v, %v", got, err)
		}
		if c := mustClaim(t, s, "d1", lease); c.State != store.Claimed || c.Retry {
			t.Fatalf("claim of a delivery with starts = %+v, want Claimed", c)
		}
	})

	t.Run("mark posted", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		a := store.Start{Delivery: "d1", Pipeline: "p", ExecutionID: "e", CommitSHA: "abc"}
		if _, err := s.PutStart(ctx, a); err != nil {
			t.Fatalf("put start: %v", err)
		}
		if err := s.MarkPosted(ctx, "d1", "p"); err != nil {
			t.Fatalf("mark posted: %v", err)
		}
		got, found, err := s.GetStart(ctx, "d1", "p")
		if err != nil || !found {
			t.Fatalf("get start = found %v, %v", found, err)
		}
		a.StatusPosted = true
		sameStart(t, "after mark posted", got, a)
		if err := s.MarkPosted(ctx, "d1", "p"); err != nil {
			t.Fatalf("second mark posted: %v", err)
		}
		if err := s.MarkPosted(ctx, "d1", "other"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("mark posted of another pipeline = %v, want ErrNotFound", err)
		}
	})

	t.Run("records expire after the default retention", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		expiry(t, s, clk, store.DefaultRetention)
	})

	t.Run("records expire after a set retention", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, time.Hour)
		expiry(t, s, clk, time.Hour)
	})

	t.Run("concurrent claims have one winner", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		claimed, busy := race(t, s, "d1", lease)
		if len(claimed) != 1 || busy != 19 || claimed[0].Retry {
			t.Fatalf("20 claims at once: %d claimed %+v, %d busy; want 1 claimed (no retry), 19 busy", len(claimed), claimed, busy)
		}
		// The same when they race to take over an expired lease.
		clk.Advance(lease + time.Second)
		claimed, busy = race(t, s, "d1", lease)
		if len(claimed) != 1 || busy != 19 || !claimed[0].Retry {
			t.Fatalf("20 takeovers at once: %d claimed %+v, %d busy; want 1 claimed (retry), 19 busy", len(claimed), claimed, busy)
		}
	})

	t.Run("concurrent starts agree", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		var wg sync.WaitGroup
		got := make([]store.Start, 20)
		errs := make([]error, 20)
		for i := range got {
			wg.Go(func() {
				got[i], errs[i] = s.PutStart(ctx, store.Start{Delivery: "d1", Pipeline: "p", ExecutionID: "exec-" + string(rune('a'+i))})
			})
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil {
				t.Fatalf("put start %d: %v", i, errs[i])
			}
			if got[i].ExecutionID != got[0].ExecutionID {
				t.Fatalf("put start %d returned %q, put start 0 %q: two writers won", i, got[i].ExecutionID, got[0].ExecutionID)
			}
		}
	})

	t.Run("execution round trip", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		// Nanoseconds and another zone: the time must come back equal.
		at := clk.Now().Add(1234567891 * time.Nanosecond).In(time.FixedZone("CET", 3600))
		e := store.Execution{
			Pipeline: "core-pipeline", ID: "0d5bd0a1-2f6e-4a8c-9b3f-6a1f1c2e3d4f",
			Project: "ic/core", CommitSHA: "0123abcd", Ref: "refs/heads/main", StartedAt: at,
			Trigger: "CreatePipeline",
		}
		got, err := s.PutExecution(ctx, e)
		if err != nil {
			t.Fatalf("put execution: %v", err)
		}
		sameExecution(t, "put", got, e)
		got, found, err := s.GetExecution(ctx, e.Pipeline, e.ID)
		if err != nil || !found {
			t.Fatalf("get execution = found %v, %v", found, err)
		}
		sameExecution(t, "get", got, e)

		// Empty fields and a zero time stay empty and zero.
		bare := store.Execution{Pipeline: "core-pipeline", ID: "bare"}
		if got, err := s.PutExecution(ctx, bare); err != nil || got != bare {
			t.Fatalf("put bare execution = %+v, %v; want %+v", got, err, bare)
		}
		if got, found, err := s.GetExecution(ctx, "core-pipeline", "bare"); err != nil || !found || got != bare {
			t.Fatalf("get bare execution = %+v, found %v, %v; want %+v", got, found, err, bare)
		}

		if _, found, err := s.GetExecution(ctx, "core-pipeline", "nope"); err != nil || found {
			t.Fatalf("get unknown execution = found %v, %v; want not found", found, err)
		}
		if _, found, err := s.GetExecution(ctx, "web-pipeline", e.ID); err != nil || found {
			t.Fatalf("get execution of another pipeline = found %v, %v; want not found", found, err)
		}
	})

	t.Run("execution put keeps, fills and lowers", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		t0 := clk.Now().Add(500 * time.Nanosecond)
		a := store.Execution{Pipeline: "p", ID: "e", Project: "ic/core", CommitSHA: "aaaa", StartedAt: t0}
		mustPutExecution(t, s, a, a)

		// Stored fields win; a later start does not move StartedAt; the
		// empty Ref and Trigger are filled.
		b := store.Execution{Pipeline: "p", ID: "e", Project: "42", CommitSHA: "bbbb", Ref: "main", StartedAt: t0.Add(time.Second), Trigger: "CreatePipeline"}
		want := a
		want.Ref, want.Trigger = "main", "CreatePipeline"
		mustPutExecution(t, s, b, want)

		// A stored Trigger wins too.
		mustPutExecution(t, s, store.Execution{Pipeline: "p", ID: "e", Trigger: "StartPipelineExecution"}, want)

		// A zero start and empty fields change nothing.
		mustPutExecution(t, s, store.Execution{Pipeline: "p", ID: "e"}, want)

		// An earlier start, by one nanosecond, lowers StartedAt; the other
		// fields stay.
		c := store.Execution{Pipeline: "p", ID: "e", Project: "7", Ref: "dev", StartedAt: t0.Add(-time.Nanosecond), Trigger: "StartPipelineExecution"}
		want.StartedAt = c.StartedAt
		mustPutExecution(t, s, c, want)
		// The same start again is no change.
		mustPutExecution(t, s, c, want)

		// A record without a start takes the first non-zero one, and fills
		// every empty field at once.
		bare := store.Execution{Pipeline: "p", ID: "bare"}
		mustPutExecution(t, s, bare, bare)
		full := store.Execution{Pipeline: "p", ID: "bare", Project: "ic/web", CommitSHA: "cccc", Ref: "main", StartedAt: t0.Add(time.Hour), Trigger: "StartPipelineExecution"}
		mustPutExecution(t, s, full, full)
		mustPutExecution(t, s, store.Execution{Pipeline: "p", ID: "bare", CommitSHA: "dddd", StartedAt: t0.Add(2 * time.Hour)}, full)

		// Only the start lowers, with nothing to fill.
		earlier := full
		earlier.StartedAt = t0
		mustPutExecution(t, s, store.Execution{Pipeline: "p", ID: "bare", StartedAt: t0}, earlier)

		got, found, err := s.GetExecution(ctx, "p", "e")
		if err != nil || !found {
			t.Fatalf("get execution = found %v, %v", found, err)
		}
		sameExecution(t, "get after merges", got, want)
	})

	t.Run("concurrent execution puts agree", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		base := clk.Now()
		var wg sync.WaitGroup
		got := make([]store.Execution, 20)
		errs := make([]error, 20)
		start := make(chan struct{})
		for i := range got {
			wg.Go(func() {
				<-start
				e := store.Execution{Pipeline: "p", ID: "e", StartedAt: base.Add(time.Duration(i+1) * time.Second)}
				if i%2 == 0 { // half know the commit, the other half only the start
					e.Project, e.CommitSHA, e.Ref = "ic/core", "sha-"+itoa(int64(i)), "main"
				}
				got[i], errs[i] = s.PutExecution(ctx, e)
			})
		}
		close(start)
		wg.Wait()
		for i := range got {
			if errs[i] != nil {
				t.Fatalf("put execution %d: %v", i, errs[i])
			}
		}
		final, found, err := s.GetExecution(ctx, "p", "e")
		if err != nil || !found {
			t.Fatalf("get execution = found %v, %v", found, err)
		}
		// Whatever the order, the earliest start wins, and the commit is the
		// one of a single writer.
		if !final.StartedAt.Equal(base.Add(time.Second)) {
			t.Fatalf("StartedAt after 20 racing puts = %v, want the earliest %v", final.StartedAt, base.Add(time.Second))
		}
		if final.Project != "ic/core" || final.Ref != "main" || final.CommitSHA == "" {
			t.Fatalf("after 20 racing puts: %+v, want a commit filled in", final)
		}
		for i, g := range got {
			if g.CommitSHA != "" && g.CommitSHA != final.CommitSHA {
				t.Fatalf("put execution %d returned commit %q, the record has %q: two writers won", i, g.CommitSHA, final.CommitSHA)
			}
			if g.StartedAt.Before(final.StartedAt) {
				t.Fatalf("put execution %d returned start %v before the final %v", i, g.StartedAt, final.StartedAt)
			}
		}
	})

	t.Run("status round trip", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		key := store.StatusKey{Project: "ic/core", CommitSHA: "0123abcd", Name: "core-pipeline/Build"}
		if got, found, err := s.GetStatus(ctx, key); err != nil || found || got != (store.Status{Key: key}) {
			t.Fatalf("get status of nothing = %+v, found %v, %v; want Status{Key}, not found", got, found, err)
		}
		zone := time.FixedZone("EST", -5*3600)
		st := store.Status{
			Key:            key,
			ExecutionID:    "exec-1",
			ExecutionStart: clk.Now().Add(1 * time.Nanosecond).In(zone),
			State:          "SUCCEEDED",
			At:             clk.Now().Add(3*time.Minute + 999999999*time.Nanosecond),
			Began:          clk.Now().Add(time.Second + 10*time.Nanosecond),
			Ref:            "main",
			Description:    "Build succeeded in 3m 12s",
			Posted:         true,
		}
		got, err := s.PutStatus(ctx, st)
		if err != nil {
			t.Fatalf("put status: %v", err)
		}
		want := st
		want.Version = 1
		sameStatus(t, "put", got, want)
		got, found, err := s.GetStatus(ctx, key)
		if err != nil || !found {
			t.Fatalf("get status = found %v, %v", found, err)
		}
		sameStatus(t, "get", got, want)

		// Zero times and empty strings stay zero and empty.
		bareKey := store.StatusKey{Project: "42", CommitSHA: "0123abcd", Name: "core-pipeline"}
		bare, err := s.PutStatus(ctx, store.Status{Key: bareKey})
		if err != nil || bare != (store.Status{Key: bareKey, Version: 1}) {
			t.Fatalf("put bare status = %+v, %v", bare, err)
		}
		if got, found, err := s.GetStatus(ctx, bareKey); err != nil || !found || got != bare {
			t.Fatalf("get bare status = %+v, found %v, %v; want %+v", got, found, err, bare)
		}
		// Keys differing in one part are separate records.
		for _, k := range []store.StatusKey{
			{Project: "ic/core", CommitSHA: "0123abcd", Name: "core-pipeline"},
			{Project: "ic/core", CommitSHA: "ffff", Name: "core-pipeline/Build"},
			{Project: "ic/web", CommitSHA: "0123abcd", Name: "core-pipeline/Build"},
			{Project: "ic/core", CommitSHA: "0123abcd", Name: "core-pipeline/Build", Ref: "v1.4.0"},
		} {
			if _, found, err := s.GetStatus(ctx, k); err != nil || found {
				t.Fatalf("get status %+v = found %v, %v; want not found", k, found, err)
			}
		}
	})

	t.Run("status versions", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		key := store.StatusKey{Project: "ic/core", CommitSHA: "abc", Name: "p/Build"}
		if _, err := s.PutStatus(ctx, store.Status{Key: key, Version: 3}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("put status with a version over nothing = %v, want ErrConflict", err)
		}
		v1, err := s.PutStatus(ctx, store.Status{Key: key, ExecutionID: "e1", State: "STARTED"})
		if err != nil || v1.Version != 1 {
			t.Fatalf("create status = %+v, %v; want version 1", v1, err)
		}
		if _, err := s.PutStatus(ctx, store.Status{Key: key, ExecutionID: "e2", State: "STARTED"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second create = %v, want ErrConflict", err)
		}
		posted := v1
		posted.Posted = true
		v2, err := s.PutStatus(ctx, posted)
		if err != nil || v2.Version != 2 || !v2.Posted {
			t.Fatalf("put status at version 1 = %+v, %v; want version 2, posted", v2, err)
		}
		stale := v1
		stale.State = "FAILED"
		if _, err := s.PutStatus(ctx, stale); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("put status at a stale version = %v, want ErrConflict", err)
		}
		if _, err := s.PutStatus(ctx, store.Status{Key: key, Version: 5}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("put status at a future version = %v, want ErrConflict", err)
		}
		got, found, err := s.GetStatus(ctx, key)
		if err != nil || !found {
			t.Fatalf("get status = found %v, %v", found, err)
		}
		sameStatus(t, "after the conflicts", got, v2)
	})

	t.Run("concurrent status writes have one winner", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		key := store.StatusKey{Project: "ic/core", CommitSHA: "abc", Name: "p"}
		// From nothing, then from one shared read.
		winner := raceStatus(t, s, store.Status{Key: key})
		read, found, err := s.GetStatus(ctx, key)
		if err != nil || !found {
			t.Fatalf("get status = found %v, %v", found, err)
		}
		sameStatus(t, "after racing creates", read, winner)
		winner = raceStatus(t, s, read)
		if winner.Version != 2 {
			t.Fatalf("winner of racing updates has version %d, want 2", winner.Version)
		}
		got, _, err := s.GetStatus(ctx, key)
		if err != nil {
			t.Fatalf("get status: %v", err)
		}
		sameStatus(t, "after racing updates", got, winner)
	})
}

// expiry checks that claims, starts, executions and statuses last r and
// then count as gone.
func expiry(t *testing.T, s fullStore, clk *clock, r time.Duration) {
	ctx := context.Background()
	c := mustClaim(t, s, "d1", time.Minute)
	if err := s.Finish(ctx, "d1", c.Owner); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if _, err := s.PutStart(ctx, store.Start{Delivery: "d1", Pipeline: "p", ExecutionID: "old"}); err != nil {
		t.Fatalf("put start: %v", err)
	}
	oldExec := store.Execution{Pipeline: "p", ID: "e1", Project: "ic/core", CommitSHA: "old", Ref: "main", StartedAt: clk.Now()}
	if _, err := s.PutExecution(ctx, oldExec); err != nil {
		t.Fatalf("put execution: %v", err)
	}
	key := store.StatusKey{Project: "ic/core", CommitSHA: "abc", Name: "p"}
	old, err := s.PutStatus(ctx, store.Status{Key: key, ExecutionID: "e1", State: "STARTED"})
	if err != nil {
		t.Fatalf("put status: %v", err)
	}

	clk.Advance(r - time.Minute)
	if got := mustClaim(t, s, "d1", time.Minute); got.State != store.Done {
		t.Fatalf("claim just before retention ends = %+v, want Done", got)
	}
	if _, found, err := s.GetStart(ctx, "d1", "p"); err != nil || !found {
		t.Fatalf("get start just before retention ends = found %v, %v; want found", found, err)
	}
	if _, found, err := s.GetExecution(ctx, "p", "e1"); err != nil || !found {
		t.Fatalf("get execution just before retention ends = found %v, %v; want found", found, err)
	}
	if got, found, err := s.GetStatus(ctx, key); err != nil || !found || got.Version != 1 {
		t.Fatalf("get status just before retention ends = %+v, found %v, %v; want version 1", got, found, err)
	}

	clk.Advance(2 * time.Minute)
	if got := mustClaim(t, s, "d1", time.Minute); got.State != store.Claimed || got.Retry {
		t.Fatalf("claim after retention = %+v, want a fresh Claimed", got)
	}
	if _, found, err := s.GetStart(ctx, "d1", "p"); err != nil || found {
		t.Fatalf("get start after retention = found %v, %v; want not found", found, err)
	}
	if err := s.MarkPosted(ctx, "d1", "p"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("mark posted after retention = %v, want ErrNotFound", err)
	}
	got, err := s.PutStart(ctx, store.Start{Delivery: "d1", Pipeline: "p", ExecutionID: "new"})
	if err != nil || got.ExecutionID != "new" {
		t.Fatalf("put start after retention = %+v, %v; want the new start", got, err)
	}

	if _, found, err := s.GetExecution(ctx, "p", "e1"); err != nil || found {
		t.Fatalf("get execution after retention = found %v, %v; want not found", found, err)
	}
	// The expired record is not merged with: a later start, other fields.
	newExec := store.Execution{Pipeline: "p", ID: "e1", CommitSHA: "new", StartedAt: clk.Now()}
	if got, err := s.PutExecution(ctx, newExec); err != nil {
		t.Fatalf("put execution after retention: %v", err)
	} else {
		sameExecution(t, "put execution after retention", got, newExec)
	}
	if got, found, err := s.GetExecution(ctx, "p", "e1"); err != nil || !found {
		t.Fatalf("get execution after the new put = found %v, %v", found, err)
	} else {
		sameExecution(t, "get execution after the new put", got, newExec)
	}

	if got, found, err := s.GetStatus(ctx, key); err != nil || found || got != (store.Status{Key: key}) {
		t.Fatalf("get status after retention = %+v, found %v, %v; want not found", got, found, err)
	}
	if _, err := s.PutStatus(ctx, old); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("put status over an expired version = %v, want ErrConflict", err)
	}
	fresh, err := s.PutStatus(ctx, store.Status{Key: key, ExecutionID: "e2", State: "SUCCEEDED"})
	if err != nil || fresh.Version != 1 {
		t.Fatalf("put status anew after retention = %+v, %v; want version 1", fresh, err)
	}
	if got, found, err := s.GetStatus(ctx, key); err != nil || !found {
		t.Fatalf("get status after the new put = found %v, %v", found, err)
	} else {
		sameStatus(t, "get status after the new put", got, fresh)
	}
}

// race claims key from 20 goroutines at once.
func race(t *testing.T, s Store, key string, lease time.Duration) (claimed []store.Claim, busy int) {
	var wg sync.WaitGroup
	got := make([]store.Claim, 20)
	errs := make([]error, 20)
	start := make(chan struct{})
	for i := range got {
		wg.Go(func() {
			<-start
			got[i], errs[i] = s.Claim(context.Background(), key, lease)
		})
	}
	close(start)
	wg.Wait()
	for i, c := range got {
		if errs[i] != nil {
			t.Fatalf("claim %d: %v", i, errs[i])
		}
		switch c.State {
		case store.Claimed:
			claimed = append(claimed, c)
		case store.Busy:
			busy++
		}
	}
	return claimed, busy
}

// raceStatus writes from from 20 goroutines at once, each with its own
// description, and returns what the one that won wrote.
func raceStatus(t *testing.T, s fullStore, from store.Status) store.Status {
	t.Helper()
	var wg sync.WaitGroup
	got := make([]store.Status, 20)
	errs := make([]error, 20)
	start := make(chan struct{})
	for i := range got {
		wg.Go(func() {
			<-start
			st := from
			st.State, st.Description = "STARTED", "writer "+itoa(int64(i))
			got[i], errs[i] = s.PutStatus(context.Background(), st)
		})
	}
	close(start)
	wg.Wait()
	var won []store.Status
	for i, err := range errs {
		switch {
		case err == nil:
			if got[i].Version != from.Version+1 || got[i].Description != "writer "+itoa(int64(i)) {
				t.Fatalf("put status %d returned %+v, want its own write at version %d", i, got[i], from.Version+1)
			}
			won = append(won, got[i])
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("put status %d: %v", i, err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("20 writes from version %d at once: %d won; want exactly 1", from.Version, len(won))
	}
	return won[0]
}

func mustPutExecution(t *testing.T, s fullStore, e, want store.Execution) {
	t.Helper()
	got, err := s.PutExecution(context.Background(), e)
	if err != nil {
		t.Fatalf("put execution %+v: %v", e, err)
	}
	sameExecution(t, "put execution", got, want)
}

func sameExecution(t *testing.T, what string, got, want store.Execution) {
	t.Helper()
	if !got.StartedAt.Equal(want.StartedAt) {
		t.Fatalf("%s: StartedAt = %v, want %v", what, got.StartedAt, want.StartedAt)
	}
	got.StartedAt, want.StartedAt = time.Time{}, time.Time{}
	if got != want {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

func sameStatus(t *testing.T, what string, got, want store.Status) {
	t.Helper()
	for _, tt := range []struct {
		name      string
		got, want *time.Time
	}{
		{"ExecutionStart", &got.ExecutionStart, &want.ExecutionStart},
		{"At", &got.At, &want.At},
		{"Began", &got.Began, &want.Began},
	} {
		if !tt.got.Equal(*tt.want) {
			t.Fatalf("%s: %s = %v, want %v", what, tt.name, *tt.got, *tt.want)
		}
		*tt.got, *tt.want = time.Time{}, time.Time{}
	}
	if got != want {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

func mustClaim(t *testing.T, s Store, key string, lease time.Duration) store.Claim {
	t.Helper()
	c, err := s.Claim(context.Background(), key, lease)
	if err != nil {
		t.Fatalf("claim %s: %v", key, err)
	}
	return c
}

func sameStart(t *testing.T, what string, got, want store.Start) {
	t.Helper()
	if !got.StartedAt.Equal(want.StartedAt) {
		t.Fatalf("%s: StartedAt = %v, want %v", what, got.StartedAt, want.StartedAt)
	}
	got.StartedAt, want.StartedAt = time.Time{}, time.Time{}
	if got != want {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

// TestDynamoItems checks what lands in the table: the TTL attribute must be
// a number of epoch seconds, or DynamoDB never deletes the item.
func TestDynamoItems(t *testing.T) {
	ctx := context.Background()
	client := testenv.DynamoClient(t)
	table := testenv.CreateTable(t, client)
	clk := newClock()
	d := store.NewDynamo(client, table)
	d.Now = clk.Now

	c := mustClaim(t, d, "abc", time.Minute)
	if _, err := d.PutStart(ctx, store.Start{Delivery: "abc", Pipeline: "core-pipeline", ExecutionID: "e"}); err != nil {
		t.Fatalf("put start: %v", err)
	}
	want := clk.Now().Add(store.DefaultRetention).Unix()
	for _, sk := range []string{"claim", "start#core-pipeline"} {
		item := getItem(t, client, table, "delivery#abc", sk)
		if n, ok := item["expires_at"].(*types.AttributeValueMemberN); !ok || n.Value != itoa(want) {
			t.Errorf("%s: expires_at = %#v, want number %d", sk, item["expires_at"], want)
		}
	}

	clk.Advance(time.Hour)
	if err := d.Finish(ctx, "abc", c.Owner); err != nil {
		t.Fatalf("finish: %v", err)
	}
	item := getItem(t, client, table, "delivery#abc", "claim")
	want = clk.Now().Add(store.DefaultRetention).Unix()
	if n, ok := item["expires_at"].(*types.AttributeValueMemberN); !ok || n.Value != itoa(want) {
		t.Errorf("finished claim: expires_at = %#v, want number %d (kept from the finish)", item["expires_at"], want)
	}
}

// TestDynamoExecutionStatusItems checks the keys and attributes of
// executions and statuses as docs/architecture.md and docs/statuses.md describe them.
func TestDynamoExecutionStatusItems(t *testing.T) {
	ctx := context.Background()
	client := testenv.DynamoClient(t)
	table := testenv.CreateTable(t, client)
	clk := newClock()
	d := store.NewDynamo(client, table)
	d.Now = clk.Now

	e := store.Execution{Pipeline: "core-pipeline", ID: "exec-1", Project: "ic/core", CommitSHA: "0123abcd", StartedAt: clk.Now().Add(5)}
	if _, err := d.PutExecution(ctx, e); err != nil {
		t.Fatalf("put execution: %v", err)
	}
	key := store.StatusKey{Project: "ic/core", CommitSHA: "0123abcd", Name: "core-pipeline/Build"}
	if _, err := d.PutStatus(ctx, store.Status{Key: key, ExecutionID: "exec-1", State: "STARTED", At: clk.Now()}); err != nil {
		t.Fatalf("put status: %v", err)
	}

	exp := itoa(clk.Now().Add(store.DefaultRetention).Unix())
	item := getItem(t, client, table, "execution#core-pipeline#exec-1", "execution")
	wantAttrs(t, "execution", item, map[string]types.AttributeValue{
		"expires_at": &types.AttributeValueMemberN{Value: exp},
		"project":    &types.AttributeValueMemberS{Value: "ic/core"},
		"commit_sha": &types.AttributeValueMemberS{Value: "0123abcd"},
		"started_at": &types.AttributeValueMemberS{Value: "2026-03-02T10:00:00.000000005Z"},
	}, "ref")
	item = getItem(t, client, table, "status#ic/core#0123abcd#core-pipeline/Build", "status#")
	wantAttrs(t, "status", item, map[string]types.AttributeValue{
		"expires_at":   &types.AttributeValueMemberN{Value: exp},
		"version":      &types.AttributeValueMemberN{Value: "1"},
		"posted":       &types.AttributeValueMemberBOOL{Value: false},
		"execution_id": &types.AttributeValueMemberS{Value: "exec-1"},
		"state":        &types.AttributeValueMemberS{Value: "STARTED"},
		"at":           &types.AttributeValueMemberS{Value: "2026-03-02T10:00:00.000000000Z"},
	}, "began", "execution_start", "ref", "description")

	// A status write keeps the record for another retention; merging into
	// an execution does not (the webhook or the first event created it).
	clk.Advance(time.Hour)
	if _, err := d.PutStatus(ctx, store.Status{Key: key, State: "SUCCEEDED", Version: 1}); err != nil {
		t.Fatalf("second put status: %v", err)
	}
	if _, err := d.PutExecution(ctx, store.Execution{Pipeline: "core-pipeline", ID: "exec-1", Ref: "main"}); err != nil {
		t.Fatalf("second put execution: %v", err)
	}
	item = getItem(t, client, table, "status#ic/core#0123abcd#core-pipeline/Build", "status#")
	wantAttrs(t, "updated status", item, map[string]types.AttributeValue{
		"expires_at": &types.AttributeValueMemberN{Value: itoa(clk.Now().Add(store.DefaultRetention).Unix())},
		"version":    &types.AttributeValueMemberN{Value: "2"},
	}, "execution_id", "at")
	item = getItem(t, client, table, "execution#core-pipeline#exec-1", "execution")
	wantAttrs(t, "merged execution", item, map[string]types.AttributeValue{
		"expires_at": &types.AttributeValueMemberN{Value: exp},
		"ref":        &types.AttributeValueMemberS{Value: "main"},
	})
}

// wantAttrs checks that item has the attributes want and lacks those named
// in absent.
func wantAttrs(t *testing.T, what string, item, want map[string]types.AttributeValue, absent ...string) {
	t.Helper()
	for name, w := range want {
		var ok bool
		switch w := w.(type) {
		case *types.AttributeValueMemberS:
			g, is := item[name].(*types.AttributeValueMemberS)
			ok = is && g.Value == w.Value
		case *types.AttributeValueMemberN:
			g, is := item[name].(*types.AttributeValueMemberN)
			ok = is && g.Value == w.Value
		case *types.AttributeValueMemberBOOL:
			g, is := item[name].(*types.AttributeValueMemberBOOL)
			ok = is && g.Value == w.Value
		}
		if !ok {
			t.Errorf("%s: %s = %#v, want %#v", what, name, item[name], w)
		}
	}
	for _, name := range absent {
		if v, ok := item[name]; ok {
			t.Errorf("%s: %s = %#v, want no such attribute", what, name, v)
		}
	}
}

func getItem(t *testing.T, client *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk},
			"sk": &types.AttributeValueMemberS{Value: sk},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil || out.Item == nil {
		t.Fatalf("get item %s/%s = %v, %v", pk, sk, out, err)
	}
	return out.Item
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
