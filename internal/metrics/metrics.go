// Package metrics is pipegate's thin adapter over CloudWatch's PutMetricData: the
// values the template's alarms watch (template.yaml, "Alarms").
package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/pipegate/pipegate/internal/awsretry"
)

// Namespace is where pipegate's metrics live; the template grants
// cloudwatch:PutMetricData for this namespace only (cloudwatch:namespace).
const Namespace = "pipegate"

// DimensionFunction names the function that published a value: each stack's
// pipeline-events function has its own, so two stacks in one account keep
// apart, and the template's alarm names it with !Ref PipelineEventsFunction.
const DimensionFunction = "FunctionName"

// Timeout bounds one PutMetricData: a metric must never hold up the reconciler.
const Timeout = 2 * time.Second

// Publisher puts values into Namespace, each with the dimension
// FunctionName=function.
type Publisher struct {
	api      *cloudwatch.Client
	function string
	timeout  time.Duration
}

// New builds the CloudWatch client from cfg with the quick retryer of the other
// AWS clients.
func New(cfg aws.Config, function string) *Publisher {
	api := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		o.Retryer = awsretry.Quick()
		o.RetryMaxAttempts = 0 // keep AWS_MAX_ATTEMPTS from stretching the deadline
	})
	return &Publisher{api: api, function: function, timeout: Timeout}
}

// Put publishes value (a count) as metric name now.
func (p *Publisher) Put(ctx context.Context, name string, value float64) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	_, err := p.api.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(Namespace),
		MetricData: []types.MetricDatum{{
			MetricName: aws.String(name),
			Value:      aws.Float64(value),
			Unit:       types.StandardUnitCount,
			Timestamp:  aws.Time(time.Now()),
			Dimensions: []types.Dimension{{Name: aws.String(DimensionFunction), Value: aws.String(p.function)}},
		}},
	})
	if err != nil {
		return fmt.Errorf("publish metric %s/%s: %w", Namespace, name, err)
	}
	return nil
}
