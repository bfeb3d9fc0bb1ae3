// Command pipegate is pipegate's local tool.
//
//	pipegate invoke EVENT.json...   run the webhook function on sample events, locally
//
// invoke needs no AWS account and no GitLab: it runs the same handler as the Lambda
// function against pipegate's wire-level CodePipeline and GitLab stand-ins on
// loopback, through the real AWS SDK and GitLab clients, and prints what happened.
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

const usage = `usage: pipegate invoke EVENT.json...

invoke   runs the webhook function on API Gateway events (see events/) against
         local CodePipeline and GitLab stand-ins, and prints the answers, the
         executions started and the commit statuses posted.`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	switch args[0] {
	case "invoke":
		return invoke(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}
