package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// claimItem is a delivery's claim: pk "delivery#<key>", sk "claim".
type claimItem struct {
	record
	State      string `dynamodbav:"state"`
	Owner      string `dynamodbav:"owner"`
	LeaseUntil int64  `dynamodbav:"lease_until"` // epoch milliseconds
}

func claimKey(key string) itemKey { return itemKey{PK: "delivery#" + key, SK: "claim"} }

// heldBy is the condition that the claim is owner's and in state or also.
func heldBy(owner, state, also string) expression.ConditionBuilder {
	return expression.Name("owner").Equal(expression.Value(owner)).
		And(expression.Name("state").In(expression.Value(state), expression.Value(also)))
}

// Claim takes the delivery key for lease, or tells who has it.
func (d *Dynamo) Claim(ctx context.Context, key string, lease time.Duration) (Claim, error) {
	k := claimKey(key)
	// One owner token for every round: when a write of ours lands but its answer is
	// lost, the SDK's retry of it fails its condition on our own claim, and the
	// owner read back is how we know the claim is ours.
	owner := newOwner()
	tookOver := false
	for range maxRounds {
		now := clock(d.Now)
		item := claimItem{
			record:     d.record(k, now),
			State:      stateClaimed,
			Owner:      owner,
			LeaseUntil: now.Add(lease).UnixMilli(),
		}
		err := d.put(ctx, item, absent(now))
		if err == nil {
			return Claim{State: Claimed, Owner: owner}, nil
		}
		if !conditionFailed(err) {
			return Claim{}, fmt.Errorf("claim %s: %w", key, err)
		}

		var old claimItem
		found, err := d.get(ctx, k, now, &old)
		if err != nil {
			return Claim{}, fmt.Errorf("claim %s: %w", key, err)
		}
		if !found {
			continue // gone since our write: try to create it again
		}
		if old.Owner == owner && old.State == stateClaimed {
			return Claim{State: Claimed, Owner: owner, Retry: tookOver}, nil
		}
		switch {
		case old.State == stateDone:
			return Claim{State: Done}, nil
		case old.State == stateClaimed && now.UnixMilli() < old.LeaseUntil:
			return Claim{State: Busy}, nil
		}

		// Expired or released: take it over. The condition on the old owner
		// and state lets exactly one of several takers win.
		tookOver = true
		err = d.put(ctx, item, expression.Name("owner").Equal(expression.Value(old.Owner)).
			And(expression.Name("state").Equal(expression.Value(old.State))))
		if err == nil {
			return Claim{State: Claimed, Owner: owner, Retry: true}, nil
		}
		if !conditionFailed(err) {
			return Claim{}, fmt.Errorf("claim %s: take over: %w", key, err)
		}
	}
	return Claim{}, fmt.Errorf("claim %s: record changed under us %d times", key, maxRounds)
}

// Finish marks the delivery done. Finishing twice is harmless, so an SDK
// retry of a write that did land is not mistaken for a lost claim.
func (d *Dynamo) Finish(ctx context.Context, key, owner string) error {
	now := clock(d.Now)
	done := expression.Set(expression.Name("state"), expression.Value(stateDone)).
		Set(expression.Name("expires_at"), expression.Value(d.expiresAt(now)))
	err := d.update(ctx, claimKey(key), done, heldBy(owner, stateClaimed, stateDone), nil)
	if conditionFailed(err) {
		return fmt.Errorf("finish %s: %w", key, ErrNotOwner)
	}
	if err != nil {
		return fmt.Errorf("finish %s: %w", key, err)
	}
	return nil
}

// Release gives the claim up so that the next Claim gets it at once, with
// Retry set. The record stays, to tell that next claimer about the retry.
func (d *Dynamo) Release(ctx context.Context, key, owner string) error {
	released := expression.Set(expression.Name("state"), expression.Value(stateReleased))
	err := d.update(ctx, claimKey(key), released, heldBy(owner, stateClaimed, stateReleased), nil)
	if conditionFailed(err) {
		return fmt.Errorf("release %s: %w", key, ErrNotOwner)
	}
	if err != nil {
		return fmt.Errorf("release %s: %w", key, err)
	}
	return nil
}
