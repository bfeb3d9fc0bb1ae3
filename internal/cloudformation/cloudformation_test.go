package cloudformation

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/testenv"
)

func TestStack(t *testing.T) {
	emu := emulator.NewCloudFormation()
	emu.AddStack(emulator.Stack{Name: "pipegate", Status: "UPDATE_COMPLETE",
		Parameters: map[string]string{"PipelineNames": "api-pipeline,web-deploy", "GitLabUrl": "https://gitlab.example"},
		Outputs:    map[string]string{"WebhookUrl": "https://abc.execute-api.eu-west-1.amazonaws.com/webhook", "WebhookSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:WebhookSecret-AbCdEf"}})
	c := New(testenv.AWSStandIn(t, emu))
	s, err := c.Stack(context.Background(), "pipegate")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "pipegate" || s.Status != "UPDATE_COMPLETE" || !strings.HasPrefix(s.ID, "arn:aws:cloudformation:") ||
		s.Parameters["PipelineNames"] != "api-pipeline,web-deploy" || s.Parameters["GitLabUrl"] != "https://gitlab.example" ||
		s.Outputs["WebhookUrl"] != "https://abc.execute-api.eu-west-1.amazonaws.com/webhook" || len(s.Outputs) != 2 {
		t.Errorf("stack %+v", s)
	}
	if _, err := c.Stack(context.Background(), s.ID); err != nil {
		t.Errorf("by stack id: %v", err)
	}
	_, err = c.Stack(context.Background(), "other")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "Stack with id other does not exist") {
		t.Errorf("an unknown stack: %v", err)
	}
	emu.FailNext("DescribeStacks", 1, emulator.Fault{Status: 403, Code: "AccessDenied", Message: "User is not authorized to perform: cloudformation:DescribeStacks"})
	_, err = c.Stack(context.Background(), "pipegate")
	if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "not authorized") {
		t.Errorf("denied: %v", err)
	}
}
