package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

// TestDynamoStartPendingItems checks the attributes of a start and of a pending
// record as they land in the table. A start's started_at is RFC 3339 with the
// fraction's trailing zeros dropped, unlike the nine digits of every other
// time: the format starts have always been stored in.
func TestDynamoStartPendingItems(t *testing.T) {
	ctx := context.Background()
	client := testenv.DynamoClient(t)
	table := testenv.CreateTable(t, client)
	clk := newClock()
	d := store.NewDynamo(client, table)
	d.Now = clk.Now
	exp := itoa(clk.Now().Add(store.DefaultRetention).Unix())

	s := store.Start{Delivery: "abc", Pipeline: "core-pipeline", ExecutionID: "e", Service: "core", Project: "ic/core",
		CommitSHA: "0123abcd", Ref: "main", StartedAt: clk.Now().Add(120 * time.Millisecond)}
	if _, err := d.PutStart(ctx, s); err != nil {
		t.Fatalf("put start: %v", err)
	}
	wantAttrs(t, "start", getItem(t, client, table, "delivery#abc", "start#core-pipeline"), map[string]types.AttributeValue{
		"expires_at":    &types.AttributeValueMemberN{Value: exp},
		"execution_id":  &types.AttributeValueMemberS{Value: "e"},
		"service":       &types.AttributeValueMemberS{Value: "core"},
		"project":       &types.AttributeValueMemberS{Value: "ic/core"},
		"commit_sha":    &types.AttributeValueMemberS{Value: "0123abcd"},
		"ref":           &types.AttributeValueMemberS{Value: "main"},
		"started_at":    &types.AttributeValueMemberS{Value: "2026-03-02T10:00:00.12Z"},
		"status_posted": &types.AttributeValueMemberBOOL{Value: false},
	})
	if err := d.MarkPosted(ctx, "abc", "core-pipeline"); err != nil {
		t.Fatalf("mark posted: %v", err)
	}
	wantAttrs(t, "posted start", getItem(t, client, table, "delivery#abc", "start#core-pipeline"), map[string]types.AttributeValue{
		"status_posted": &types.AttributeValueMemberBOOL{Value: true},
	})
	if _, err := d.PutStart(ctx, store.Start{Delivery: "abc", Pipeline: "other"}); err != nil {
		t.Fatalf("put bare start: %v", err)
	}
	wantAttrs(t, "bare start", getItem(t, client, table, "delivery#abc", "start#other"), map[string]types.AttributeValue{
		"status_posted": &types.AttributeValueMemberBOOL{Value: false},
	}, "execution_id", "service", "project", "commit_sha", "ref", "started_at")

	if err := d.PutPending(ctx, store.Pending{Key: "abc", Job: []byte(`{"k":1}`)}); err != nil {
		t.Fatalf("put pending: %v", err)
	}
	item := getItem(t, client, table, "pending", "delivery#abc")
	wantAttrs(t, "pending", item, map[string]types.AttributeValue{
		"expires_at": &types.AttributeValueMemberN{Value: exp},
		"at":         &types.AttributeValueMemberS{Value: "2026-03-02T10:00:00.000000000Z"},
	})
	if b, ok := item["job"].(*types.AttributeValueMemberB); !ok || !bytes.Equal(b.Value, []byte(`{"k":1}`)) {
		t.Errorf("pending: job = %#v, want binary %q", item["job"], `{"k":1}`)
	}
}
