package metrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/testenv"
)

func TestPutReachesCloudWatch(t *testing.T) {
	cw := emulator.NewCloudWatch()
	p := New(testenv.AWSStandIn(t, cw), "pipegate-PipelineEventsFunction-abc")
	before := time.Now().Add(-time.Second)
	if err := p.Put(context.Background(), "DisabledHooks", 2); err != nil {
		t.Fatal(err)
	}
	got := cw.Data()
	if len(got) != 1 {
		t.Fatalf("%d values, want 1", len(got))
	}
	d := got[0]
	if d.Namespace != "pipegate" || d.MetricName != "DisabledHooks" || d.Value != 2 || d.Unit != "Count" ||
		d.Dimensions["FunctionName"] != "pipegate-PipelineEventsFunction-abc" || len(d.Dimensions) != 1 || d.Timestamp.Before(before) {
		t.Errorf("datum %+v", d)
	}
	// Zero is a value too: the alarm needs data when all is well.
	if err := p.Put(context.Background(), "DisabledHooks", 0); err != nil {
		t.Fatal(err)
	}
	if got := cw.Data(); len(got) != 2 || got[1].Value != 0 {
		t.Errorf("data %+v, want a second value 0", got)
	}
}

func TestPutErrorsAreWordedAndBounded(t *testing.T) {
	cw := emulator.NewCloudWatch()
	p := New(testenv.AWSStandIn(t, cw), "f")
	cw.FailNext("PutMetricData", 1, emulator.Fault{Status: 403, Code: "AccessDenied", Message: "not authorized to perform cloudwatch:PutMetricData"})
	err := p.Put(context.Background(), "DisabledHooks", 1)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("err = %v, want AccessDenied", err)
	}

	cw.FailNext("PutMetricData", 5, emulator.Hang)
	p.timeout = 100 * time.Millisecond
	start := time.Now()
	if err := p.Put(context.Background(), "DisabledHooks", 1); err == nil {
		t.Fatal("a hanging CloudWatch: no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Put took %v past its deadline", d)
	}
}
