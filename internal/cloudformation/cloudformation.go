// Package cloudformation is pipegate's thin adapter over the AWS CloudFormation
// client: the outputs and parameters of its deployed stack, which the set-up
// commands read (the webhook's URL and secret, the pipelines its event rule takes).
package cloudformation

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/smithy-go"
)

// ErrNotFound is wrapped into the error for a stack that does not exist.
var ErrNotFound = errors.New("stack not found")

// Client reads stacks.
type Client struct {
	api *awscfn.Client
}

// New builds the client from cfg.
func New(cfg aws.Config) *Client { return &Client{api: awscfn.NewFromConfig(cfg)} }

// Stack is a deployed stack: its status, and its parameters and outputs by key.
type Stack struct {
	Name, ID, Status string
	Parameters       map[string]string
	Outputs          map[string]string
}

// Stack describes the stack called name (or with that stack id).
func (c *Client) Stack(ctx context.Context, name string) (Stack, error) {
	out, err := c.api.DescribeStacks(ctx, &awscfn.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		// CloudFormation says "Stack with id X does not exist" as a ValidationError.
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist") {
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return Stack{}, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return Stack{}, fmt.Errorf("describe stack %s: %w", name, ErrNotFound)
	}
	s := out.Stacks[0]
	st := Stack{
		Name: aws.ToString(s.StackName), ID: aws.ToString(s.StackId), Status: string(s.StackStatus),
		Parameters: map[string]string{}, Outputs: map[string]string{},
	}
	for _, p := range s.Parameters {
		v := aws.ToString(p.ParameterValue)
		if p.ResolvedValue != nil {
			v = aws.ToString(p.ResolvedValue) // an SSM parameter's value, not its name
		}
		st.Parameters[aws.ToString(p.ParameterKey)] = v
	}
	for _, o := range s.Outputs {
		st.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return st, nil
}
