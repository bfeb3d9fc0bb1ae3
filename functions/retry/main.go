// Command retry is the Lambda function that consumes pipegate's retry queue: pushes
// whose pipelines or statuses could not be finished when the webhook arrived.
// It only wires; see internal/wire and internal/app.
package main

import "github.com/pipegate/pipegate/internal/wire"

func main() { wire.Start(wire.ForRetry, wire.Retry) }
