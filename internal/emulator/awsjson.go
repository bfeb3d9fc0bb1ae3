package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// awsProtocol is what differs between the AWS JSON services the stand-ins speak:
// the X-Amz-Target prefix, the JSON version and the error shape.
type awsProtocol struct {
	target      string // X-Amz-Target prefix without the dot, e.g. "CodePipeline_20150709"
	contentType string // application/x-amz-json-1.0 or -1.1
	messageKey  string // "message", or "Message" for Secrets Manager
	// queryErrors adds X-Amzn-Query-Error ("Code;Sender"), which SQS sends because its
	// JSON protocol is compatible with its older query protocol; the SDK takes the
	// error code from it.
	queryErrors bool
}

// awsError is an error answer of an operation.
type awsError struct {
	status  int
	code    string
	message string
}

func (e *awsError) Error() string { return e.code + ": " + e.message }

func awsErrorf(status int, code, format string, args ...any) *awsError {
	return &awsError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// operation returns the operation named by X-Amz-Target and the request body, or
// writes the error AWS would answer and returns ok false.
func (p awsProtocol) operation(w http.ResponseWriter, r *http.Request) (op string, body []byte, ok bool) {
	if r.Method != http.MethodPost {
		p.writeError(w, awsErrorf(http.StatusMethodNotAllowed, "UnknownOperationException", "method %s not allowed", r.Method))
		return "", nil, false
	}
	prefix, op, found := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	if !found || prefix != p.target || op == "" {
		p.writeError(w, awsErrorf(http.StatusBadRequest, "UnknownOperationException", "unknown X-Amz-Target %q", r.Header.Get("X-Amz-Target")))
		return "", nil, false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		p.writeError(w, awsErrorf(http.StatusBadRequest, "SerializationException", "read body: %v", err))
		return "", nil, false
	}
	return op, body, true
}

// decode unmarshals a request body into in.
func (p awsProtocol) decode(body []byte, in any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, in); err != nil {
		return awsErrorf(http.StatusBadRequest, "SerializationException", "decode request: %v", err)
	}
	return nil
}

// fault answers with f; a hanging fault holds the request until the client gives up.
func (p awsProtocol) fault(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.Hang {
		hang(r)
		return
	}
	f.addHeaders(w)
	p.writeError(w, &awsError{status: f.Status, code: f.Code, message: f.Message})
}

// respond writes out as the operation's answer, or err as an AWS error.
func (p awsProtocol) respond(w http.ResponseWriter, out any, err error) {
	if err != nil {
		ae, ok := err.(*awsError)
		if !ok {
			ae = awsErrorf(http.StatusInternalServerError, "InternalFailure", "%v", err)
		}
		p.writeError(w, ae)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		p.writeError(w, awsErrorf(http.StatusInternalServerError, "InternalFailure", "encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", p.contentType)
	w.Header().Set("X-Amzn-RequestId", "00000000-0000-4000-8000-000000000000")
	w.Write(b)
}

func (p awsProtocol) writeError(w http.ResponseWriter, e *awsError) {
	if e.status == 0 {
		e.status = http.StatusInternalServerError // a Fault written without a status
	}
	if p.queryErrors && w.Header().Get("X-Amzn-Query-Error") == "" {
		party := "Sender"
		if e.status >= 500 {
			party = "Receiver"
		}
		w.Header().Set("X-Amzn-Query-Error", e.code+";"+party)
	}
	b, _ := json.Marshal(map[string]string{"__type": e.code, p.messageKey: e.message})
	w.Header().Set("Content-Type", p.contentType)
	w.WriteHeader(e.status)
	w.Write(b)
}

// awsTime is a timestamp as AWS JSON protocols send it: epoch seconds.
func awsTime(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}

// awsUUID makes the n-th id of a stand-in look like the UUIDs AWS hands out, in a
// predictable order so tests can name them.
func awsUUID(kind byte, n int) string {
	return fmt.Sprintf("%08x-0000-4000-8%03x-%012x", n, kind, n)
}
