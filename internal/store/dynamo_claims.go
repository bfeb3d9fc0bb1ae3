package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// claimNames names the claim attributes that are DynamoDB reserved words.
func claimNames() map[string]string {
	return map[string]string{"#state": "state", "#owner": "owner"}
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
		item := map[string]types.AttributeValue{
			"pk":          k["pk"],
			"sk":          k["sk"],
			"state":       str(stateClaimed),
			"owner":       str(owner),
			"lease_until": num(now.Add(lease).UnixMilli()),
			"expires_at":  num(now.Add(retention(d.Retention)).Unix()),
		}
		err := d.put(ctx, item, "attribute_not_exists(pk) OR expires_at <= :now", nil,
			map[string]types.AttributeValue{":now": num(now.Unix())})
		if err == nil {
			return Claim{State: Claimed, Owner: owner}, nil
		}
		if !conditionFailed(err) {
			return Claim{}, fmt.Errorf("claim %s: %w", key, err)
		}

		old, found, err := d.get(ctx, k, now)
		if err != nil {
			return Claim{}, fmt.Errorf("claim %s: %w", key, err)
		}
		if !found {
			continue // gone since our write: try to create it again
		}
		state, oldOwner := strOf(old["state"]), strOf(old["owner"])
		if oldOwner == owner && state == stateClaimed {
			return Claim{State: Claimed, Owner: owner, Retry: tookOver}, nil
		}
		leaseUntil, err := numOf(old["lease_until"])
		if err != nil {
			return Claim{}, fmt.Errorf("claim %s: lease_until: %w", key, err)
		}
		switch {
		case state == stateDone:
			return Claim{State: Done}, nil
		case state == stateClaimed && now.UnixMilli() < leaseUntil:
			return Claim{State: Busy}, nil
		}

		// Expired or released: take it over. The condition on the old owner
		// and state lets exactly one of several takers win.
		tookOver = true
		err = d.put(ctx, item, "#owner = :old AND #state = :state", claimNames(),
			map[string]types.AttributeValue{":old": str(oldOwner), ":state": str(state)})
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
	err := d.update(ctx, claimKey(key),
		"SET #state = :done, expires_at = :exp",
		"#owner = :owner AND #state IN (:claimed, :done)", claimNames(),
		map[string]types.AttributeValue{
			":done":    str(stateDone),
			":claimed": str(stateClaimed),
			":owner":   str(owner),
			":exp":     num(now.Add(retention(d.Retention)).Unix()),
		})
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
	err := d.update(ctx, claimKey(key),
		"SET #state = :released",
		"#owner = :owner AND #state IN (:claimed, :released)", claimNames(),
		map[string]types.AttributeValue{
			":released": str(stateReleased),
			":claimed":  str(stateClaimed),
			":owner":    str(owner),
		})
	if conditionFailed(err) {
		return fmt.Errorf("release %s: %w", key, ErrNotOwner)
	}
	if err != nil {
		return fmt.Errorf("release %s: %w", key, err)
	}
	return nil
}

func claimKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("delivery#" + key), "sk": str("claim")}
}
