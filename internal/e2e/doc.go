// Package e2e holds pipegate's end-to-end test: it builds the Lambda functions as
// `bootstrap` the way INTERFACE.md says (CGO_ENABLED=0 GOOS=linux -tags lambda.norpc),
// runs each under the AWS Lambda Runtime Interface Emulator (the aws-lambda-rie tool
// tracked in go.mod), and invokes them with the API Gateway and SQS events a deployed
// function receives. CodePipeline, SQS and GitLab are the in-process stand-ins of
// internal/emulator, reached through the same environment variables a deployment sets.
//
// The test runs on Linux only: the bootstrap binaries are Linux executables and the
// emulator runs them as child processes of the host.
//
//	go test -count=1 -v ./internal/e2e
//
// With -v it logs the size of each bootstrap and the INIT duration the emulator
// reports for it.
package e2e
