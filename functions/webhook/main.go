// Command webhook is the Lambda function that receives GitLab webhooks through an
// API Gateway HTTP API or a function URL. It only wires; see internal/wire and internal/app.
package main

import "github.com/pipegate/pipegate/internal/wire"

func main() { wire.Start(wire.ForWebhook, wire.Webhook) }
