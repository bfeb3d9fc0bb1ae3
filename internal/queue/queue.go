// Package queue is pipegate's thin adapter over SQS: it puts work that failed against
// AWS or GitLab on the retry queue.
package queue

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pipegate/pipegate/internal/awsretry"
)

// Queue sends messages to one SQS queue.
type Queue struct {
	api *sqs.Client
	url string
}

// New builds the SQS client from cfg with a quick retryer: the queue is the last resort
// of a webhook that must answer GitLab within 10 s, so the SDK must not back off for
// seconds.
func New(cfg aws.Config, queueURL string) *Queue {
	api := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.Retryer = awsretry.Quick()
		o.RetryMaxAttempts = 0 // keep AWS_MAX_ATTEMPTS from stretching the budget
	})
	return &Queue{api: api, url: queueURL}
}

// Send puts body on the queue as one message.
func (q *Queue) Send(ctx context.Context, body []byte) error {
	_, err := q.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(q.url),
		MessageBody: aws.String(string(body)),
	})
	if err != nil {
		return fmt.Errorf("send message to %s: %w", q.url, err)
	}
	return nil
}
