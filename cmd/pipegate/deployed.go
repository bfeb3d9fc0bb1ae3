package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pipegate/pipegate/internal/cloudformation"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/secrets"
	"github.com/pipegate/pipegate/internal/setup"
	"github.com/pipegate/pipegate/internal/wire"
)

// What hooks and doctor share: the routing file, pipegate's deployed stack, and GitLab.

// loadRouting reads the routing file the functions would: path, else
// PIPEGATE_CONFIG's, else the bundled one; it also says which it read.
func loadRouting(path string, getenv func(string) string) (*routing.Config, string, error) {
	env := getenv
	if path != "" {
		env = func(k string) string {
			if k == "PIPEGATE_CONFIG" {
				return path
			}
			return getenv(k)
		}
	}
	return wire.LoadRouting(env)
}

// readStack describes pipegate's stack; a stack that does not exist is an error
// that says how to deploy or name it.
func readStack(ctx context.Context, cfg aws.Config, name string) (cloudformation.Stack, error) {
	st, err := bounded(ctx, func(ctx context.Context) (cloudformation.Stack, error) {
		return cloudformation.New(cfg).Stack(ctx, name)
	})
	if errors.Is(err, cloudformation.ErrNotFound) {
		return st, fmt.Errorf("no stack %s in %s: deploy pipegate (sam deploy), or name its stack with --stack", name, cfg.Region)
	}
	return st, err
}

// stackSecret reads the value of the secret the stack's output names.
func stackSecret(ctx context.Context, cfg aws.Config, st cloudformation.Stack, output string) (string, error) {
	arn := st.Outputs[output]
	if arn == "" {
		return "", fmt.Errorf("stack %s has no output %s: deploy the current template.yaml", st.Name, output)
	}
	v, err := secrets.Read(ctx, secretsmanager.NewFromConfig(cfg), arn)
	if err != nil {
		return "", fmt.Errorf("read secret %s (stack output %s): %w", arn, output, err)
	}
	return v, nil
}

// gitlabClient calls the GitLab at baseURL with token.
func gitlabClient(baseURL, token string) (*gitlab.Client, error) {
	return gitlab.New(baseURL, token, nil)
}

// hooksOf is project's webhooks as the set-up decisions read them.
func hooksOf(list []gitlab.Hook) []setup.Hook {
	out := make([]setup.Hook, 0, len(list))
	for _, h := range list {
		out = append(out, setup.Hook{ID: h.ID, URL: h.URL, PushEvents: h.PushEvents, TagPushEvents: h.TagPushEvents,
			MergeRequestsEvents: h.MergeRequestsEvents, EnableSSLVerification: h.EnableSSLVerification,
			AlertStatus: h.AlertStatus, DisabledUntil: h.DisabledUntil})
	}
	return out
}
