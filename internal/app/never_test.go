package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/gitlabhook"
)

// TestInputThatCanNeverSucceed: deliveries that no retry could ever finish get
// a clear answer now and change nothing, instead of a 202 and a trip through the
// retry queue into the dead-letter queue.
func TestInputThatCanNeverSucceed(t *testing.T) {
	tagNoCommit := payload(t, "webhook_tag_push.json", func(m map[string]any) {
		project(m, 42, "team/core")
		m["ref"] = "refs/tags/v1.0.0"
		m["checkout_sha"] = nil
	})
	badSHA := pushTo(t, 42, "team/core", "main", func(m map[string]any) { m["checkout_sha"] = "not-a-commit" })
	tests := []struct {
		name   string
		body   []byte
		event  string
		code   int
		result app.Result
		reason string
	}{
		{"tag push with checkout_sha null", tagNoCommit, "Tag Push Hook", http.StatusOK, "ignored", "names no commit"},
		{"push whose commit is no commit id", badSHA, "Push Hook", http.StatusBadRequest, "refused", "is not a commit id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, withStore(dynamoStore(t)))
			code, ans := w.deliver(delivery{event: tt.event, body: tt.body})
			if code != tt.code || ans.Result != tt.result || !strings.Contains(ans.Reason, tt.reason) {
				t.Fatalf("answer %d %+v, want %d %s saying %q", code, ans, tt.code, tt.result, tt.reason)
			}
			w.nothingDone(t)
		})
	}

	t.Run("Idempotency-Key longer than a table key", func(t *testing.T) {
		w := newWorld(t, withStore(dynamoStore(t)))
		long := strings.Repeat("k", 3000)
		d := delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main"), headers: map[string]string{"idempotency-key": long}}
		code, ans := w.deliver(d)
		if code != http.StatusOK || ans.Result != "started" || len(ans.Delivery) > gitlabhook.MaxKey {
			t.Fatalf("answer %d %+v, want 200 started under a bounded key", code, ans)
		}
		if len(w.sqs.Messages()) != 0 {
			t.Errorf("queued %d messages", len(w.sqs.Messages()))
		}
		// The same long key is the same delivery.
		if _, again := w.deliver(d); again.Result != "duplicate" || again.Delivery != ans.Delivery {
			t.Errorf("again: %+v, want a duplicate of %s", again, ans.Delivery)
		}
		if w.starts() != 1 {
			t.Errorf("%d executions", w.starts())
		}
	})
}

// nothingDone checks that no pipeline started, no status was posted and
// nothing was queued.
func (w *world) nothingDone(t *testing.T) {
	t.Helper()
	if w.starts() != 0 || len(w.gl.Statuses()) != 0 || len(w.sqs.Messages()) != 0 {
		t.Errorf("executions %d, statuses %d, queued %d: want nothing", w.starts(), len(w.gl.Statuses()), len(w.sqs.Messages()))
	}
}
