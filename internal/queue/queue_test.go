package queue

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/testenv"
)

const url = "https://sqs.eu-west-1.amazonaws.com/000000000000/pipegate-retry"

func newTest(t *testing.T) (*Queue, *emulator.SQS) {
	t.Helper()
	emu := emulator.NewSQS()
	cfg := testenv.AWSStandIn(t, emu)
	return New(cfg, url), emu
}

func TestSend(t *testing.T) {
	q, emu := newTest(t)
	body := `{"kind":"start","pipeline":"core-pipeline","sha":"abc"}`
	if err := q.Send(context.Background(), []byte(body)); err != nil {
		t.Fatal(err)
	}
	got := emu.Messages()
	if len(got) != 1 || got[0].Body != body || got[0].QueueURL != url || got[0].MessageID == "" {
		t.Fatalf("messages %+v", got)
	}
}

func TestSendRetriesServerErrors(t *testing.T) {
	q, emu := newTest(t)
	emu.FailNext("SendMessage", 2, emulator.ServerError)
	if err := q.Send(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n := emu.Calls("SendMessage"); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
	if n := len(emu.Messages()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

func TestSendFails(t *testing.T) {
	q, emu := newTest(t)
	emu.FailNext("SendMessage", 1, emulator.Fault{Status: 400, Code: "QueueDoesNotExist", Message: "The specified queue does not exist."})
	err := q.Send(context.Background(), []byte("x"))
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "QueueDoesNotExist" {
		t.Fatalf("err %v, want QueueDoesNotExist", err)
	}
	if n := emu.Calls("SendMessage"); n != 1 {
		t.Fatalf("%d calls, want 1 (not retryable)", n)
	}
	if len(emu.Messages()) != 0 {
		t.Fatal("a message was stored")
	}
}
