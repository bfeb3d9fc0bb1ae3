// Package awsretry holds the one retry configuration of pipegate's AWS clients.
package awsretry

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Quick is the SDK's standard retryer made quick: three attempts and at most
// 200 ms between them. pipegate must answer GitLab within 10 s, and work that still
// fails goes to the retry queue, so the SDK must not back off for seconds. opts
// adjust it further (a faster client may start from a shorter base delay).
func Quick(opts ...func(*retry.StandardOptions)) aws.Retryer {
	return retry.NewStandard(append([]func(*retry.StandardOptions){func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.MaxBackoff = 200 * time.Millisecond
	}}, opts...)...)
}
