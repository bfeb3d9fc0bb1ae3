// Command pipeline-events is the Lambda function behind the EventBridge rule on
// CodePipeline's state changes: each one becomes a GitLab commit status, and a
// scheduled event runs the reconciler that repairs what lost events left behind.
// It only wires; see internal/wire and internal/app.
package main

import "github.com/pipegate/pipegate/internal/wire"

func main() { wire.Start(wire.ForPipelineEvents, wire.PipelineEvents) }
