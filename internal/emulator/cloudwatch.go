package emulator

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// CloudWatch is a local stand-in for CloudWatch's PutMetricData. aws-sdk-go-v2's
// CloudWatch client (service/cloudwatch v1.76) speaks Smithy RPC v2 CBOR, not the
// older query protocol: POST /service/GraniteServiceVersion20100801/operation/<Op>
// with Smithy-Protocol: rpc-v2-cbor and a CBOR body (gzip-compressed from 10 KiB:
// PutMetricData carries the requestCompression trait); errors are a CBOR map
// with __type and message, plus X-Amzn-Query-Error, since CloudWatch is
// query-compatible.
type CloudWatch struct {
	faults faults

	mu   sync.Mutex
	data []Datum
}

// Datum is one metric value received.
type Datum struct {
	Namespace, MetricName string
	Dimensions            map[string]string
	Value                 float64
	Unit                  string
	Timestamp             time.Time
}

// NewCloudWatch returns an empty stand-in.
func NewCloudWatch() *CloudWatch { return &CloudWatch{} }

// FailNext makes the next n calls of op answer f.
func (c *CloudWatch) FailNext(op string, n int, f Fault) { c.faults.add(op, n, f) }

// Calls is how many calls of op were received, faulted ones included.
func (c *CloudWatch) Calls(op string) int { return c.faults.count(op) }

// Data returns a copy of the values received, oldest first.
func (c *CloudWatch) Data() []Datum {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.data)
}

const cwPathPrefix = "/service/GraniteServiceVersion20100801/operation/"

func (c *CloudWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.URL.Path, cwPathPrefix)
	switch {
	case r.Method != http.MethodPost || !ok:
		cwError(w, http.StatusNotFound, "UnknownOperationException", "no operation at "+r.Method+" "+r.URL.Path)
		return
	case r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor":
		cwError(w, http.StatusBadRequest, "InvalidParameterValue", "missing Smithy-Protocol: rpc-v2-cbor")
		return
	}
	if f, ok := c.faults.take(op); ok {
		if f.Hang {
			hang(r)
			return
		}
		f.addHeaders(w)
		cwError(w, f.Status, f.Code, f.Message)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			cwError(w, http.StatusBadRequest, "InvalidParameterValue", "gzip: "+err.Error())
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		cwError(w, http.StatusBadRequest, "InvalidParameterValue", "read body: "+err.Error())
		return
	}
	switch op {
	case "PutMetricData":
		data, err := cwPutMetricData(raw)
		if err != nil {
			cwError(w, http.StatusBadRequest, "InvalidParameterValue", err.Error())
			return
		}
		c.mu.Lock()
		c.data = append(c.data, data...)
		c.mu.Unlock()
		cwAnswer(w, http.StatusOK, cbor.Map{})
	default:
		cwError(w, http.StatusBadRequest, "UnknownOperationException", "the stand-in does not implement "+op)
	}
}

// cwPutMetricData decodes a PutMetricData input and checks what CloudWatch
// checks of it: a namespace, and per datum a name and a value.
func cwPutMetricData(raw []byte) ([]Datum, error) {
	v, err := cbor.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("CBOR: %v", err)
	}
	in, ok := v.(cbor.Map)
	if !ok {
		return nil, fmt.Errorf("input is no map")
	}
	ns, _ := in["Namespace"].(cbor.String)
	if ns == "" || strings.HasPrefix(string(ns), "AWS/") {
		return nil, fmt.Errorf("the value %q for parameter Namespace is invalid", ns)
	}
	list, _ := in["MetricData"].(cbor.List)
	if len(list) == 0 {
		return nil, fmt.Errorf("the parameter MetricData is required")
	}
	var out []Datum
	for i, x := range list {
		m, _ := x.(cbor.Map)
		name, _ := m["MetricName"].(cbor.String)
		if name == "" {
			return nil, fmt.Errorf("the parameter MetricData.member.%d.MetricName is required", i+1)
		}
		value, err := cbor.AsFloat64(m["Value"])
		if m["Value"] == nil || err != nil {
			return nil, fmt.Errorf("the parameter MetricData.member.%d.Value is required", i+1)
		}
		d := Datum{Namespace: string(ns), MetricName: string(name), Value: value, Dimensions: map[string]string{}}
		if u, ok := m["Unit"].(cbor.String); ok {
			d.Unit = string(u)
		}
		if ts, ok := m["Timestamp"]; ok {
			if d.Timestamp, err = cbor.AsTime(ts); err != nil {
				return nil, fmt.Errorf("MetricData.member.%d.Timestamp: %v", i+1, err)
			}
		}
		dims, _ := m["Dimensions"].(cbor.List)
		for _, y := range dims {
			dm, _ := y.(cbor.Map)
			k, _ := dm["Name"].(cbor.String)
			val, _ := dm["Value"].(cbor.String)
			if k == "" || val == "" {
				return nil, fmt.Errorf("MetricData.member.%d: a dimension needs a Name and a Value", i+1)
			}
			d.Dimensions[string(k)] = string(val)
		}
		out = append(out, d)
	}
	return out, nil
}

func cwAnswer(w http.ResponseWriter, status int, v cbor.Map) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.WriteHeader(status)
	w.Write(cbor.Encode(v))
}

func cwError(w http.ResponseWriter, status int, code, msg string) {
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-Query-Error", code+";"+fault)
	cwAnswer(w, status, cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#" + code), "message": cbor.String(msg)})
}
