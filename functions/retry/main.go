// Command retry is the Lambda function that consumes pipegate's retry queue: pushes
// whose pipelines or statuses could not be finished when the webhook arrived.
// It only wires; see internal/wire and internal/app.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pipegate/pipegate/internal/wire"
)

func main() {
	log := wire.NewLogger(os.Getenv)
	a, err := wire.ForRetry(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("pipegate cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(a.Retry)
}
