package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

// resultStore is the badge part of a store.
type resultStore interface {
	PutResult(ctx context.Context, r store.Result) error
	Results(ctx context.Context, service string) ([]store.Result, error)
}

// newResultStore returns an empty store on clock c with retention r (0: default).
// The results suite runs inside each backend's conformance suite (store_test.go).
type newResultStore func(t *testing.T, c *clock, r time.Duration) resultStore

const (
	resultSHA   = "9c1e4b7d2a5f8e3c6b0d9a4f7e2c5b8d1a6f3e0c"
	resultSHA2  = "f3a6d9c2e5b8a1f4d7c0e3b6a9f2d5c8e1b4a7d0"
	resultSHA3  = "0123456789abcdef0123456789abcdef01234567"
	coreService = "core"
)

func result(env, state, commit string, at time.Time) store.Result {
	return store.Result{Service: coreService, Environment: env, State: state, Commit: commit, At: at}
}

func resultConformance(t *testing.T, newStore newResultStore) {
	ctx := context.Background()

	t.Run("none", func(t *testing.T) {
		s := newStore(t, newClock(), 0)
		got, err := s.Results(ctx, coreService)
		if err != nil || len(got) != 0 {
			t.Fatalf("results of a service never deployed = %+v, %v; want none", got, err)
		}
	})

	t.Run("round trip", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		// Production first: Results orders by environment, not by arrival.
		prod := result(store.Production, "failed", resultSHA, clk.Now().Add(90*time.Second+7))
		staging := result(store.Staging, "success", resultSHA, clk.Now().Add(5))
		for _, r := range []store.Result{prod, staging} {
			if err := s.PutResult(ctx, r); err != nil {
				t.Fatalf("put %s: %v", r.Environment, err)
			}
		}
		sameResults(t, s, coreService, staging, prod)

		// Another service, whose name starts like this one's, is kept apart.
		other := store.Result{Service: "core-worker", Environment: store.Staging, State: "canceled", Commit: resultSHA2, At: clk.Now()}
		if err := s.PutResult(ctx, other); err != nil {
			t.Fatalf("put other: %v", err)
		}
		sameResults(t, s, "core-worker", other)
		sameResults(t, s, coreService, staging, prod)
	})

	t.Run("only one environment", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		r := result(store.Production, "skipped", resultSHA, clk.Now())
		if err := s.PutResult(ctx, r); err != nil {
			t.Fatalf("put: %v", err)
		}
		sameResults(t, s, coreService, r)
	})

	t.Run("newer wins", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		first := result(store.Staging, "success", resultSHA, clk.Now().Add(time.Minute))
		if err := s.PutResult(ctx, first); err != nil {
			t.Fatalf("put: %v", err)
		}
		// An older event arriving late changes nothing, nor does another result
		// of the same instant (a redelivered event).
		older := result(store.Staging, "failed", resultSHA2, clk.Now())
		same := result(store.Staging, "canceled", resultSHA2, first.At)
		for _, r := range []store.Result{older, same} {
			if err := s.PutResult(ctx, r); err != nil {
				t.Fatalf("put %s at %v: %v (an older result is not an error)", r.State, r.At, err)
			}
			sameResults(t, s, coreService, first)
		}
		// A nanosecond later is newer.
		newer := result(store.Staging, "failed", resultSHA3, first.At.Add(1))
		if err := s.PutResult(ctx, newer); err != nil {
			t.Fatalf("put newer: %v", err)
		}
		sameResults(t, s, coreService, newer)
	})

	t.Run("times in any zone", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		zone := time.FixedZone("CET", 3600)
		r := result(store.Staging, "success", resultSHA, clk.Now().In(zone).Add(3))
		if err := s.PutResult(ctx, r); err != nil {
			t.Fatalf("put: %v", err)
		}
		// An hour earlier in UTC terms, later by the wall clock of its zone: older.
		if err := s.PutResult(ctx, result(store.Staging, "failed", resultSHA2, clk.Now().Add(-time.Hour))); err != nil {
			t.Fatalf("put older: %v", err)
		}
		got, err := s.Results(ctx, coreService)
		if err != nil || len(got) != 1 {
			t.Fatalf("results = %+v, %v; want one", got, err)
		}
		if got[0].State != "success" || !got[0].At.Equal(r.At) || got[0].At.Location() != time.UTC {
			t.Fatalf("result = %+v, want success at %v in UTC", got[0], r.At)
		}
	})

	t.Run("refused", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		for _, r := range []store.Result{
			{Environment: store.Staging, State: "success", At: clk.Now()},
			{Service: coreService, Environment: "qa", State: "success", At: clk.Now()},
			{Service: coreService, Environment: "Staging", State: "success", At: clk.Now()},
			{Service: coreService, Environment: store.Production, State: "success"},
		} {
			if err := s.PutResult(ctx, r); err == nil {
				t.Errorf("put %+v: no error", r)
			}
		}
		sameResults(t, s, coreService)
	})

	t.Run("outlives retention", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, time.Hour)
		r := result(store.Production, "success", resultSHA, clk.Now())
		if err := s.PutResult(ctx, r); err != nil {
			t.Fatalf("put: %v", err)
		}
		clk.Advance(400 * 24 * time.Hour)
		sameResults(t, s, coreService, r)
		// And it still orders: the old result is not treated as gone.
		if err := s.PutResult(ctx, result(store.Production, "failed", resultSHA2, r.At.Add(-time.Second))); err != nil {
			t.Fatalf("put older: %v", err)
		}
		sameResults(t, s, coreService, r)
	})

	t.Run("racing writers", func(t *testing.T) {
		clk := newClock()
		s := newStore(t, clk, 0)
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			wg.Go(func() {
				// The newest, i = 13, is written neither first nor last.
				n := (i*7 + 3) % 20
				errs[i] = s.PutResult(ctx, result(store.Staging, "success", fmt.Sprintf("commit-%02d", n), clk.Now().Add(time.Duration(n)*time.Second)))
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		sameResults(t, s, coreService, result(store.Staging, "success", "commit-19", clk.Now().Add(19*time.Second)))
	})
}

// sameResults checks that Results of service is want, in order.
func sameResults(t *testing.T, s resultStore, service string, want ...store.Result) {
	t.Helper()
	got, err := s.Results(context.Background(), service)
	if err != nil {
		t.Fatalf("results of %s: %v", service, err)
	}
	if len(got) != len(want) {
		t.Fatalf("results of %s = %+v, want %+v", service, got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Service != w.Service || g.Environment != w.Environment || g.State != w.State || g.Commit != w.Commit || !g.At.Equal(w.At) {
			t.Fatalf("results of %s [%d] = %+v, want %+v", service, i, g, w)
		}
	}
}

// TestDynamoResultItems checks the keys and attributes of a result: no
// expires_at, so DynamoDB's TTL never deletes it.
func TestDynamoResultItems(t *testing.T) {
	ctx := context.Background()
	client := testenv.DynamoClient(t)
	table := testenv.CreateTable(t, client)
	d := store.NewDynamo(client, table)
	clk := newClock()
	d.Now = clk.Now

	if err := d.PutResult(ctx, result(store.Staging, "success", resultSHA, clk.Now().Add(5))); err != nil {
		t.Fatalf("put: %v", err)
	}
	wantAttrs(t, "result", getItem(t, client, table, "result#core", "env#staging"), map[string]types.AttributeValue{
		"service":     &types.AttributeValueMemberS{Value: "core"},
		"environment": &types.AttributeValueMemberS{Value: "staging"},
		"state":       &types.AttributeValueMemberS{Value: "success"},
		"commit_sha":  &types.AttributeValueMemberS{Value: resultSHA},
		"at":          &types.AttributeValueMemberS{Value: "2026-03-02T10:00:00.000000005Z"},
	}, "expires_at")
}
