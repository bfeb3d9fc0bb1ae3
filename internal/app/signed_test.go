package app_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/gitlabhook"
)

// signingSecret is a made-up Standard Webhooks secret of these tests.
const signingSecret = "whsec_dGhpcyBpcyBwaXBlZ2F0ZSdzIHRlc3Qga2V5IQ=="

// signedHeaders are the Standard Webhooks headers GitLab adds to a delivery of a
// hook with a signing token, signed at ts.
func signedHeaders(t *testing.T, id string, ts time.Time, body []byte) map[string]string {
	t.Helper()
	key, err := gitlabhook.SigningKey(signingSecret)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"webhook-id":        id,
		"webhook-timestamp": strconv.FormatInt(ts.Unix(), 10),
		"webhook-signature": gitlabhook.Sign(key, id, ts.Unix(), body),
	}
}

func signedWorld(t *testing.T) *world {
	w := newWorld(t, withClock)
	w.app.SigningSecret = signingSecret
	return w
}

func TestSignedDeliveryRefused(t *testing.T) {
	body := func(t *testing.T) []byte { return pushTo(t, 42, "team/core", "main") }
	tests := []struct {
		name    string
		token   string // the configured X-Gitlab-Token secret
		headers func(t *testing.T, b []byte) map[string]string
		message string
	}{
		{"unsigned", secret, func(t *testing.T, b []byte) map[string]string { return nil }, "missing webhook signature"},
		{"GitLab's unsigned webhook-id and timestamp only", secret, func(t *testing.T, b []byte) map[string]string {
			h := signedHeaders(t, "msg-1", t0, b)
			h["webhook-signature"] = ""
			return h
		}, "missing webhook signature"},
		{"wrong signature", secret, func(t *testing.T, b []byte) map[string]string {
			h := signedHeaders(t, "msg-1", t0, b)
			h["webhook-signature"] = "v1,bm90IHRoZSBzaWduYXR1cmUgb2YgdGhpcyBib2R5IQ=="
			return h
		}, "wrong webhook signature"},
		{"body signed is not the body sent", secret, func(t *testing.T, b []byte) map[string]string {
			return signedHeaders(t, "msg-1", t0, append([]byte(" "), b...))
		}, "wrong webhook signature"},
		{"stale", secret, func(t *testing.T, b []byte) map[string]string {
			return signedHeaders(t, "msg-1", t0.Add(-6*time.Minute), b)
		}, "stale webhook-timestamp"},
		{"from the future", secret, func(t *testing.T, b []byte) map[string]string {
			return signedHeaders(t, "msg-1", t0.Add(6*time.Minute), b)
		}, "stale webhook-timestamp"},
		{"signed, but the token is wrong", secret, func(t *testing.T, b []byte) map[string]string {
			h := signedHeaders(t, "msg-1", t0, b)
			h["x-gitlab-token"] = "guess"
			return h
		}, "X-Gitlab-Token"},
		{"signed, no token, and a token is configured", secret, func(t *testing.T, b []byte) map[string]string {
			h := signedHeaders(t, "msg-1", t0, b)
			h["x-gitlab-token"] = ""
			return h
		}, "X-Gitlab-Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := signedWorld(t)
			w.app.Secret = tt.token
			b := body(t)
			code, ans := w.deliver(delivery{event: "Push Hook", body: b, headers: tt.headers(t, b)})
			if code != http.StatusUnauthorized || ans.Result != "refused" || !strings.Contains(ans.Reason, tt.message) {
				t.Fatalf("got %d %+v, want 401 saying %q", code, ans, tt.message)
			}
			w.assertNoCalls()
			if !strings.Contains(w.logs.String(), tt.message) {
				t.Errorf("log does not say %q:\n%s", tt.message, w.logs)
			}
		})
	}
}

func TestSignedDeliveryStarts(t *testing.T) {
	t.Run("with the token too", func(t *testing.T) {
		w := signedWorld(t)
		b := pushTo(t, 42, "team/core", "main")
		code, ans := w.deliver(delivery{event: "Push Hook", body: b, headers: signedHeaders(t, "msg-1", t0.Add(-4*time.Minute), b)})
		if code != http.StatusOK || ans.Result != "started" || w.starts() != 1 {
			t.Fatalf("got %d %+v, %d starts", code, ans, w.starts())
		}
	})
	t.Run("signing secret only, no token", func(t *testing.T) {
		w := signedWorld(t)
		w.app.Secret = ""
		b := pushTo(t, 42, "team/core", "main")
		h := signedHeaders(t, "msg-1", t0, b)
		h["x-gitlab-token"] = ""
		code, ans := w.deliver(delivery{event: "Push Hook", body: b, headers: h})
		if code != http.StatusOK || ans.Result != "started" || w.starts() != 1 {
			t.Fatalf("got %d %+v, %d starts", code, ans, w.starts())
		}
	})
}

// A signed delivery sent again is a duplicate by its key while its timestamp is
// fresh, and refused as stale once it is not: it never starts twice.
func TestSignedDeliveryReplayed(t *testing.T) {
	tests := []struct {
		name string
		keys map[string]string // the delivery's GitLab key headers
	}{
		{"keyed by Idempotency-Key", map[string]string{"idempotency-key": "idem-1"}},
		// Without GitLab's own keys, the signed webhook-id is the key.
		{"keyed by webhook-id", map[string]string{"x-gitlab-event-uuid": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := signedWorld(t)
			b := pushTo(t, 42, "team/core", "main")
			h := signedHeaders(t, "msg-replayed", t0, b)
			for k, v := range tt.keys {
				h[k] = v
			}
			d := delivery{event: "Push Hook", body: b, headers: h}
			if code, ans := w.deliver(d); code != http.StatusOK || ans.Result != "started" {
				t.Fatalf("first: %d %+v", code, ans)
			}
			w.clock.Set(t0.Add(2 * time.Minute))
			if code, ans := w.deliver(d); code != http.StatusOK || ans.Result != "duplicate" {
				t.Fatalf("replayed within 5 minutes: %d %+v, want 200 duplicate", code, ans)
			}
			w.clock.Set(t0.Add(5*time.Minute + time.Second))
			if code, ans := w.deliver(d); code != http.StatusUnauthorized || !strings.Contains(ans.Reason, "stale") {
				t.Fatalf("replayed after 5 minutes: %d %+v, want 401 stale", code, ans)
			}
			if n := w.starts(); n != 1 {
				t.Fatalf("%d executions started, want 1", n)
			}
		})
	}
}

func TestMalformedSigningSecretRefusesAll(t *testing.T) {
	w := signedWorld(t)
	w.app.SigningSecret = "whsec_not base64!"
	b := pushTo(t, 42, "team/core", "main")
	code, ans := w.deliver(delivery{event: "Push Hook", body: b, headers: signedHeaders(t, "msg-1", t0, b)})
	if code != http.StatusUnauthorized || !strings.Contains(ans.Reason, "signing secret is malformed") {
		t.Fatalf("got %d %+v, want 401 naming the malformed secret", code, ans)
	}
	w.assertNoCalls()
}
