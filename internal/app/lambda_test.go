package app_test

import (
	"encoding/base64"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/app"
)

// TestHTTPAPIDelivery is the one adapter from an API Gateway event to a delivery,
// which the webhook function, pipegate explain and pipegate invoke share.
func TestHTTPAPIDelivery(t *testing.T) {
	headers := map[string]string{"x-gitlab-event": "Push Hook", "idempotency-key": "k1"}
	for _, tc := range []struct {
		name    string
		req     events.APIGatewayV2HTTPRequest
		body    string
		wantErr bool
	}{
		{"plain", events.APIGatewayV2HTTPRequest{Headers: headers, Body: `{"object_kind":"push"}`}, `{"object_kind":"push"}`, false},
		{"base64", events.APIGatewayV2HTTPRequest{Headers: headers, Body: base64.StdEncoding.EncodeToString([]byte(`{"a":1}`)), IsBase64Encoded: true}, `{"a":1}`, false},
		{"not base64", events.APIGatewayV2HTTPRequest{Headers: headers, Body: "%%%", IsBase64Encoded: true}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, body, err := app.HTTPAPIDelivery(tc.req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			// API Gateway lower-cases names; the canonical ones are what the decoder reads.
			if h.Get("X-Gitlab-Event") != "Push Hook" || h["Idempotency-Key"][0] != "k1" {
				t.Errorf("headers %v", h)
			}
		})
	}
}
