package trace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-xray-sdk-go/strategy/ctxmissing"
	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/xray"
	"github.com/aws/aws-xray-sdk-go/xraylog"

	"github.com/pipegate/pipegate/internal/testenv"
)

// captureLog routes the SDK's log (stdout by default) to a buffer for the test.
func captureLog(t *testing.T) *testenv.Buffer {
	var b testenv.Buffer
	xray.SetLogger(xraylog.NewDefaultLogger(&b, xraylog.LogLevelInfo))
	t.Cleanup(func() { xray.SetLogger(xraylog.NewDefaultLogger(os.Stdout, xraylog.LogLevelInfo)) })
	return &b
}

func xrayEnv(t *testing.T, disabled string) {
	t.Setenv("AWS_XRAY_SDK_DISABLED", disabled)
	t.Setenv("AWS_XRAY_CONTEXT_MISSING", "")
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", "")
}

// exercise does what a handler does: a subsegment with annotations, around a
// GitLab-like HTTP call and an AWS call, all of which must work.
func exercise(t *testing.T, ctx context.Context, endErr error) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "AmazonSQS.GetQueueUrl" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			io.WriteString(w, `{"QueueUrl":"https://sqs.example/q"}`)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	ctx, end := Start(ctx, "deliver", map[string]string{"delivery-id": "d1", "project": "ic/core"})

	resp, err := HTTPClient(srv.Client()).Get(srv.URL + "/api/v4/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v4/y", nil)
	resp, err = HTTPClient(nil).Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("traced HTTP call: %v %v", resp, err)
	}
	resp.Body.Close()

	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	}
	AWS(&cfg)
	out, err := sqs.NewFromConfig(cfg).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("q")})
	if err != nil || aws.ToString(out.QueueUrl) != "https://sqs.example/q" {
		t.Fatalf("traced AWS call: %v %v", out, err)
	}
	end(endErr)
	return srv.Listener.Addr().String()
}

func TestDisabled(t *testing.T) {
	xrayEnv(t, "true")
	log := captureLog(t)
	exercise(t, context.Background(), nil)
	if s := log.String(); s != "" {
		t.Errorf("X-Ray logged: %s", s)
	}
}

func TestNoSegment(t *testing.T) {
	xrayEnv(t, "false")
	log := captureLog(t)
	// Panic on a missing context, so that any subsegment begun without one shows.
	ctx, err := xray.ContextWithConfig(context.Background(), xray.Config{ContextMissingStrategy: ctxmissing.NewDefaultRuntimeErrorStrategy()})
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the SDK did not panic without a segment: this test checks nothing")
			}
		}()
		xray.BeginSubsegment(ctx, "direct")
	}()
	exercise(t, ctx, errors.New("boom"))
	if s := log.String(); s != "" {
		t.Errorf("X-Ray logged: %s", s)
	}
}

type segmentDoc struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Fault       bool              `json:"fault"`
	Annotations map[string]any    `json:"annotations"`
	AWS         map[string]any    `json:"aws"`
	HTTP        map[string]any    `json:"http"`
	Subsegments []json.RawMessage `json:"subsegments"`
}

func (d segmentDoc) children(t *testing.T) []segmentDoc {
	var out []segmentDoc
	for _, raw := range d.Subsegments {
		var c segmentDoc
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// udpDaemon is a stand-in for the X-Ray daemon: it receives segment documents
// over UDP, and the emitter that sends them there.
func udpDaemon(t *testing.T) (*net.UDPConn, xray.Emitter) {
	t.Helper()
	daemon, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { daemon.Close() })
	emitter, err := xray.NewDefaultEmitter(daemon.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	return daemon, emitter
}

// readDocument reads the next segment document the daemon receives.
func readDocument(t *testing.T, daemon *net.UDPConn) (segmentDoc, []byte) {
	t.Helper()
	// The daemon protocol: a header line, then the segment document.
	buf := make([]byte, 64<<10)
	daemon.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := daemon.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := bytes.Cut(buf[:n], []byte("\n"))
	if !ok {
		t.Fatalf("packet: %s", buf[:n])
	}
	var doc segmentDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return doc, body
}

// checkDeliver checks the subsegment exercise began, and its HTTP and AWS calls.
func checkDeliver(t *testing.T, deliver segmentDoc, host string, fault bool, body []byte) {
	t.Helper()
	if deliver.Name != "deliver" || deliver.Fault != fault || deliver.Annotations["delivery_id"] != "d1" || deliver.Annotations["project"] != "ic/core" {
		t.Errorf("subsegment: %+v", deliver)
	}
	var sawHTTP, sawAWS bool
	for _, c := range deliver.children(t) {
		switch {
		case c.Name == host && c.Namespace == "remote":
			sawHTTP = true
		case c.Name == "SQS" && c.Namespace == "aws" && c.AWS["operation"] == "GetQueueUrl":
			sawAWS = true
		}
	}
	if !sawHTTP || !sawAWS {
		t.Errorf("HTTP subsegment %v, AWS subsegment %v in %s", sawHTTP, sawAWS, body)
	}
}

// sampledDaemon is udpDaemon with X-Ray on and a sampling strategy that keeps every trace.
func sampledDaemon(t *testing.T) (*net.UDPConn, xray.Emitter, sampling.Strategy) {
	t.Helper()
	xrayEnv(t, "false")
	captureLog(t)
	daemon, emitter := udpDaemon(t)
	all, err := sampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version":2,"default":{"fixed_target":1,"rate":1},"rules":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	return daemon, emitter, all
}

func TestSubsegments(t *testing.T) {
	daemon, emitter, all := sampledDaemon(t)
	ctx, err := xray.ContextWithConfig(context.Background(), xray.Config{Emitter: emitter, SamplingStrategy: all})
	if err != nil {
		t.Fatal(err)
	}
	ctx, root := xray.BeginSegment(ctx, "pipegate-test")
	host := exercise(t, ctx, errors.New("boom"))
	root.Close(nil)

	doc, body := readDocument(t, daemon)
	subs := doc.children(t)
	if doc.Name != "pipegate-test" || len(subs) != 1 {
		t.Fatalf("segment: %s", body)
	}
	checkDeliver(t, subs[0], host, true, body)
}

// TestLambdaTraceHeader is the deployed case (Tracing: Active): no segment in the
// context, only the trace header Lambda passes with each invocation, which
// aws-lambda-go puts there. The subsegments hang from the function's segment that
// the header names, and are sent as they end. (The Runtime Interface Emulator
// passes no trace header, so the end-to-end tests cannot show this.)
func TestLambdaTraceHeader(t *testing.T) {
	xrayEnv(t, "false")
	captureLog(t)
	daemon, emitter := udpDaemon(t)
	ctx, err := xray.ContextWithConfig(context.Background(), xray.Config{Emitter: emitter})
	if err != nil {
		t.Fatal(err)
	}
	const root, parent = "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
	ctx = context.WithValue(ctx, xray.LambdaTraceHeaderKey, "Root="+root+";Parent="+parent+";Sampled=1")
	host := exercise(t, ctx, nil)

	doc, body := readDocument(t, daemon)
	var ids struct {
		TraceID  string `json:"trace_id"`
		ParentID string `json:"parent_id"`
		Type     string `json:"type"`
	}
	if err := json.Unmarshal(body, &ids); err != nil {
		t.Fatal(err)
	}
	if ids.TraceID != root || ids.ParentID != parent || ids.Type != "subsegment" {
		t.Errorf("document of trace %s, parent %s, type %s; want a subsegment of trace %s under %s: %s",
			ids.TraceID, ids.ParentID, ids.Type, root, parent, body)
	}
	checkDeliver(t, doc, host, false, body)
}

// TestHandler: each handler's subsegment is named from its input and ends with
// its real outcome: the error it returned, the failure its answer reports, or none.
func TestHandler(t *testing.T) {
	daemon, emitter, all := sampledDaemon(t)
	type answer struct{ failed bool }
	failed := func(a answer) error {
		if a.failed {
			return errors.New("answered a failure")
		}
		return nil
	}
	span := func(in string) (string, map[string]string) { return "handle-" + in, map[string]string{"input": in} }
	for _, tc := range []struct {
		in        string
		ans       answer
		err       error
		wantFault bool
	}{
		{"ok", answer{}, nil, false},
		{"error", answer{}, errors.New("AWS did not answer"), true},
		{"answered", answer{failed: true}, nil, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			ctx, err := xray.ContextWithConfig(context.Background(), xray.Config{Emitter: emitter, SamplingStrategy: all})
			if err != nil {
				t.Fatal(err)
			}
			ctx, root := xray.BeginSegment(ctx, "pipegate-test")
			var inner context.Context
			h := Handler(func(ctx context.Context, in string) (answer, error) {
				inner = ctx
				return tc.ans, tc.err
			}, span, failed)
			ans, err := h(ctx, tc.in)
			root.Close(nil)
			if ans != tc.ans || err != tc.err {
				t.Errorf("Handler changed the answer: %v %v", ans, err)
			}
			if seg := xray.GetSegment(inner); seg == nil || seg.Name != "handle-"+tc.in {
				t.Errorf("the handler ran outside its subsegment: %+v", seg)
			}
			doc, body := readDocument(t, daemon)
			subs := doc.children(t)
			if len(subs) != 1 || subs[0].Name != "handle-"+tc.in || subs[0].Fault != tc.wantFault || subs[0].Annotations["input"] != tc.in {
				t.Errorf("want one subsegment handle-%s with fault %v: %s", tc.in, tc.wantFault, body)
			}
		})
	}
}
