package emulator

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// Proxy stands between an AWS client and a real implementation of an AWS JSON
// service (dynalite for DynamoDB) and injects faults per operation, the
// X-Amz-Target after its dot (PutItem, GetItem, ...). Besides the faults the
// stand-ins answer, it can lose an answer: forward the request, so that the
// write is applied, and answer the fault instead, as when a response is lost on
// the way back and the SDK retries a write that did land.
type Proxy struct {
	rp    *httputil.ReverseProxy
	proto awsProtocol
	calls faults // counts the calls

	mu     sync.Mutex
	script map[string][]step // per operation, what to do with its next calls
}

// step is what the proxy does with one call.
type step struct {
	fail  bool // answer fault without forwarding
	lose  bool // forward, then answer fault
	fault Fault
}

// NewProxy forwards to target, an http URL, speaking the protocol of DynamoDB
// (awsJson1.0, X-Amz-Target DynamoDB_20120810.*) in its own error answers.
func NewProxy(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	return &Proxy{
		rp:    httputil.NewSingleHostReverseProxy(u),
		proto: awsProtocol{target: "DynamoDB_20120810", contentType: "application/x-amz-json-1.0", messageKey: "message"},
	}, nil
}

// The scripts below queue up: PassNext(op, 1) then LoseNext(op, 1, f) lets the
// next call of op through and loses the answer of the one after.

// PassNext forwards the next n calls of op as they are.
func (p *Proxy) PassNext(op string, n int) { p.add(op, n, step{}) }

// FailNext answers the next n calls of op with f without forwarding them.
func (p *Proxy) FailNext(op string, n int, f Fault) { p.add(op, n, step{fail: true, fault: f}) }

// LoseNext forwards the next n calls of op and answers each with f instead of
// the real answer: the call took effect, the caller cannot know it.
func (p *Proxy) LoseNext(op string, n int, f Fault) { p.add(op, n, step{fault: f, lose: true}) }

// Recover drops every step still queued for op.
func (p *Proxy) Recover(op string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.script, op)
}

// Calls is how many calls of op reached the proxy.
func (p *Proxy) Calls(op string) int { return p.calls.count(op) }

func (p *Proxy) add(op string, n int, s step) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.script == nil {
		p.script = map[string][]step{}
	}
	for range n {
		p.script[op] = append(p.script[op], s)
	}
}

func (p *Proxy) next(op string) step {
	p.calls.take(op)
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.script[op]
	if len(q) == 0 {
		return step{}
	}
	p.script[op] = q[1:]
	return q[0]
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	s := p.next(op)
	switch {
	case s.fail:
		p.proto.fault(w, r, s.fault)
		return
	case !s.lose:
		p.rp.ServeHTTP(w, r)
		return
	}
	f := s.fault
	// Apply the request, then throw its answer away.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		p.proto.writeError(w, awsErrorf(http.StatusBadRequest, "SerializationException", "read body: %v", err))
		return
	}
	fwd := r.Clone(r.Context())
	fwd.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, fwd)
	p.proto.fault(w, r, f)
}
