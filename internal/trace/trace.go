// Package trace is the one place that knows AWS X-Ray (its Go SDK is in maintenance
// mode: keeping it here makes it cheap to swap for OpenTelemetry).
//
// Everything here is a no-op when there is nothing to attach a subsegment to: no
// segment in the context and no Lambda trace header (tests, local runs, a Lambda
// cold start's INIT phase). The SDK would otherwise log "context missing" on every
// call, or panic with AWS_XRAY_CONTEXT_MISSING=RUNTIME_ERROR.
// AWS_XRAY_SDK_DISABLED=true turns all of it off.
package trace

import (
	"context"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-xray-sdk-go/instrumentation/awsv2"
	"github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/smithy-go/middleware"
)

// xrayInitialize is the id of the middleware with which the X-Ray SDK begins a
// subsegment per AWS call (instrumentation/awsv2).
const xrayInitialize = "XRayInitializeMiddlewareAfter"

// active reports whether ctx carries something a subsegment can hang from.
func active(ctx context.Context) bool {
	if xray.SdkDisabled() {
		return false
	}
	if xray.GetSegment(ctx) != nil {
		return true
	}
	h, _ := ctx.Value(xray.LambdaTraceHeaderKey).(string)
	return h != ""
}

// AWS adds a subsegment per call to every client built from cfg.
func AWS(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		var add []func(*middleware.Stack) error
		awsv2.AWSV2Instrumentor(&add)
		for _, f := range add {
			if err := f(stack); err != nil {
				return err
			}
		}
		// The SDK's deserialize middleware does nothing without the subsegment that
		// its initialize middleware begins, so gating that one is enough.
		m, ok := stack.Initialize.Get(xrayInitialize)
		if !ok {
			return nil
		}
		_, err := stack.Initialize.Swap(xrayInitialize, gatedInitialize{m})
		return err
	})
}

type gatedInitialize struct {
	traced middleware.InitializeMiddleware
}

func (g gatedInitialize) ID() string { return g.traced.ID() }

func (g gatedInitialize) HandleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
	middleware.InitializeOutput, middleware.Metadata, error,
) {
	if !active(ctx) {
		return next.HandleInitialize(ctx, in)
	}
	return g.traced.HandleInitialize(ctx, in, next)
}

// HTTPClient returns a copy of base (nil: a default client) that records a
// subsegment per request, and passes the trace header on.
func HTTPClient(base *http.Client) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	plain := c.Transport
	if plain == nil {
		plain = http.DefaultTransport
	}
	c.Transport = gatedTransport{plain: plain, traced: xray.RoundTripper(plain)}
	return c
}

type gatedTransport struct{ plain, traced http.RoundTripper }

func (t gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !active(r.Context()) {
		return t.plain.RoundTrip(r)
	}
	return t.traced.RoundTrip(r)
}

// Start begins a subsegment named name, annotated (indexed, searchable in X-Ray) with
// annotations, e.g. the delivery's ids. Call end with the outcome to close it.
func Start(ctx context.Context, name string, annotations map[string]string) (_ context.Context, end func(err error)) {
	if !active(ctx) {
		return ctx, func(error) {}
	}
	ctx, seg := xray.BeginSubsegment(ctx, name)
	if seg == nil {
		return ctx, func(error) {}
	}
	for k, v := range annotations {
		_ = seg.AddAnnotation(annotationKey(k), v) // fails only for non-scalar values
	}
	return ctx, seg.Close
}

// annotationKey maps k to the characters X-Ray accepts in an annotation key
// (letters, digits, underscores); it drops annotations with any other.
func annotationKey(k string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, k)
}

// Handler wraps a Lambda handler in a subsegment: span names it (and annotates it)
// from the input, and it ends with the handler's error, or, when the handler
// answered without one, with failed's verdict on the answer (failed may be nil):
// a handler that reports a failure in its answer rather than as an error (the
// webhook's 202 "queued", the retry consumer's batch item failures) still shows
// as one.
func Handler[In, Out any](h func(context.Context, In) (Out, error), span func(In) (string, map[string]string), failed func(Out) error) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		name, annotations := span(in)
		ctx, end := Start(ctx, name, annotations)
		out, err := h(ctx, in)
		switch {
		case err != nil:
			end(err)
		case failed != nil:
			end(failed(out))
		default:
			end(nil)
		}
		return out, err
	}
}
