package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PutStart records s unless a start is recorded for its delivery and
// pipeline already; it returns the recorded one.
func (d *Dynamo) PutStart(ctx context.Context, s Start) (Start, error) {
	k := startKey(s.Delivery, s.Pipeline)
	for range maxRounds {
		now := clock(d.Now)
		item := map[string]types.AttributeValue{
			"pk":            k["pk"],
			"sk":            k["sk"],
			"status_posted": &types.AttributeValueMemberBOOL{Value: s.StatusPosted},
			"expires_at":    num(now.Add(retention(d.Retention)).Unix()),
		}
		for name, v := range map[string]string{
			"execution_id": s.ExecutionID,
			"service":      s.Service,
			"project":      s.Project,
			"commit_sha":   s.CommitSHA,
			"ref":          s.Ref,
		} {
			if v != "" {
				item[name] = str(v)
			}
		}
		if !s.StartedAt.IsZero() {
			item["started_at"] = str(s.StartedAt.UTC().Format(time.RFC3339Nano))
		}
		err := d.put(ctx, item, "attribute_not_exists(pk) OR expires_at <= :now", nil,
			map[string]types.AttributeValue{":now": num(now.Unix())})
		if err == nil {
			return s, nil
		}
		if !conditionFailed(err) {
			return Start{}, fmt.Errorf("put start %s/%s: %w", s.Delivery, s.Pipeline, err)
		}
		old, found, err := d.get(ctx, k, now)
		if err != nil {
			return Start{}, fmt.Errorf("put start %s/%s: %w", s.Delivery, s.Pipeline, err)
		}
		if found {
			return decodeStart(s.Delivery, s.Pipeline, old)
		}
	}
	return Start{}, fmt.Errorf("put start %s/%s: record changed under us %d times", s.Delivery, s.Pipeline, maxRounds)
}

// GetStart returns the start recorded for delivery and pipeline.
func (d *Dynamo) GetStart(ctx context.Context, delivery, pipeline string) (Start, bool, error) {
	item, found, err := d.get(ctx, startKey(delivery, pipeline), clock(d.Now))
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("get start %s/%s: %w", delivery, pipeline, err)
		}
		return Start{}, false, err
	}
	s, err := decodeStart(delivery, pipeline, item)
	if err != nil {
		return Start{}, false, fmt.Errorf("get start %s/%s: %w", delivery, pipeline, err)
	}
	return s, true, nil
}

// MarkPosted records that the pending status of a start was posted.
func (d *Dynamo) MarkPosted(ctx context.Context, delivery, pipeline string) error {
	err := d.update(ctx, startKey(delivery, pipeline),
		"SET status_posted = :t",
		"attribute_exists(pk) AND expires_at > :now", nil,
		map[string]types.AttributeValue{
			":t":   &types.AttributeValueMemberBOOL{Value: true},
			":now": num(clock(d.Now).Unix()),
		})
	if conditionFailed(err) {
		return fmt.Errorf("mark posted %s/%s: %w", delivery, pipeline, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("mark posted %s/%s: %w", delivery, pipeline, err)
	}
	return nil
}

func startKey(delivery, pipeline string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("delivery#" + delivery), "sk": str("start#" + pipeline)}
}

func decodeStart(delivery, pipeline string, item map[string]types.AttributeValue) (Start, error) {
	s := Start{
		Delivery:    delivery,
		Pipeline:    pipeline,
		ExecutionID: strOf(item["execution_id"]),
		Service:     strOf(item["service"]),
		Project:     strOf(item["project"]),
		CommitSHA:   strOf(item["commit_sha"]),
		Ref:         strOf(item["ref"]),
	}
	if b, ok := item["status_posted"].(*types.AttributeValueMemberBOOL); ok {
		s.StatusPosted = b.Value
	}
	if v := strOf(item["started_at"]); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return Start{}, fmt.Errorf("started_at: %w", err)
		}
		s.StartedAt = t
	}
	return s, nil
}
