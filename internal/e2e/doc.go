// Package e2e holds pipegate's end-to-end test: it builds the three Lambda
// functions (webhook, retry, pipeline-events) as `bootstrap` the way they are deployed
// (CGO_ENABLED=0 GOOS=linux -tags lambda.norpc), runs each under the AWS
// Lambda Runtime Interface Emulator (the aws-lambda-rie tool tracked in go.mod),
// and invokes them with the API Gateway, SQS and EventBridge events a deployed
// function receives. CodePipeline, SQS and GitLab are the in-process stand-ins of
// internal/emulator, and the functions share one DynamoDB table in dynalite
// (internal/testenv), all reached through the same environment variables a
// deployment sets.
//
// The test runs on Linux only: the bootstrap binaries are Linux executables and the
// emulator runs them as child processes of the host. dynalite must be installed
// (scripts/test.sh does it).
//
//	go test -count=1 -v ./internal/e2e
//
// With -v it logs the size of each bootstrap and the INIT duration the emulator
// reports for it.
package e2e
