package emulator

import (
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
)

// CloudFormation is a local stand-in for AWS CloudFormation's DescribeStacks: an
// http.Handler speaking the AWS query protocol (a form-encoded POST naming the
// Action, an XML answer), so the aws-sdk-go-v2 client talks to it with only
// BaseEndpoint changed. `pipegate hooks` and `pipegate doctor` read a deployed
// stack's outputs and parameters through it.
type CloudFormation struct {
	faults faults

	mu     sync.Mutex
	stacks []Stack
}

// Stack is a deployed stack as DescribeStacks answers it.
type Stack struct {
	Name       string
	ID         string // default arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>
	Status     string // default CREATE_COMPLETE
	Parameters map[string]string
	Outputs    map[string]string
	Created    time.Time // default now
}

// NewCloudFormation returns a stand-in that knows no stack.
func NewCloudFormation() *CloudFormation { return &CloudFormation{} }

// AddStack adds a stack, or replaces the one of the same name.
func (c *CloudFormation) AddStack(s Stack) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.ID == "" {
		s.ID = fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", EventRegion, EventAccount, s.Name, awsUUID(0xf, len(c.stacks)+1))
	}
	if s.Status == "" {
		s.Status = "CREATE_COMPLETE"
	}
	if s.Created.IsZero() {
		s.Created = time.Now().UTC()
	}
	s.Parameters, s.Outputs = maps.Clone(s.Parameters), maps.Clone(s.Outputs)
	if i := slices.IndexFunc(c.stacks, func(o Stack) bool { return o.Name == s.Name }); i >= 0 {
		c.stacks[i] = s
		return
	}
	c.stacks = append(c.stacks, s)
}

// Calls is how many requests of op (e.g. "DescribeStacks") arrived, faulted ones included.
func (c *CloudFormation) Calls(op string) int { return c.faults.count(op) }

// FailNext makes the next n calls of op answer with f.
func (c *CloudFormation) FailNext(op string, n int, f Fault) { c.faults.add(op, n, f) }

const cfnXMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

func (c *CloudFormation) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		cfnError(w, http.StatusBadRequest, "InvalidAction", "the query protocol POSTs a form")
		return
	}
	op := r.PostForm.Get("Action")
	if f, faulted := c.faults.take(op); faulted {
		if f.Hang {
			hang(r)
			return
		}
		f.addHeaders(w)
		cfnError(w, f.Status, f.Code, f.Message)
		return
	}
	switch {
	case op == "DescribeStacks" && r.PostForm.Get("Version") == "2010-05-15":
		c.describeStacks(w, r.PostForm.Get("StackName"))
	default:
		cfnError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", op, r.PostForm.Get("Version")))
	}
}

type cfnMember struct {
	ParamKey    string `xml:"ParameterKey,omitempty"`
	ParamValue  string `xml:"ParameterValue,omitempty"`
	OutputKey   string `xml:"OutputKey,omitempty"`
	OutputValue string `xml:"OutputValue,omitempty"`
}

type cfnStack struct {
	StackName    string      `xml:"StackName"`
	StackID      string      `xml:"StackId"`
	CreationTime string      `xml:"CreationTime"`
	StackStatus  string      `xml:"StackStatus"`
	Parameters   []cfnMember `xml:"Parameters>member"`
	Outputs      []cfnMember `xml:"Outputs>member"`
}

func (c *CloudFormation) describeStacks(w http.ResponseWriter, name string) {
	c.mu.Lock()
	var found []cfnStack
	for _, s := range c.stacks {
		if name != "" && name != s.Name && name != s.ID {
			continue
		}
		x := cfnStack{StackName: s.Name, StackID: s.ID, CreationTime: s.Created.Format(time.RFC3339), StackStatus: s.Status}
		for _, k := range slices.Sorted(maps.Keys(s.Parameters)) {
			x.Parameters = append(x.Parameters, cfnMember{ParamKey: k, ParamValue: s.Parameters[k]})
		}
		for _, k := range slices.Sorted(maps.Keys(s.Outputs)) {
			x.Outputs = append(x.Outputs, cfnMember{OutputKey: k, OutputValue: s.Outputs[k]})
		}
		found = append(found, x)
	}
	c.mu.Unlock()
	if name != "" && len(found) == 0 {
		cfnError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("Stack with id %s does not exist", name))
		return
	}
	type result struct {
		Stacks []cfnStack `xml:"Stacks>member"`
	}
	cfnWrite(w, http.StatusOK, struct {
		XMLName  xml.Name `xml:"DescribeStacksResponse"`
		XMLNS    string   `xml:"xmlns,attr"`
		Result   result   `xml:"DescribeStacksResult"`
		Metadata struct {
			RequestID string `xml:"RequestId"`
		} `xml:"ResponseMetadata"`
	}{XMLNS: cfnXMLNS, Result: result{Stacks: found}})
}

func cfnError(w http.ResponseWriter, status int, code, message string) {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	party := "Sender"
	if status >= 500 {
		party = "Receiver"
	}
	type detail struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	cfnWrite(w, status, struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		XMLNS     string   `xml:"xmlns,attr"`
		Error     detail   `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}{XMLNS: cfnXMLNS, Error: detail{party, code, message}, RequestID: "00000000-0000-4000-8000-000000000000"})
}

func cfnWrite(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte("<ErrorResponse/>")
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", "00000000-0000-4000-8000-000000000000")
	w.WriteHeader(status)
	w.Write(append([]byte(xml.Header), b...))
}
