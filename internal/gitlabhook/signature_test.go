package gitlabhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/gitlabhook"
)

// specSign is the Standard Webhooks v1 signature written out from the
// specification, independently of gitlabhook.Sign: strip "whsec_", base64-decode
// the rest into the key, HMAC-SHA256 over "<id>.<timestamp>.<body>", base64.
func specSign(t *testing.T, secret, id string, ts int64, body string) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("test secret %q: %v", secret, err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func signed(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	return h
}

// The specification's published example (the reference libraries' tests):
// the expected signature is written here literally, not computed.
func TestSignatureKnownAnswer(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = 1614265330
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	key, err := gitlabhook.SigningKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	if got := gitlabhook.Sign(key, id, ts, []byte(body)); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	if got := specSign(t, secret, id, ts, body); got != want {
		t.Fatalf("the test's own computation = %q, want %q", got, want)
	}
	if err := gitlabhook.VerifySignature(signed(id, ts, want), []byte(body), secret, time.Unix(ts, 0)); err != nil {
		t.Fatalf("VerifySignature of the published example: %v", err)
	}
}

func TestVerifySignature(t *testing.T) {
	const (
		secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD" // 24 bytes, made up for this test
		other  = "whsec_dGhlIG90aGVyIHRlYW0ncyBzZWNyZXQhIQ=="
		id     = "4d6a1f0e-8c3b-4f1e-9a27-6b5c0d2e7f18"
		body   = `{"object_kind":"push","ref":"refs/heads/main"}`
	)
	now := time.Unix(1796169600, 0) // 2026-12-02T00:00:00Z
	ts := now.Unix() - 7
	good := specSign(t, secret, id, ts, body)
	bare := strings.TrimPrefix(secret, "whsec_")
	mac := strings.TrimPrefix(good, "v1,")

	tests := []struct {
		name   string
		header http.Header
		body   string
		secret string
		now    time.Time
		want   error // nil: accepted
	}{
		{"valid", signed(id, ts, good), body, secret, now, nil},
		{"secret without its whsec_ prefix", signed(id, ts, good), body, bare, now, nil},
		{"several signatures, the right one last", signed(id, ts, specSign(t, other, id, ts, body)+" "+good), body, secret, now, nil},
		{"several signatures, the right one first", signed(id, ts, good+" v1,AAAA"), body, secret, now, nil},
		{"rotation: signed with the old and the new secret", signed(id, ts, specSign(t, other, id, ts, body)+" "+good), body, other, now, nil},
		{"extra spaces between signatures", signed(id, ts, "  v1,AAAA   "+good+" "), body, secret, now, nil},
		{"other versions are ignored, even with the right MAC", signed(id, ts, "v2,"+mac+" v1a,"+mac), body, secret, now, gitlabhook.ErrWrongSignature},
		{"an unknown version beside the right v1", signed(id, ts, "v1a,"+mac+" "+good), body, secret, now, nil},
		{"wrong signature", signed(id, ts, "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32))), body, secret, now, gitlabhook.ErrWrongSignature},
		{"signed with another secret", signed(id, ts, specSign(t, other, id, ts, body)), body, secret, now, gitlabhook.ErrWrongSignature},
		{"body changed", signed(id, ts, good), body + " ", secret, now, gitlabhook.ErrWrongSignature},
		{"webhook-id changed", signed(id+"x", ts, good), body, secret, now, gitlabhook.ErrWrongSignature},
		{"timestamp moved (signed for another second)", signed(id, ts+1, good), body, secret, now, gitlabhook.ErrWrongSignature},
		{"signature not base64", signed(id, ts, "v1,"+mac[:10]+"!!"), body, secret, now, gitlabhook.ErrWrongSignature},
		{"signature without a version", signed(id, ts, mac), body, secret, now, gitlabhook.ErrWrongSignature},
		{"signature truncated", signed(id, ts, good[:len(good)-4]), body, secret, now, gitlabhook.ErrWrongSignature},
		{"5 minutes old: still accepted", signed(id, now.Unix()-300, specSign(t, secret, id, now.Unix()-300, body)), body, secret, now, nil},
		{"stale: 5 minutes and a second old", signed(id, now.Unix()-301, specSign(t, secret, id, now.Unix()-301, body)), body, secret, now, gitlabhook.ErrStaleSignature},
		{"replayed an hour later", signed(id, ts, good), body, secret, now.Add(time.Hour), gitlabhook.ErrStaleSignature},
		{"5 minutes in the future: still accepted", signed(id, now.Unix()+300, specSign(t, secret, id, now.Unix()+300, body)), body, secret, now, nil},
		{"future: 5 minutes and a second ahead", signed(id, now.Unix()+301, specSign(t, secret, id, now.Unix()+301, body)), body, secret, now, gitlabhook.ErrStaleSignature},
		{"timestamp far beyond any clock", signed(id, 1<<62, specSign(t, secret, id, 1<<62, body)), body, secret, now, gitlabhook.ErrStaleSignature},
		{"timestamp in milliseconds", signed(id, now.UnixMilli(), specSign(t, secret, id, now.UnixMilli(), body)), body, secret, now, gitlabhook.ErrStaleSignature},
		{"no headers", http.Header{}, body, secret, now, gitlabhook.ErrUnsigned},
		{"only GitLab's unsigned headers (a hook without signing token)", func() http.Header {
			h := signed(id, ts, "")
			h.Del("webhook-signature")
			return h
		}(), body, secret, now, gitlabhook.ErrUnsigned},
		{"no webhook-id", func() http.Header { h := signed(id, ts, good); h.Del("webhook-id"); return h }(), body, secret, now, gitlabhook.ErrUnsigned},
		{"no webhook-timestamp", func() http.Header { h := signed(id, ts, good); h.Del("webhook-timestamp"); return h }(), body, secret, now, gitlabhook.ErrUnsigned},
		{"timestamp not a number", func() http.Header {
			h := signed(id, ts, good)
			h.Set("webhook-timestamp", "2026-12-01T00:00:00Z")
			return h
		}(), body, secret, now, gitlabhook.ErrUnsigned},
		{"malformed secret: not base64", signed(id, ts, good), body, "whsec_not base64!", now, gitlabhook.ErrSigningSecret},
		{"malformed secret: prefix only", signed(id, ts, good), body, "whsec_", now, gitlabhook.ErrSigningSecret},
		{"malformed secret: empty", signed(id, ts, good), body, "", now, gitlabhook.ErrSigningSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := gitlabhook.VerifySignature(tt.header, []byte(tt.body), tt.secret, tt.now)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("VerifySignature: %v, want accepted", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("VerifySignature: %v, want %v", err, tt.want)
			}
		})
	}
}

// Verify combines the two checks: with a signing secret the signature is
// required; with a token the token is required too; with neither, nothing passes.
func TestVerify(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		token  = "s3cret-token"
		id     = "msg_1"
		body   = `{}`
	)
	now := time.Unix(1796169600, 0)
	sig := specSign(t, secret, id, now.Unix(), body)
	both := signed(id, now.Unix(), sig)
	both.Set("X-Gitlab-Token", token)
	onlySig := signed(id, now.Unix(), sig)
	onlyToken := headers("", "X-Gitlab-Token", token)
	wrongToken := signed(id, now.Unix(), sig)
	wrongToken.Set("X-Gitlab-Token", "other")
	tests := []struct {
		name           string
		header         http.Header
		token, signing string
		want           error
	}{
		{"token only, right token", onlyToken, token, "", nil},
		{"token only, signature ignored when no signing secret", onlySig, token, "", gitlabhook.ErrUnauthorized},
		{"signing only, signed", onlySig, "", secret, nil},
		{"signing only, token is no substitute", onlyToken, "", secret, gitlabhook.ErrUnsigned},
		{"both configured, both right", both, token, secret, nil},
		{"both configured, token missing", onlySig, token, secret, gitlabhook.ErrUnauthorized},
		{"both configured, token wrong", wrongToken, token, secret, gitlabhook.ErrUnauthorized},
		{"both configured, unsigned", onlyToken, token, secret, gitlabhook.ErrUnsigned},
		{"neither configured", both, "", "", gitlabhook.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := gitlabhook.Verify(tt.header, []byte(body), tt.token, tt.signing, now)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Verify: %v, want accepted", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Verify: %v, want %v", err, tt.want)
			}
		})
	}
}
