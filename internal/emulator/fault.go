// Package emulator holds local stand-ins for CodePipeline, SQS, Secrets Manager,
// CloudFormation and GitLab. Each speaks the real wire protocol, so the real aws-sdk-go-v2 clients and the
// real GitLab client talk to it unchanged; tests and `pipegate dev` use them.
package emulator

import (
	"io"
	"net/http"
	"sync"
)

// Fault is an answer a stand-in gives instead of doing the work.
type Fault struct {
	Status  int    // HTTP status code
	Code    string // AWS error code (__type), or empty for GitLab
	Message string
	Header  http.Header // extra response headers, e.g. RateLimit-Reset
	// Hang makes the stand-in hold the request until the client gives up
	// (its context is cancelled); Status and the rest are then unused.
	Hang bool
}

// Faults commonly injected.
var (
	Throttling  = Fault{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"}
	ServerError = Fault{Status: 500, Code: "InternalFailure", Message: "internal failure"}
	Unavailable = Fault{Status: 503, Code: "ServiceUnavailable", Message: "service unavailable"}
	Hang        = Fault{Hang: true}
)

// addHeaders sets the fault's extra headers on the answer.
func (f Fault) addHeaders(w http.ResponseWriter) {
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
}

// faults is a per-operation queue of faults to answer with, and a count of calls.
// The zero value is ready to use.
type faults struct {
	mu    sync.Mutex
	next  map[string][]Fault
	calls map[string]int
}

// add queues n copies of f for op.
func (fs *faults) add(op string, n int, f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.next == nil {
		fs.next = map[string][]Fault{}
	}
	for range n {
		fs.next[op] = append(fs.next[op], f)
	}
}

// clear drops the faults still queued for op: the dependency has recovered.
func (fs *faults) clear(op string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	delete(fs.next, op)
}

// take counts a call of op and returns the fault to answer it with, if one is queued.
func (fs *faults) take(op string) (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.calls == nil {
		fs.calls = map[string]int{}
	}
	fs.calls[op]++
	q := fs.next[op]
	if len(q) == 0 {
		return Fault{}, false
	}
	fs.next[op] = q[1:]
	return q[0], true
}

// count is how many calls of op were received, faulted ones included.
func (fs *faults) count(op string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.calls[op]
}

// hang blocks until the client gives up on r. The body is read first: net/http
// notices a client hanging up only once the request body has been consumed.
func hang(r *http.Request) {
	io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}
