package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// credentialsTimeout bounds the first look for credentials: with none in the
// environment or the profiles, the SDK asks the EC2 instance metadata service,
// which off EC2 only times out.
const credentialsTimeout = 5 * time.Second

// awsConfig loads the user's AWS configuration and makes sure it has a region and
// credentials, so that a command that needs AWS fails at its start, saying what
// to set, rather than at its first call.
func (e *env) awsConfig(ctx context.Context, who string) (aws.Config, error) {
	cfg, err := e.loadAWS(ctx)
	if err != nil {
		return cfg, fmt.Errorf("%s: load the AWS configuration: %w", who, err)
	}
	if cfg.Credentials == nil {
		return cfg, fmt.Errorf("%s needs AWS credentials, and found none: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run aws sso login", who)
	}
	cctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
		return cfg, fmt.Errorf("%s needs AWS credentials, and found none (%v): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run aws sso login", who, err)
	}
	if cfg.Region == "" {
		return cfg, fmt.Errorf("%s needs an AWS region: set AWS_REGION, or a region in your AWS profile", who)
	}
	return cfg, nil
}

// callTimeout bounds one call of a set-up command to AWS or GitLab: a
// person waits at the terminal.
const callTimeout = 15 * time.Second

// bounded runs one call with callTimeout.
func bounded[T any](ctx context.Context, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return call(ctx)
}
