package wire

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pipegate/pipegate/internal/gitlab"
)

func TestHookHealthFromEnv(t *testing.T) {
	gl, err := gitlab.New("http://127.0.0.1:1", "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		env           map[string]string
		watch, metric bool
	}{
		{"in Lambda", map[string]string{"WEBHOOK_URL": "https://x/webhook", "AWS_LAMBDA_FUNCTION_NAME": "f"}, true, true},
		{"locally: logged only", map[string]string{"WEBHOOK_URL": "https://x/webhook"}, true, false},
		{"no WEBHOOK_URL: no watch", map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "f"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hookHealth(func(k string) string { return tc.env[k] }, aws.Config{Region: "eu-west-1"}, gl)
			if (h.Hooks != nil) != tc.watch || (h.WebhookURL != "") != tc.watch || (h.Metrics != nil) != tc.metric {
				t.Errorf("hookHealth = %+v, want watch %v, metric %v", h, tc.watch, tc.metric)
			}
		})
	}
}
