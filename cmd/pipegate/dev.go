package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

const devHelp = `Runs pipegate locally until Ctrl-C: the webhook handler on http://LISTEN/webhook
(and the badges on /badges/{service}.svg), a CodePipeline stand-in that runs each
started pipeline through Source, Build, Staging and the production approval, one
step every --step, feeding its events to the pipeline-events handler, and the
in-memory store. GitLab is the real one when GITLAB_URL and GITLAB_TOKEN are set,
else an embedded stand-in that prints each status and answers merge-request
questions from --merge-requests (YAML: project, iid, title, state,
merge_commit_sha, target_branch, author, approved_by, approvals_left). --aws starts real
pipelines with your AWS credentials instead (their events then go to EventBridge
in AWS, not here). The webhook's secret token is WEBHOOK_SECRET, else ` + localSecret + "."

func devCommand() *command {
	c := newCommand("dev", "pipegate locally until Ctrl-C, for a real GitLab or curl")
	c.help = devHelp
	fs := c.flags
	listen := fs.String("listen", "127.0.0.1:8080", "`host:port` of the webhook listener")
	step := fs.Duration("step", 2*time.Second, "time between two steps of a pipeline run")
	mrs := fs.String("merge-requests", "", "YAML `file` of merge requests for the embedded GitLab")
	useAWS := fs.Bool("aws", false, "start real pipelines with your AWS credentials")
	c.run = func(ctx context.Context, e *env, _ []string) error {
		return runDev(ctx, e, stackOptions{listen: *listen, step: *step, useAWS: *useAWS, mergeRequests: *mrs})
	}
	return c
}

// runDev runs the local loop until ctx is cancelled or the process is interrupted.
func runDev(ctx context.Context, e *env, opt stackOptions) error {
	getenv, stdout, stderr := e.getenv, e.stdout, e.stderr
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	out := newPrinter(stdout)
	opt.log = slog.New(slog.NewJSONHandler(stderr, nil))
	opt.loadAWS = func(ctx context.Context) (aws.Config, error) { return e.awsConfig(ctx, "pipegate dev --aws") }
	s, err := startStack(ctx, getenv, out, opt)
	if err != nil {
		return err
	}
	out.textf("pipegate dev: webhook on http://%s/webhook, badges on http://%s/badges/{service}.svg\n", s.addr, s.addr)
	switch {
	case s.cp != nil:
		out.textf("  CodePipeline: stand-in, one step every %s\n", opt.step)
	default:
		out.textf("  CodePipeline: real (--aws); stage events arrive through EventBridge in AWS, not here\n")
	}
	if s.gl != nil {
		out.textf("  GitLab: embedded stand-in (set GITLAB_URL and GITLAB_TOKEN for a real one)\n")
	} else {
		out.textf("  GitLab: %s\n", getenv("GITLAB_URL"))
	}
	out.textf("  secret token: set X-Gitlab-Token as WEBHOOK_SECRET says (default %q). Ctrl-C stops.\n\n", localSecret)
	<-ctx.Done()
	s.wait()
	out.textf("pipegate dev: stopped\n")
	return nil
}
