// Command webhook is the Lambda function that receives GitLab webhooks through an
// API Gateway HTTP API or a function URL. It only wires; see internal/wire and internal/app.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pipegate/pipegate/internal/wire"
)

func main() {
	log := wire.NewLogger(os.Getenv)
	a, err := wire.ForWebhook(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("pipegate cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(a.WebhookHTTPAPI)
}
