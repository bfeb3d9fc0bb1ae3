// Command pipegate is pipegate's local tool.
//
//	pipegate demo                   the whole flow on a laptop, every step checked
//	pipegate dev [flags]            pipegate locally until Ctrl-C, for a real GitLab or curl
//	pipegate invoke EVENT.json...   run the webhook function on sample events, locally
//	pipegate explain EVENT.json     say what pipegate would do with one event, offline
//	pipegate validate [flags]       check the routing file against template.yaml and the pipeline template
//
// demo, dev and invoke need no AWS account and no GitLab: they run the same handlers
// as the Lambda functions against pipegate's wire-level CodePipeline and GitLab
// stand-ins on loopback, through the real AWS SDK and GitLab clients.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pipegate:", err)
		os.Exit(1)
	}
}

const usage = `usage: pipegate demo
       pipegate dev [--listen 127.0.0.1:8080] [--step 2s] [--merge-requests FILE] [--aws]
       pipegate invoke EVENT.json...
       pipegate explain EVENT.json
       pipegate validate [--template template.yaml] [--pipelines pipelines/service-pipeline.yaml] [--routing FILE]

demo     runs a push through staging, the production gate and a merge request
         approval to production, locally, printing and checking every step.
dev      runs the webhook on an HTTP listener and a CodePipeline stand-in that
         runs the pipelines it starts, until Ctrl-C (pipegate dev --help).
invoke   runs the webhook function on API Gateway events (see events/) against
         local CodePipeline and GitLab stand-ins, and prints the answers, the
         executions started and the commit statuses posted.
explain  says, without calling AWS or GitLab, which pipelines a webhook event
         (API Gateway event or bare GitLab body) would start and why every other
         service would not, or what a CodePipeline event would do.
validate checks that the routing file parses and that template.yaml and the
         pipeline template grant and name what it needs; non-zero on any problem.`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	switch args[0] {
	case "invoke":
		return invoke(ctx, args[1:], getenv, stdout, stderr)
	case "explain":
		return explain(args[1:], getenv, stdout)
	case "validate":
		return validateCmd(args[1:], getenv, stdout, stderr)
	case "params":
		return paramsCmd(args[1:], stdout, stderr)
	case "demo":
		return demo(ctx, args[1:], getenv, stdout, stderr)
	case "dev":
		return dev(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}
