package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pipegate/pipegate/internal/awsretry"
)

// DynamoAPI is the part of *dynamodb.Client that Dynamo uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// DefaultCallTimeout bounds each DynamoDB request when CallTimeout is zero. The
// webhook answers GitLab within 10 s, and a table that hangs must cost it no more
// than this per request, whatever deadline the caller's context has.
const DefaultCallTimeout = 2 * time.Second

// bounded gives every request its own deadline.
type bounded struct {
	api     DynamoAPI
	timeout func() time.Duration
}

func (b bounded) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	return b.api.GetItem(ctx, in, optFns...)
}

func (b bounded) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	return b.api.PutItem(ctx, in, optFns...)
}

func (b bounded) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	return b.api.UpdateItem(ctx, in, optFns...)
}

func (b bounded) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	return b.api.Query(ctx, in, optFns...)
}

func (b bounded) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	return b.api.DeleteItem(ctx, in, optFns...)
}

// Dynamo is a Store in a DynamoDB table with a string hash key "pk", a
// string range key "sk" and TTL on the number attribute "expires_at".
//
// Items of one delivery share pk "delivery#<key>"; the claim has sk "claim",
// each start sk "start#<pipeline>". An execution has pk
// "execution#<pipeline>#<id>" and sk "execution"; a commit status pk
// "status#<project>#<sha>#<name>" and sk "status#<ref>". The gate decisions of an
// execution share pk "gate#<pipeline>#<id>", one item each with sk
// "decision#<time>#<random>", so that a Query by pk reads them oldest first.
// A service's last results share pk "result#<service>", with sk
// "env#<environment>" and no expires_at (see PutResult).
// Every race is settled by a conditional write. DynamoDB deletes expired items
// only eventually, so items past expires_at are treated as absent.
type Dynamo struct {
	Now         func() time.Time // nil: time.Now
	Retention   time.Duration    // zero: DefaultRetention
	CallTimeout time.Duration    // each request's deadline; zero: DefaultCallTimeout

	api   DynamoAPI
	table string
}

// NewDynamo returns a Dynamo over table.
func NewDynamo(api DynamoAPI, table string) *Dynamo {
	d := &Dynamo{table: table}
	d.api = bounded{api: api, timeout: d.callTimeout}
	return d
}

func (d *Dynamo) callTimeout() time.Duration {
	if d.CallTimeout > 0 {
		return d.CallTimeout
	}
	return DefaultCallTimeout
}

// NewDynamoFromConfig returns a Dynamo whose client gives up quickly:
// callers must answer GitLab within 10 seconds.
func NewDynamoFromConfig(cfg aws.Config, table string) *Dynamo {
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.Retryer = awsretry.Quick(func(so *retry.StandardOptions) { so.BaseDelay = 25 * time.Millisecond })
	})
	return NewDynamo(client, table)
}

// claimNames names the claim attributes that are DynamoDB reserved words.
func claimNames() map[string]string {
	return map[string]string{"#state": "state", "#owner": "owner"}
}

// maxRounds bounds the read-then-write loops; each extra round means another
// writer changed the record between our read and our write.
const maxRounds = 4

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

// absent is the condition of a write that creates an item: none is there,
// or only an expired one.
const absent = "attribute_not_exists(pk) OR expires_at <= :now"

// live is the condition of a write to an existing item that has not expired.
const live = "attribute_exists(pk) AND expires_at > :now"

// PutExecution records e unless its execution is recorded already; then it
// fills the recorded one's empty fields from e and lowers its StartedAt to
// an earlier e.StartedAt. It returns the recorded execution.
func (d *Dynamo) PutExecution(ctx context.Context, e Execution) (Execution, error) {
	k := executionKey(e.Pipeline, e.ID)
	for range maxRounds {
		now := clock(d.Now)
		item := map[string]types.AttributeValue{
			"pk":         k["pk"],
			"sk":         k["sk"],
			"expires_at": num(now.Add(retention(d.Retention)).Unix()),
		}
		setStr(item, "project", e.Project)
		setStr(item, "commit_sha", e.CommitSHA)
		setStr(item, "ref", e.Ref)
		setStr(item, "trigger", e.Trigger)
		setTime(item, "started_at", e.StartedAt)
		err := d.put(ctx, item, absent, nil, map[string]types.AttributeValue{":now": num(now.Unix())})
		if err == nil {
			return e, nil
		}
		if !conditionFailed(err) {
			return Execution{}, fmt.Errorf("put execution %s/%s: %w", e.Pipeline, e.ID, err)
		}
		got, found, err := d.mergeExecution(ctx, k, e, now)
		if err != nil {
			return Execution{}, fmt.Errorf("put execution %s/%s: %w", e.Pipeline, e.ID, err)
		}
		if found {
			return got, nil
		}
		// Expired or gone since our write: try to create it again.
	}
	return Execution{}, fmt.Errorf("put execution %s/%s: record changed under us %d times", e.Pipeline, e.ID, maxRounds)
}

// mergeExecution does what merge does, in the table: if_not_exists fills
// empty attributes in one atomic update, and the condition on started_at
// makes "lower it if later" one atomic step too. found is false when no
// live item is there.
func (d *Dynamo) mergeExecution(ctx context.Context, key map[string]types.AttributeValue, e Execution, now time.Time) (Execution, bool, error) {
	// Names go through placeholders: "project", "ref" and "trigger" are reserved words.
	var sets []string
	names := map[string]string{}
	values := map[string]types.AttributeValue{":now": num(now.Unix())}
	for _, f := range []struct{ name, v string }{
		{"project", e.Project}, {"commit_sha", e.CommitSHA}, {"ref", e.Ref}, {"trigger", e.Trigger},
	} {
		if f.v != "" {
			sets = append(sets, fmt.Sprintf("#%s = if_not_exists(#%s, :%s)", f.name, f.name, f.name))
			names["#"+f.name] = f.name
			values[":"+f.name] = str(f.v)
		}
	}

	if !e.StartedAt.IsZero() {
		lowerNames := map[string]string{"#started": "started_at"}
		maps.Copy(lowerNames, names)
		lowerValues := map[string]types.AttributeValue{":started": str(formatTime(e.StartedAt))}
		maps.Copy(lowerValues, values)
		item, err := d.updateNew(ctx, key,
			"SET "+strings.Join(append(sets, "#started = :started"), ", "),
			live+" AND (attribute_not_exists(#started) OR #started > :started)", lowerNames, lowerValues)
		if err == nil {
			got, err := decodeExecution(e.Pipeline, e.ID, item)
			return got, err == nil, err
		}
		if !conditionFailed(err) {
			return Execution{}, false, err
		}
		// The stored start is as early or earlier (or the item is gone):
		// only fill.
	}

	if len(sets) == 0 {
		item, found, err := d.get(ctx, key, now)
		if err != nil || !found {
			return Execution{}, false, err
		}
		got, err := decodeExecution(e.Pipeline, e.ID, item)
		return got, err == nil, err
	}
	item, err := d.updateNew(ctx, key, "SET "+strings.Join(sets, ", "), live, names, values)
	if conditionFailed(err) {
		return Execution{}, false, nil
	}
	if err != nil {
		return Execution{}, false, err
	}
	got, err := decodeExecution(e.Pipeline, e.ID, item)
	return got, err == nil, err
}

// GetExecution returns the execution recorded for pipeline and id.
func (d *Dynamo) GetExecution(ctx context.Context, pipeline, id string) (Execution, bool, error) {
	item, found, err := d.get(ctx, executionKey(pipeline, id), clock(d.Now))
	if err != nil {
		return Execution{}, false, fmt.Errorf("get execution %s/%s: %w", pipeline, id, err)
	}
	if !found {
		return Execution{}, false, nil
	}
	e, err := decodeExecution(pipeline, id, item)
	if err != nil {
		return Execution{}, false, fmt.Errorf("get execution %s/%s: %w", pipeline, id, err)
	}
	return e, true, nil
}

// GetStatus returns the status recorded for key; when there is none, a
// Status with only Key set (Version 0).
func (d *Dynamo) GetStatus(ctx context.Context, key StatusKey) (Status, bool, error) {
	item, found, err := d.get(ctx, statusKey(key), clock(d.Now))
	if err != nil {
		return Status{Key: key}, false, fmt.Errorf("get status %s: %w", key, err)
	}
	if !found {
		return Status{Key: key}, false, nil
	}
	s, err := decodeStatus(key, item)
	if err != nil {
		return Status{Key: key}, false, fmt.Errorf("get status %s: %w", key, err)
	}
	return s, true, nil
}

// PutStatus stores s if the recorded version is still s.Version (0:
// nothing recorded) and returns s with its new Version; otherwise it
// returns ErrConflict. An SDK retry of a write that landed also reads as
// ErrConflict; the caller's re-read then finds its own write.
func (d *Dynamo) PutStatus(ctx context.Context, s Status) (Status, error) {
	now := clock(d.Now)
	k := statusKey(s.Key)
	next := s
	next.Version++
	item := map[string]types.AttributeValue{
		"pk":         k["pk"],
		"sk":         k["sk"],
		"posted":     &types.AttributeValueMemberBOOL{Value: next.Posted},
		"version":    num(next.Version),
		"expires_at": num(now.Add(retention(d.Retention)).Unix()),
	}
	setStr(item, "execution_id", s.ExecutionID)
	setStr(item, "state", s.State)
	setStr(item, "ref", s.Ref)
	setStr(item, "description", s.Description)
	setTime(item, "execution_start", s.ExecutionStart)
	setTime(item, "at", s.At)
	setTime(item, "began", s.Began)

	cond, names := absent, map[string]string(nil)
	values := map[string]types.AttributeValue{":now": num(now.Unix())}
	if s.Version != 0 {
		cond = live + " AND #version = :version"
		names = map[string]string{"#version": "version"}
		values[":version"] = num(s.Version)
	}
	err := d.put(ctx, item, cond, names, values)
	if conditionFailed(err) {
		return Status{}, fmt.Errorf("put status %s version %d: %w", s.Key, s.Version, ErrConflict)
	}
	if err != nil {
		return Status{}, fmt.Errorf("put status %s: %w", s.Key, err)
	}
	return next, nil
}

// RecordDecision keeps g for Retention: one item per call, so every evaluation
// of a gate stays on file. The random end of its sort key keeps two decisions
// of the same instant apart, and makes an SDK retry of a write that landed
// rewrite the same item rather than add one.
func (d *Dynamo) RecordDecision(ctx context.Context, g GateDecision) error {
	if err := checkDecision(g); err != nil {
		return err
	}
	now := clock(d.Now)
	g = normalDecision(g, now)
	item := map[string]types.AttributeValue{
		"pk":            str(decisionPK(g.Pipeline, g.ExecutionID)),
		"sk":            str(decisionPrefix + formatTime(g.At) + "#" + rand.Text()),
		"at":            str(formatTime(g.At)),
		"merge_request": num(g.MergeRequest),
		"expires_at":    num(now.Add(retention(d.Retention)).Unix()),
	}
	setStr(item, "verdict", g.Verdict)
	setStr(item, "commit_sha", g.Commit)
	setStr(item, "reason", g.Reason)
	setStr(item, "trigger", g.Trigger)
	if len(g.Approvers) > 0 {
		// A list, not a string set: it keeps the order the gate gave them.
		list := make([]types.AttributeValue, len(g.Approvers))
		for i, a := range g.Approvers {
			list[i] = str(a)
		}
		item["approvers"] = &types.AttributeValueMemberL{Value: list}
	}
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: item})
	if err != nil {
		return fmt.Errorf("record gate decision %s/%s: %w", g.Pipeline, g.ExecutionID, err)
	}
	return nil
}

// Decisions returns the decisions recorded for one execution of pipeline,
// oldest first (by At).
func (d *Dynamo) Decisions(ctx context.Context, pipeline, executionID string) ([]GateDecision, error) {
	now := clock(d.Now)
	in := &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     str(decisionPK(pipeline, executionID)),
			":prefix": str(decisionPrefix),
		},
		// A decision just recorded must be in the answer.
		ConsistentRead:   aws.Bool(true),
		ScanIndexForward: aws.Bool(true),
	}
	var out []GateDecision
	for {
		page, err := d.api.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("read gate decisions %s/%s: %w", pipeline, executionID, err)
		}
		for _, item := range page.Items {
			exp, err := numOf(item["expires_at"])
			if err != nil {
				return nil, fmt.Errorf("read gate decisions %s/%s: expires_at: %w", pipeline, executionID, err)
			}
			if exp <= now.Unix() {
				continue
			}
			g, err := decodeDecision(pipeline, executionID, item)
			if err != nil {
				return nil, fmt.Errorf("read gate decisions %s/%s: %w", pipeline, executionID, err)
			}
			out = append(out, g)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// decisionPrefix starts the sort key of every gate decision.
const decisionPrefix = "decision#"

func decisionPK(pipeline, executionID string) string {
	return "gate#" + pipeline + "#" + executionID
}

func decodeDecision(pipeline, executionID string, item map[string]types.AttributeValue) (GateDecision, error) {
	g := GateDecision{
		Pipeline:    pipeline,
		ExecutionID: executionID,
		Verdict:     strOf(item["verdict"]),
		Commit:      strOf(item["commit_sha"]),
		Reason:      strOf(item["reason"]),
		Trigger:     strOf(item["trigger"]),
	}
	var err error
	if g.At, err = timeOf(item["at"]); err != nil {
		return GateDecision{}, fmt.Errorf("at: %w", err)
	}
	if g.MergeRequest, err = numOf(item["merge_request"]); err != nil {
		return GateDecision{}, fmt.Errorf("merge_request: %w", err)
	}
	if l, ok := item["approvers"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			g.Approvers = append(g.Approvers, strOf(v))
		}
	}
	return g, nil
}

func (d *Dynamo) put(ctx context.Context, item map[string]types.AttributeValue, cond string, names map[string]string, values map[string]types.AttributeValue) error {
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(d.table),
		Item:                      item,
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return err
}

func (d *Dynamo) update(ctx context.Context, key map[string]types.AttributeValue, upd, cond string, names map[string]string, values map[string]types.AttributeValue) error {
	_, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       key,
		UpdateExpression:          aws.String(upd),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return err
}

// updateNew is update that returns the item as it is after the update.
func (d *Dynamo) updateNew(ctx context.Context, key map[string]types.AttributeValue, upd, cond string, names map[string]string, values map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := d.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       key,
		UpdateExpression:          aws.String(upd),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// get reads an item consistently: it decides races that a conditional write
// just lost. An item past expires_at counts as absent.
func (d *Dynamo) get(ctx context.Context, key map[string]types.AttributeValue, now time.Time) (map[string]types.AttributeValue, bool, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            key,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, err
	}
	if out.Item == nil {
		return nil, false, nil
	}
	exp, err := numOf(out.Item["expires_at"])
	if err != nil {
		return nil, false, fmt.Errorf("expires_at: %w", err)
	}
	if exp <= now.Unix() {
		return nil, false, nil
	}
	return out.Item, true, nil
}

func claimKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("delivery#" + key), "sk": str("claim")}
}

func startKey(delivery, pipeline string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("delivery#" + delivery), "sk": str("start#" + pipeline)}
}

func executionKey(pipeline, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("execution#" + pipeline + "#" + id), "sk": str("execution")}
}

func statusKey(k StatusKey) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("status#" + k.Project + "#" + k.CommitSHA + "#" + k.Name), "sk": str("status#" + k.Ref)}
}

func decodeExecution(pipeline, id string, item map[string]types.AttributeValue) (Execution, error) {
	e := Execution{
		Pipeline:  pipeline,
		ID:        id,
		Project:   strOf(item["project"]),
		CommitSHA: strOf(item["commit_sha"]),
		Ref:       strOf(item["ref"]),
		Trigger:   strOf(item["trigger"]),
	}
	var err error
	if e.StartedAt, err = timeOf(item["started_at"]); err != nil {
		return Execution{}, fmt.Errorf("started_at: %w", err)
	}
	return e, nil
}

func decodeStatus(key StatusKey, item map[string]types.AttributeValue) (Status, error) {
	s := Status{
		Key:         key,
		ExecutionID: strOf(item["execution_id"]),
		State:       strOf(item["state"]),
		Ref:         strOf(item["ref"]),
		Description: strOf(item["description"]),
	}
	if b, ok := item["posted"].(*types.AttributeValueMemberBOOL); ok {
		s.Posted = b.Value
	}
	var err error
	if s.Version, err = numOf(item["version"]); err != nil {
		return Status{}, fmt.Errorf("version: %w", err)
	}
	for name, t := range map[string]*time.Time{
		"execution_start": &s.ExecutionStart,
		"at":              &s.At,
		"began":           &s.Began,
	} {
		if *t, err = timeOf(item[name]); err != nil {
			return Status{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	return s, nil
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

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// timeFormat is RFC 3339 in UTC with all nine fraction digits: times keep
// their nanoseconds, and string order is time order, which the condition
// lowering an execution's started_at relies on.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// setTime stores t under name; a zero t is left out.
func setTime(item map[string]types.AttributeValue, name string, t time.Time) {
	if !t.IsZero() {
		item[name] = str(formatTime(t))
	}
}

// timeOf reads a time stored by setTime; a missing one reads as zero.
func timeOf(v types.AttributeValue) (time.Time, error) {
	s := strOf(v)
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// setStr stores v under name; an empty v is left out.
func setStr(item map[string]types.AttributeValue, name, v string) {
	if v != "" {
		item[name] = str(v)
	}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func strOf(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// numOf reads a number attribute; a missing one reads as 0.
func numOf(v types.AttributeValue) (int64, error) {
	if v == nil {
		return 0, nil
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("not a number: %T", v)
	}
	return strconv.ParseInt(n.Value, 10, 64)
}

// PutResult keeps r unless the result kept for its service and environment is
// as new or newer (by At): a conditional write, so a late event never
// overwrites a newer result. The item is pk "result#<service>", sk
// "env#<environment>".
//
// Results get no expires_at, unlike every other item: a service that is not
// deployed for longer than Retention still runs what it last deployed, and its
// badge must keep saying so rather than fall back to "no deploys yet". There
// are two items per routed service, each overwritten in place, so nothing piles
// up.
func (d *Dynamo) PutResult(ctx context.Context, r Result) error {
	if err := checkResult(r); err != nil {
		return err
	}
	at := str(formatTime(r.At))
	item := map[string]types.AttributeValue{
		"pk":          str(resultPK(r.Service)),
		"sk":          str(resultSK(r.Environment)),
		"service":     str(r.Service),
		"environment": str(r.Environment),
		"at":          at,
	}
	setStr(item, "state", r.State)
	setStr(item, "commit_sha", r.Commit)
	// formatTime's strings order as the times do, so "<" compares times. "at" is
	// a reserved word.
	err := d.put(ctx, item, "attribute_not_exists(pk) OR #at < :at",
		map[string]string{"#at": "at"}, map[string]types.AttributeValue{":at": at})
	if conditionFailed(err) {
		return nil // a result as new or newer is kept
	}
	if err != nil {
		return fmt.Errorf("put result %s/%s: %w", r.Service, r.Environment, err)
	}
	return nil
}

// Results returns the results kept for service: staging's, then production's,
// each only when there is one. Two GetItems rather than a Query: the webhook
// function, which serves the badge, is granted GetItem and needs nothing more.
func (d *Dynamo) Results(ctx context.Context, service string) ([]Result, error) {
	var out []Result
	for _, env := range environments() {
		got, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(d.table),
			Key: map[string]types.AttributeValue{
				"pk": str(resultPK(service)),
				"sk": str(resultSK(env)),
			},
			// A result just recorded is in the answer, as with Memory.
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, fmt.Errorf("read %s result of %s: %w", env, service, err)
		}
		if got.Item == nil {
			continue
		}
		r := Result{
			Service:     service,
			Environment: env,
			State:       strOf(got.Item["state"]),
			Commit:      strOf(got.Item["commit_sha"]),
		}
		if r.At, err = timeOf(got.Item["at"]); err != nil {
			return nil, fmt.Errorf("read %s result of %s: at: %w", env, service, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func resultPK(service string) string { return "result#" + service }
func resultSK(env string) string     { return "env#" + env }
