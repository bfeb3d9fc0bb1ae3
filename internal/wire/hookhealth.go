package wire

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/metrics"
)

const (
	// webhookURLVar is pipegate's webhook URL, which the template makes from the
	// HTTP API's id: the reconciler tells pipegate's hooks by it.
	webhookURLVar = "WEBHOOK_URL"
	// functionNameVar is set by Lambda itself: the metric's dimension.
	functionNameVar = "AWS_LAMBDA_FUNCTION_NAME"
)

// hookHealth is the reconciler's watch of pipegate's webhooks: on with
// WEBHOOK_URL and a GitLab that lists hooks; the DisabledHooks metric only in
// Lambda (AWS_LAMBDA_FUNCTION_NAME), where the template grants it.
func hookHealth(getenv func(string) string, cfg aws.Config, gl app.GitLab) app.HookHealth {
	lister, ok := gl.(app.HookLister)
	url := getenv(webhookURLVar)
	if !ok || url == "" {
		return app.HookHealth{}
	}
	h := app.HookHealth{WebhookURL: url, Hooks: lister}
	if fn := getenv(functionNameVar); fn != "" {
		h.Metrics = metrics.New(cfg, fn)
	}
	return h
}
