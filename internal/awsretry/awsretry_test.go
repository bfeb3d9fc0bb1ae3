package awsretry

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

func TestQuick(t *testing.T) {
	r := Quick()
	if n := r.MaxAttempts(); n != 3 {
		t.Errorf("MaxAttempts %d, want 3", n)
	}
	// A throttling error backs off for a second by default; Quick caps every wait.
	for attempt := 1; attempt <= 3; attempt++ {
		d, err := r.RetryDelay(attempt, errors.New("retryable"))
		if err != nil || d > 200*time.Millisecond {
			t.Errorf("attempt %d: wait %v (%v), want at most 200ms", attempt, d, err)
		}
	}
	if n := Quick(func(o *retry.StandardOptions) { o.MaxAttempts = 5 }).MaxAttempts(); n != 5 {
		t.Errorf("an option does not apply: MaxAttempts %d", n)
	}
}
