package gitlabhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Signed deliveries follow the Standard Webhooks specification (standardwebhooks.com),
// which GitLab implements with a webhook's "signing token": the headers webhook-id,
// webhook-timestamp (unix seconds) and webhook-signature, a space-separated list of
// "<version>,<base64>" of which "v1" is HMAC-SHA256 over "id.timestamp.body", keyed
// with the base64-decoded part of a "whsec_<base64>" secret. GitLab sends webhook-id
// and webhook-timestamp on every delivery and webhook-signature only when the hook
// has a signing token, so the signature header is what tells a signed delivery.

// SignatureTolerance is how far a signed delivery's timestamp may lie from now, on
// either side: the specification's 5 minutes. Older is a replay (or a clock out of
// step) and refused; a repeated delivery inside it is a duplicate by its key.
const SignatureTolerance = 5 * time.Minute

// SigningSecretPrefix starts a Standard Webhooks secret.
const SigningSecretPrefix = "whsec_"

// The refusals of a signed delivery: each is a 401, and its text is the answer's
// reason, in words a GitLab user understands.
var (
	ErrUnsigned = errors.New("missing webhook signature: this hook must be signed " +
		"(set its signing token in GitLab); webhook-id, webhook-timestamp and webhook-signature are required")
	ErrStaleSignature = errors.New("stale webhook-timestamp: the delivery was signed more than 5 minutes " +
		"from now (a replayed delivery, or a clock out of step)")
	ErrWrongSignature = errors.New("wrong webhook signature: no v1 signature matches pipegate's signing secret")
	// ErrSigningSecret is pipegate's own misconfiguration; it refuses everything.
	ErrSigningSecret = errors.New("pipegate's signing secret is malformed (want whsec_ and base64): " +
		"refusing every delivery")
)

// SigningKey is the HMAC key of a "whsec_<base64>" secret. Like the specification's
// reference libraries it takes the base64 without its prefix too; standard base64
// with padding, as the specification writes secrets.
func SigningKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SigningSecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, ErrSigningSecret
	}
	return key, nil
}

// Sign is the v1 signature of a delivery: "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body" under key. It is what GitLab computes; tests and the local
// tool sign with it.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(timestamp, 10), body))
}

func mac(key []byte, id, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks a delivery's Standard Webhooks signature against secret at
// time now: the three headers present, the timestamp within SignatureTolerance of
// now, and one of the space-separated v1 signatures the HMAC of "id.timestamp.body"
// (compared in constant time; other versions are ignored, as the specification
// asks). The timestamp is checked first so that a replay is told as one; it is
// part of what is signed, so it cannot be moved without the secret.
func VerifySignature(h http.Header, body []byte, secret string, now time.Time) error {
	key, err := SigningKey(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return ErrUnsigned
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w (webhook-timestamp %.40q is not unix seconds)", ErrUnsigned, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return ErrStaleSignature
	}
	want := mac(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrWrongSignature
}

// Verify authenticates a delivery with what pipegate is configured with: with a
// signing secret, the signature is required; with a token, X-Gitlab-Token must
// match it too. GitLab sends both when a hook has both, so a team that turns signing
// on keeps its token as a second check. With neither, everything is refused
// (ErrUnauthorized): pipegate fails closed.
func Verify(h http.Header, body []byte, token, signingSecret string, now time.Time) error {
	if token == "" && signingSecret == "" {
		return ErrUnauthorized
	}
	if signingSecret != "" {
		if err := VerifySignature(h, body, signingSecret, now); err != nil {
			return err
		}
	}
	if token != "" {
		return Authenticate(h, token)
	}
	return nil
}
