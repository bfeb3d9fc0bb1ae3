package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pipegate/pipegate/internal/cloudformation"
	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/secrets"
	"github.com/pipegate/pipegate/internal/setup"
)

func doctorCommand() *command {
	c := newCommand("doctor", "check the real setup, AWS and GitLab, and say how to mend it")
	c.help = `Checks, with your AWS credentials and GitLab token, that the setup pipegate
relies on is in place, and prints ✓ or ✗ for each check with the fix:

  Stack      pipegate's stack is deployed; its secrets hold values; its event rule
             takes every routed pipeline (the stack's parameter PipelineNames: the
             rule's pattern is made of it, and DescribeStacks needs no permission
             more than doctor already uses).
  Pipelines  every routed pipeline exists, has the source action the routing file
             names (a CodeConnections source of the routed project, change
             detection off) and its production stage with a manual approval action.
  GitLab     the token has scope api (where GitLab says) and reaches every routed
             project; each project has pipegate's webhook with push, tag push and
             merge request events and SSL verification, and GitLab has not
             disabled it.

GitLab is GITLAB_URL, else the stack's GitLabUrl, else https://gitlab.com. The
token is GITLAB_TOKEN (a Maintainer's, to read the webhooks), else pipegate's own
from the stack's secret; pipegate's own is checked too when it is another.
doctor changes nothing, and exits 0 only when every check passes.`
	fs := c.flags
	hookURL := fs.String("url", "", "pipegate's webhook `URL` (default: the stack's output WebhookUrl)")
	stack := fs.String("stack", setup.DefaultStack, "the `name` of pipegate's CloudFormation stack")
	routingPath := fs.String("routing", "", "the routing `file` (default: PIPEGATE_CONFIG, else the bundled pipegate.yaml)")
	c.run = func(ctx context.Context, e *env, _ []string) error {
		routes, source, err := loadRouting(*routingPath, e.getenv)
		if err != nil {
			return err
		}
		cfg, err := e.awsConfig(ctx, "pipegate doctor")
		if err != nil {
			return err
		}
		facts := gatherFacts(ctx, e, cfg, setup.Facts{Routes: routes, RoutingFile: source, Region: cfg.Region, WebhookURL: *hookURL}, *stack)
		return report(e.stdout, facts, setup.Doctor(facts))
	}
	return c
}

// gatherFacts asks AWS and GitLab what doctor checks; it decides nothing.
func gatherFacts(ctx context.Context, e *env, cfg aws.Config, f setup.Facts, stackName string) setup.Facts {
	f.Stack = setup.StackFacts{Name: stackName}
	st, err := bounded(ctx, func(ctx context.Context) (cloudformation.Stack, error) {
		return cloudformation.New(cfg).Stack(ctx, stackName)
	})
	switch {
	case errors.Is(err, cloudformation.ErrNotFound):
		f.Stack.Missing = true
	case err != nil:
		f.Stack.Err = err.Error()
	default:
		f.Stack.Status, f.Stack.Parameters, f.Stack.Outputs = st.Status, st.Parameters, st.Outputs
		if f.WebhookURL == "" {
			f.WebhookURL = st.Outputs[setup.OutputWebhookURL]
		}
	}

	// The stack's secrets; pipegate's GitLab token is kept to check it with GitLab.
	var pipegateToken, tokenARN string
	if err == nil {
		sm := secretsmanager.NewFromConfig(cfg)
		for _, output := range []string{setup.OutputWebhookSecret, setup.OutputGitLabToken} {
			sf := setup.SecretFacts{Output: output, ARN: st.Outputs[output]}
			if sf.ARN != "" {
				v, err := secrets.Read(ctx, sm, sf.ARN)
				switch {
				case errors.Is(err, secrets.ErrEmpty):
					sf.Empty = true
				case err != nil:
					sf.Err = err.Error()
				case output == setup.OutputGitLabToken:
					pipegateToken, tokenARN = v, sf.ARN
				}
			}
			f.Secrets = append(f.Secrets, sf)
		}
	}

	cp := codepipeline.New(cfg)
	f.Pipelines = map[string]setup.PipelineFacts{}
	for _, s := range f.Routes.Services {
		d, err := bounded(ctx, func(ctx context.Context) (codepipeline.Declaration, error) { return cp.Declaration(ctx, s.Pipeline) })
		switch {
		case errors.Is(err, codepipeline.ErrNotFound):
			f.Pipelines[s.Pipeline] = setup.PipelineFacts{Missing: true}
		case err != nil:
			f.Pipelines[s.Pipeline] = setup.PipelineFacts{Err: err.Error()}
		default:
			f.Pipelines[s.Pipeline] = setup.PipelineFacts{Declaration: pipelineOf(d)}
		}
	}

	f.GitLab = setup.GitLabFacts{URL: setup.GitLabURL(e.getenv("GITLAB_URL"), f.Stack.Parameters[setup.ParamGitLabURL]), EnvURL: e.getenv("GITLAB_URL")}
	token, who := e.getenv("GITLAB_TOKEN"), "GITLAB_TOKEN"
	if token == "" {
		token, who = pipegateToken, fmt.Sprintf("pipegate's token (secret %s)", tokenARN)
	}
	if token == "" {
		return f
	}
	gl, err := gitlabClient(f.GitLab.URL, token)
	if err != nil {
		f.GitLab.Tokens = []setup.TokenFacts{{Who: who, Err: err.Error()}}
		return f
	}
	tf := tokenFacts(ctx, gl, who)
	if token == pipegateToken {
		tf.SecretARN = tokenARN
	}
	f.GitLab.Tokens = append(f.GitLab.Tokens, tf)
	if pipegateToken != "" && pipegateToken != token {
		if own, err := gitlabClient(f.GitLab.URL, pipegateToken); err == nil {
			tf := tokenFacts(ctx, own, fmt.Sprintf("pipegate's token (secret %s)", tokenARN))
			tf.SecretARN = tokenARN
			f.GitLab.Tokens = append(f.GitLab.Tokens, tf)
		}
	}
	f.GitLab.Projects = map[string]setup.ProjectFacts{}
	for _, project := range setup.Projects(f.Routes) {
		var pf setup.ProjectFacts
		p, err := bounded(ctx, func(ctx context.Context) (gitlab.Project, error) { return gl.Project(ctx, project) })
		if err != nil {
			pf.ReachErr, pf.ReachStatus = err.Error(), gitlab.HTTPStatus(err)
		} else {
			pf.Path = p.Path
			hooks, err := bounded(ctx, func(ctx context.Context) ([]gitlab.Hook, error) { return gl.Hooks(ctx, project) })
			if err != nil {
				pf.HooksErr, pf.HooksStatus = err.Error(), gitlab.HTTPStatus(err)
			}
			pf.Hooks = hooksOf(hooks)
		}
		f.GitLab.Projects[project] = pf
	}
	return f
}

func tokenFacts(ctx context.Context, gl *gitlab.Client, who string) setup.TokenFacts {
	t, err := bounded(ctx, gl.Token)
	tf := setup.TokenFacts{Who: who, Scopes: t.Scopes, Active: t.Active, Revoked: t.Revoked, ExpiresAt: t.ExpiresAt}
	if err != nil {
		tf.Status = gitlab.HTTPStatus(err)
		tf.NotReported = tf.Status == 404
		tf.Err = err.Error()
	}
	return tf
}

// report prints the checks by area, ✓ or ✗ and the fix; it fails when one failed.
func report(w io.Writer, f setup.Facts, checks []setup.Check) error {
	url := f.WebhookURL
	if url == "" {
		url = "unknown"
	}
	fmt.Fprintf(w, "pipegate doctor: routing file %s (%d services), stack %s in %s, GitLab %s, webhook %s\n",
		f.RoutingFile, len(f.Routes.Services), f.Stack.Name, f.Region, f.GitLab.URL, url)
	area, failed := "", 0
	for _, c := range checks {
		if c.Area != area {
			area = c.Area
			fmt.Fprintf(w, "\n%s\n", area)
		}
		if c.OK {
			fmt.Fprintf(w, "  ✓ %s\n", c.Says)
			continue
		}
		failed++
		fmt.Fprintf(w, "  ✗ %s\n      fix: %s\n", c.Says, c.Fix)
	}
	if failed > 0 {
		fmt.Fprintf(w, "\n%d of %d checks failed.\n", failed, len(checks))
		return fmt.Errorf("doctor: %d of %d checks failed (fixes: above)", failed, len(checks))
	}
	fmt.Fprintf(w, "\nAll %d checks passed.\n", len(checks))
	return nil
}
