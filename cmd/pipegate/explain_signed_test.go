package main

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/gitlabhook"
)

// A signing secret of the tests' own: whsec_ and the base64 of 32 bytes.
var explainSigningSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("pipegate explain signing key 32b"))

// signedPush is the sample push's API Gateway event signed as GitLab signs it
// (Standard Webhooks: v1, HMAC-SHA256 of id.timestamp.body) at signedAt, over
// signedBody (the event's own body when ""), so that a test can make it wrong.
func signedPush(t *testing.T, signedAt time.Time, signedBody string) map[string]any {
	t.Helper()
	ev := sample(t, "push.json")
	body := ev["body"].(string)
	if signedBody == "" {
		signedBody = body
	}
	key, err := gitlabhook.SigningKey(explainSigningSecret)
	if err != nil {
		t.Fatal(err)
	}
	h := ev["headers"].(map[string]any)
	h["webhook-id"] = "msg_explain_1"
	h["webhook-timestamp"] = strconv.FormatInt(signedAt.Unix(), 10)
	h["webhook-signature"] = "v1,bm90IGl0 " + gitlabhook.Sign(key, "msg_explain_1", signedAt.Unix(), []byte(signedBody))
	return ev
}

// explain checks a signed delivery as the webhook would: valid, missing, wrong,
// stale (saying whether the signature itself matches), and signed while no
// signing secret is configured.
func TestExplainSignedDeliveries(t *testing.T) {
	signing := envOf("WEBHOOK_SECRET", localSecret, "PIPEGATE_CONFIG", sampleRouting, "WEBHOOK_SIGNING_SECRET", explainSigningSecret)
	now := time.Now()
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		event  func(t *testing.T) any
		want   []string
		not    []string
	}{
		{
			name:   "signed right",
			getenv: signing,
			event:  func(t *testing.T) any { return signedPush(t, now, "") },
			want:   []string{`signature: a valid Standard Webhooks signature by WEBHOOK_SIGNING_SECRET (webhook-id "msg_explain_1")`, "core: pipeline core-pipeline"},
			not:    []string{"401"},
		},
		{
			name:   "unsigned",
			getenv: signing,
			event:  func(t *testing.T) any { return sample(t, "push.json") },
			want:   []string{"signature: missing webhook signature", "the webhook would answer 401 and do nothing"},
		},
		{
			name:   "signed over another body",
			getenv: signing,
			event:  func(t *testing.T) any { return signedPush(t, now, `{"object_kind":"push"}`) },
			want:   []string{"signature: wrong webhook signature: no v1 signature matches", "the webhook would answer 401"},
		},
		{
			name:   "signed right an hour ago (a replay)",
			getenv: signing,
			event:  func(t *testing.T) any { return signedPush(t, now.Add(-time.Hour), "") },
			want:   []string{"signature: matches WEBHOOK_SIGNING_SECRET, but it was made at", "more than 5 minutes from now: the webhook would answer 401 (a replay)"},
		},
		{
			name:   "stale and wrong",
			getenv: signing,
			event:  func(t *testing.T) any { return signedPush(t, now.Add(-time.Hour), `{}`) },
			want:   []string{"signature: stale webhook-timestamp", "the webhook would answer 401"},
			not:    []string{"matches WEBHOOK_SIGNING_SECRET"},
		},
		{
			name:   "signed, no signing secret here",
			getenv: sampleEnv,
			event:  func(t *testing.T) any { return signedPush(t, now, "") },
			want:   []string{"signature: the delivery is signed, but WEBHOOK_SIGNING_SECRET is not set"},
		},
		{
			name:   "unsigned, no signing secret here",
			getenv: sampleEnv,
			event:  func(t *testing.T) any { return sample(t, "push.json") },
			not:    []string{"signature:"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runExplain(t, tc.getenv, writeEvent(t, tc.event(t)))
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, out)
			}
			checkOutput(t, out, tc.want, append(tc.not, localSecret, strings.TrimPrefix(explainSigningSecret, "whsec_")))
		})
	}
}
