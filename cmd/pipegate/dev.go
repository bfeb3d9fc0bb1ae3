package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const devUsage = `usage: pipegate dev [--listen 127.0.0.1:8080] [--step 2s] [--merge-requests FILE] [--aws]

Runs pipegate locally until Ctrl-C: the webhook handler on http://LISTEN/webhook
(and the badges on /badges/{service}.svg), a CodePipeline stand-in that runs each
started pipeline through Source, Build, Staging and the production approval, one
step every --step, feeding its events to the pipeline-events handler, and the
in-memory store. GitLab is the real one when GITLAB_URL and GITLAB_TOKEN are set,
else an embedded stand-in that prints each status and answers merge-request
questions from --merge-requests (YAML: project, iid, title, state,
merge_commit_sha, target_branch, author, approved_by, approvals_left). --aws starts real
pipelines with your AWS credentials instead (their events then go to EventBridge
in AWS, not here). The webhook's secret token is WEBHOOK_SECRET, else ` + localSecret

// dev runs the local loop until ctx is cancelled or the process is interrupted.
func dev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, devUsage) }
	listen := fs.String("listen", "127.0.0.1:8080", "host:port of the webhook listener")
	step := fs.Duration("step", 2*time.Second, "time between two steps of a pipeline run")
	mrs := fs.String("merge-requests", "", "YAML file of merge requests for the embedded GitLab")
	useAWS := fs.Bool("aws", false, "start real pipelines with your AWS credentials")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dev takes no arguments\n%s", devUsage)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	out := newPrinter(stdout)
	s, err := startStack(ctx, getenv, out, stackOptions{
		listen: *listen, step: *step, advance: 0, useAWS: *useAWS, mergeRequests: *mrs,
		log: slog.New(slog.NewJSONHandler(stderr, nil)),
	})
	if err != nil {
		return err
	}
	out.textf("pipegate dev: webhook on http://%s/webhook, badges on http://%s/badges/{service}.svg\n", s.addr, s.addr)
	switch {
	case s.cp != nil:
		out.textf("  CodePipeline: stand-in, one step every %s\n", *step)
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
