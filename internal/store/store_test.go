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

// Store is the interface internal/app declares; both types must satisfy it.
type Store = app.Store

var (
	_ Store = (*store.Memory)(nil)
	_ Store = (*store.Dynamo)(nil)
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
type newStore func(t *testing.T, c *clock, r time.Duration) Store

func TestMemory(t *testing.T) {
	conformance(t, func(t *testing.T, c *clock, r time.Duration) Store {
		m := store.NewMemory()
		m.Now, m.Retention = c.Now, r
		return m
	})
}

func TestDynamo(t *testing.T) {
	client := testenv.DynamoClient(t)
	conformance(t, func(t *testing.T, c *clock, r time.Duration) Store {
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
	conformance(t, func(t *testing.T, c *clock, r time.Duration) Store {
		d := store.NewDynamoFromConfig(cfg, testenv.CreateTable(t, client))
		d.Now, d.Retention = c.Now, r
		return d
	})
}

func conformance(t *testing.T, newStore newStore) {
	ctx := context.Background()
	const lease = 30 * time.Second

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
}

// expiry checks that claims and starts last r and then count as gone.
func expiry(t *testing.T, s Store, clk *clock, r time.Duration) {
	ctx := context.Background()
	c := mustClaim(t, s, "d1", time.Minute)
	if err := s.Finish(ctx, "d1", c.Owner); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if _, err := s.PutStart(ctx, store.Start{Delivery: "d1", Pipeline: "p", ExecutionID: "old"}); err != nil {
		t.Fatalf("put start: %v", err)
	}

	clk.Advance(r - time.Minute)
	if got := mustClaim(t, s, "d1", time.Minute); got.State != store.Done {
		t.Fatalf("claim just before retention ends = %+v, want Done", got)
	}
	if _, found, err := s.GetStart(ctx, "d1", "p"); err != nil || !found {
		t.Fatalf("get start just before retention ends = found %v, %v; want found", found, err)
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
