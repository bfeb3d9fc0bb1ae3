// Command pipeline-events is the Lambda function behind the EventBridge rule on
// CodePipeline's state changes: each one becomes a GitLab commit status, and a
// scheduled event runs the reconciler that repairs what lost events left behind.
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
	a, err := wire.ForPipelineEvents(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("pipegate cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(a.PipelineEvent)
}
