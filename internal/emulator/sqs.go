package emulator

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// SQS is a local stand-in for Amazon SQS: an http.Handler speaking the AWS JSON 1.0
// protocol (X-Amz-Target AmazonSQS.<Operation>) that aws-sdk-go-v2's SQS client uses.
// Any queue URL is accepted; each URL is its own queue.
type SQS struct {
	faults faults

	mu       sync.Mutex
	messages []*sqsMessage
	// arrived is closed and replaced whenever a message is sent, waking long polls.
	arrived chan struct{}
}

// SQSMessage is a message the stand-in received.
type SQSMessage struct {
	QueueURL          string
	MessageID         string
	Body              string
	MessageAttributes map[string]SQSAttribute // nil when the message had none
	DelaySeconds      int
	ReceiveCount      int
	Deleted           bool
}

// SQSAttribute is a message attribute value.
type SQSAttribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

type sqsMessage struct {
	SQSMessage
	sentAt    time.Time
	visibleAt time.Time
	receipts  []string
}

// NewSQS returns an empty stand-in.
func NewSQS() *SQS { return &SQS{arrived: make(chan struct{})} }

// Messages returns every message sent, in send order, deleted ones included.
func (s *SQS) Messages() []SQSMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SQSMessage, len(s.messages))
	for i, m := range s.messages {
		out[i] = m.SQSMessage
		out[i].MessageAttributes = maps.Clone(m.MessageAttributes)
	}
	return out
}

// Calls is how many requests of op (e.g. "SendMessage") arrived, faulted ones included.
func (s *SQS) Calls(op string) int { return s.faults.count(op) }

// FailNext makes the next n calls of op answer with f.
func (s *SQS) FailNext(op string, n int, f Fault) { s.faults.add(op, n, f) }

// Recover drops the faults still queued for op.
func (s *SQS) Recover(op string) { s.faults.clear(op) }

var sqsProtocol = awsProtocol{
	target:      "AmazonSQS",
	contentType: "application/x-amz-json-1.0",
	messageKey:  "message",
	queryErrors: true,
}

func (s *SQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, body, ok := sqsProtocol.operation(w, r)
	if !ok {
		return
	}
	if f, faulted := s.faults.take(op); faulted {
		sqsProtocol.fault(w, r, f)
		return
	}
	var out any
	var err error
	switch op {
	case "SendMessage":
		out, err = s.sendMessage(body)
	case "ReceiveMessage":
		out, err = s.receiveMessage(r.Context(), body)
	case "DeleteMessage":
		out, err = s.deleteMessage(body)
	default:
		err = awsErrorf(http.StatusBadRequest, "UnsupportedOperation", "operation %s is not supported by the stand-in", op)
	}
	sqsProtocol.respond(w, out, err)
}

func (s *SQS) sendMessage(body []byte) (any, error) {
	var in struct {
		QueueURL          string                  `json:"QueueUrl"`
		MessageBody       string                  `json:"MessageBody"`
		DelaySeconds      int                     `json:"DelaySeconds"`
		MessageAttributes map[string]SQSAttribute `json:"MessageAttributes"`
	}
	if err := sqsProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	if in.QueueURL == "" {
		return nil, awsErrorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter QueueUrl.")
	}
	if in.MessageBody == "" {
		return nil, awsErrorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter MessageBody.")
	}
	if len(in.MessageBody) > 256*1024 {
		return nil, awsErrorf(http.StatusBadRequest, "InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes.")
	}
	now := time.Now()
	s.mu.Lock()
	m := &sqsMessage{
		SQSMessage: SQSMessage{
			QueueURL:          in.QueueURL,
			MessageID:         awsUUID(0x5, len(s.messages)+1),
			Body:              in.MessageBody,
			MessageAttributes: in.MessageAttributes,
			DelaySeconds:      in.DelaySeconds,
		},
		sentAt:    now,
		visibleAt: now.Add(time.Duration(in.DelaySeconds) * time.Second),
	}
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
	s.mu.Unlock()
	return map[string]string{"MessageId": m.MessageID, "MD5OfMessageBody": sqsMD5(in.MessageBody)}, nil
}

func (s *SQS) receiveMessage(ctx context.Context, body []byte) (any, error) {
	var in struct {
		QueueURL                    string   `json:"QueueUrl"`
		MaxNumberOfMessages         int      `json:"MaxNumberOfMessages"`
		VisibilityTimeout           *int     `json:"VisibilityTimeout"`
		WaitTimeSeconds             int      `json:"WaitTimeSeconds"`
		AttributeNames              []string `json:"AttributeNames"`
		MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
		MessageAttributeNames       []string `json:"MessageAttributeNames"`
	}
	if err := sqsProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	if in.MaxNumberOfMessages == 0 {
		in.MaxNumberOfMessages = 1
	}
	if in.MaxNumberOfMessages < 1 || in.MaxNumberOfMessages > 10 {
		return nil, awsErrorf(http.StatusBadRequest, "InvalidParameterValue", "Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", in.MaxNumberOfMessages)
	}
	visibility := 30 * time.Second
	if in.VisibilityTimeout != nil {
		visibility = time.Duration(*in.VisibilityTimeout) * time.Second
	}
	wait := time.NewTimer(time.Duration(in.WaitTimeSeconds) * time.Second)
	defer wait.Stop()

	type message struct {
		MessageID         string                  `json:"MessageId"`
		ReceiptHandle     string                  `json:"ReceiptHandle"`
		MD5OfBody         string                  `json:"MD5OfBody"`
		Body              string                  `json:"Body"`
		Attributes        map[string]string       `json:"Attributes,omitempty"`
		MessageAttributes map[string]SQSAttribute `json:"MessageAttributes,omitempty"`
	}
	for {
		s.mu.Lock()
		now := time.Now()
		var out []message
		for _, m := range s.messages {
			if len(out) == in.MaxNumberOfMessages {
				break
			}
			if m.QueueURL != in.QueueURL || m.Deleted || now.Before(m.visibleAt) {
				continue
			}
			m.ReceiveCount++
			m.visibleAt = now.Add(visibility)
			receipt := fmt.Sprintf("%s#%d", m.MessageID, m.ReceiveCount)
			m.receipts = append(m.receipts, receipt)
			x := message{MessageID: m.MessageID, ReceiptHandle: receipt, MD5OfBody: sqsMD5(m.Body), Body: m.Body}
			if sqsWants(in.AttributeNames, "ApproximateReceiveCount") || sqsWants(in.MessageSystemAttributeNames, "ApproximateReceiveCount") {
				x.Attributes = map[string]string{
					"ApproximateReceiveCount": strconv.Itoa(m.ReceiveCount),
					"SentTimestamp":           strconv.FormatInt(m.sentAt.UnixMilli(), 10),
				}
			}
			for name, v := range m.MessageAttributes {
				if sqsWants(in.MessageAttributeNames, name) {
					if x.MessageAttributes == nil {
						x.MessageAttributes = map[string]SQSAttribute{}
					}
					x.MessageAttributes[name] = v
				}
			}
			out = append(out, x)
		}
		arrived := s.arrived
		s.mu.Unlock()
		if len(out) > 0 {
			return map[string]any{"Messages": out}, nil
		}
		// Long polling: wait for a new message, the wait time, or the client.
		select {
		case <-arrived:
		case <-wait.C:
			return map[string]any{}, nil
		case <-ctx.Done():
			return map[string]any{}, nil
		}
	}
}

func (s *SQS) deleteMessage(body []byte) (any, error) {
	var in struct {
		QueueURL      string `json:"QueueUrl"`
		ReceiptHandle string `json:"ReceiptHandle"`
	}
	if err := sqsProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.QueueURL == in.QueueURL && slices.Contains(m.receipts, in.ReceiptHandle) {
			// Deleting twice succeeds, as in SQS.
			m.Deleted = true
			return map[string]any{}, nil
		}
	}
	return nil, awsErrorf(http.StatusBadRequest, "ReceiptHandleIsInvalid", "The input receipt handle %q is not a valid receipt handle.", in.ReceiptHandle)
}

// sqsWants reports whether a list of requested attribute names asks for name.
func sqsWants(names []string, name string) bool {
	return slices.Contains(names, "All") || slices.Contains(names, ".*") || slices.Contains(names, name)
}

// sqsMD5 is the body checksum the SDK checks on every send and receive.
func sqsMD5(body string) string {
	sum := md5.Sum([]byte(body))
	return hex.EncodeToString(sum[:])
}
