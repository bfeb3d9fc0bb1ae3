package store_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

// faultyDynamo is the production DynamoDB store (NewDynamoFromConfig, with its
// own retryer) on a fresh dynalite table, behind a proxy that injects faults.
func faultyDynamo(t *testing.T) (*store.Dynamo, *emulator.Proxy) {
	t.Helper()
	var proxy *emulator.Proxy
	cfg, table := testenv.DynamoThrough(t, func(dynalite string) http.Handler {
		p, err := emulator.NewProxy(dynalite)
		if err != nil {
			t.Fatal(err)
		}
		proxy = p
		return p
	})
	return store.NewDynamoFromConfig(cfg, table), proxy
}

// TestDynamoClaimAnswerLost: the claim's conditional write lands, its answer is
// lost, and the SDK's retry of the same write fails its condition on the claim
// it made itself. The claimer must still know it holds the delivery: otherwise
// the first delivery of a push is answered "duplicate" and nothing starts.
func TestDynamoClaimAnswerLost(t *testing.T) {
	for _, tc := range []struct {
		name     string
		takeOver bool // an expired claim is there: the second PutItem takes it over
	}{
		{"fresh claim", false},
		{"take-over of an expired claim", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d, proxy := faultyDynamo(t)
			clk := newClock()
			d.Now = clk.Now
			if tc.takeOver {
				if c, err := d.Claim(ctx, "k", time.Second); err != nil || c.State != store.Claimed {
					t.Fatalf("first claim: %+v %v", c, err)
				}
				clk.Advance(time.Minute)
				proxy.PassNext("PutItem", 1) // the create fails its condition for real
			}
			proxy.LoseNext("PutItem", 1, emulator.ServerError)
			c, err := d.Claim(ctx, "k", time.Minute)
			if err != nil {
				t.Fatalf("claim: %v", err)
			}
			if c.State != store.Claimed || c.Owner == "" || c.Retry != tc.takeOver {
				t.Fatalf("claim %+v, want claimed (retry %v): the lost answer hid our own claim", c, tc.takeOver)
			}
			// The claim is really ours: we can finish it, and then it is done.
			if err := d.Finish(ctx, "k", c.Owner); err != nil {
				t.Fatalf("finish our own claim: %v", err)
			}
			if again, err := d.Claim(ctx, "k", time.Minute); err != nil || again.State != store.Done {
				t.Fatalf("claim after finish: %+v %v, want done", again, err)
			}
			if n := proxy.Calls("PutItem"); n < 2 {
				t.Fatalf("%d PutItem calls: the lost answer was not retried", n)
			}
		})
	}
}

// TestDynamoCallsBounded: a DynamoDB that hangs costs each call its own
// deadline, even when the caller's context has none: the webhook must answer
// GitLab within 10 s whatever the table does.
func TestDynamoCallsBounded(t *testing.T) {
	d, proxy := faultyDynamo(t)
	d.CallTimeout = 50 * time.Millisecond
	for _, op := range []string{"PutItem", "GetItem", "UpdateItem", "Query", "DeleteItem"} {
		proxy.FailNext(op, 100, emulator.Hang)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"Claim":         func() error { _, err := d.Claim(ctx, "k", time.Minute); return err },
		"Finish":        func() error { return d.Finish(ctx, "k", "owner") },
		"Release":       func() error { return d.Release(ctx, "k", "owner") },
		"PutStart":      func() error { _, err := d.PutStart(ctx, store.Start{Delivery: "k", Pipeline: "p"}); return err },
		"GetExecution":  func() error { _, _, err := d.GetExecution(ctx, "p", "e"); return err },
		"PutPending":    func() error { return d.PutPending(ctx, store.Pending{Key: "k", Job: []byte("j")}) },
		"DeletePending": func() error { return d.DeletePending(ctx, "k") },
		"Pendings":      func() error { _, err := d.Pendings(ctx, time.Now(), 0); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a hanging table: %v, want its own deadline exceeded", name, err)
		}
	}
}
