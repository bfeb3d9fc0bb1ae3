package emulator

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

const sqsTestURL = "https://sqs.eu-west-1.amazonaws.com/000000000000/retry"

func newSQSTest(t *testing.T) (*sqs.Client, *SQS) {
	t.Helper()
	emu := NewSQS()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return sqs.NewFromConfig(awsTestConfig(srv)), emu
}

func TestSQSSendReceiveDelete(t *testing.T) {
	api, emu := newSQSTest(t)
	ctx := context.Background()
	sent, err := api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(sqsTestURL),
		MessageBody: aws.String(`{"work":"start"}`),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"kind": {DataType: aws.String("String"), StringValue: aws.String("start")},
		},
	})
	if err != nil {
		t.Fatal(err) // the SDK checks MD5OfMessageBody, so this also checks the checksum
	}
	msgs := emu.Messages()
	if len(msgs) != 1 || msgs[0].Body != `{"work":"start"}` || msgs[0].QueueURL != sqsTestURL ||
		msgs[0].MessageID != aws.ToString(sent.MessageId) || msgs[0].MessageAttributes["kind"].StringValue != "start" {
		t.Fatalf("messages %+v", msgs)
	}

	got, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(sqsTestURL),
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 {
		t.Fatalf("received %d messages, want 1", len(got.Messages))
	}
	m := got.Messages[0]
	if aws.ToString(m.Body) != `{"work":"start"}` || aws.ToString(m.MessageAttributes["kind"].StringValue) != "start" || m.Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("message %+v", m)
	}

	// In flight: not received again until its visibility timeout passes.
	empty, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(sqsTestURL)})
	if err != nil || len(empty.Messages) != 0 {
		t.Fatalf("second receive: %v, %d messages", err, len(empty.Messages))
	}
	// Other queues are apart.
	other, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(sqsTestURL + "-dlq")})
	if err != nil || len(other.Messages) != 0 {
		t.Fatalf("other queue: %v, %d messages", err, len(other.Messages))
	}

	if _, err := api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(sqsTestURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if msgs := emu.Messages(); !msgs[0].Deleted || msgs[0].ReceiveCount != 1 {
		t.Fatalf("after delete %+v", msgs[0])
	}
	_, err = api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(sqsTestURL), ReceiptHandle: aws.String("bogus")})
	var bad *types.ReceiptHandleIsInvalid
	if !errors.As(err, &bad) {
		t.Fatalf("bogus receipt: %v", err)
	}
}

func TestSQSDelayedMessageIsNotReceivedYet(t *testing.T) {
	api, emu := newSQSTest(t)
	ctx := context.Background()
	in := &sqs.SendMessageInput{QueueUrl: aws.String(sqsTestURL), MessageBody: aws.String("later"), DelaySeconds: 60}
	if _, err := api.SendMessage(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(sqsTestURL)})
	if err != nil || len(got.Messages) != 0 {
		t.Fatalf("receive: %v, %d messages, want none yet", err, len(got.Messages))
	}
	if msgs := emu.Messages(); len(msgs) != 1 || msgs[0].DelaySeconds != 60 {
		t.Fatalf("messages %+v", msgs)
	}
}

func TestSQSLongPollWakesOnSend(t *testing.T) {
	api, emu := newSQSTest(t)
	ctx := context.Background()
	done := make(chan *sqs.ReceiveMessageOutput)
	go func() {
		out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(sqsTestURL), WaitTimeSeconds: 10})
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	for emu.Calls("ReceiveMessage") == 0 {
		runtime.Gosched()
	}
	if _, err := api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(sqsTestURL), MessageBody: aws.String("late")}); err != nil {
		t.Fatal(err)
	}
	out := <-done
	if out == nil || len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "late" {
		t.Fatalf("long poll got %+v", out)
	}
}

func TestSQSFaults(t *testing.T) {
	api, emu := newSQSTest(t)
	ctx := context.Background()
	emu.FailNext("SendMessage", 1, Fault{
		Status: 400, Code: "QueueDoesNotExist", Message: "The specified queue does not exist.",
		Header: http.Header{"X-Amzn-Query-Error": {"AWS.SimpleQueueService.NonExistentQueue;Sender"}},
	})
	emu.FailNext("SendMessage", 1, ServerError)
	in := &sqs.SendMessageInput{QueueUrl: aws.String(sqsTestURL), MessageBody: aws.String("x")}

	_, err := api.SendMessage(ctx, in)
	var nq *types.QueueDoesNotExist
	if !errors.As(err, &nq) || nq.ErrorCode() != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Fatalf("err %v, want QueueDoesNotExist with the query code", err)
	}
	_, err = api.SendMessage(ctx, in)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InternalFailure" || ae.ErrorFault() != smithy.FaultServer {
		t.Fatalf("err %v, want InternalFailure from the server", err)
	}
	if _, err := api.SendMessage(ctx, in); err != nil {
		t.Fatal(err)
	}
	if n, m := emu.Calls("SendMessage"), len(emu.Messages()); n != 3 || m != 1 {
		t.Fatalf("%d calls and %d messages, want 3 and 1", n, m)
	}
}
