// Command pipegate is pipegate's local tool. `pipegate help` lists its commands;
// `pipegate help COMMAND` and `pipegate COMMAND -h` say what one does.
//
// demo, dev and invoke need no AWS account and no GitLab: they run the same handlers
// as the Lambda functions against pipegate's wire-level CodePipeline and GitLab
// stand-ins on loopback, through the real AWS SDK and GitLab clients. init, hooks
// and doctor set up and check a real account and GitLab.
//
// Exit codes, as gh, glab and sam have them: 0 success (and help), 1 an error,
// 2 misuse (an unknown command or flag, a missing or extra argument).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// commands is pipegate's command table, in the order `pipegate help` lists them.
// It is built afresh for each run: every command owns its flag.FlagSet.
func commands() []*command {
	return []*command{
		demoCommand(),
		devCommand(),
		invokeCommand(),
		explainCommand(),
		initCommand(),
		validateCommand(),
		paramsCommand(),
		hooksCommand(),
		doctorCommand(),
		versionCommand(),
	}
}

// command is one `pipegate NAME`: what help prints of it, its flags, and what it does.
type command struct {
	name    string
	summary string // one line, for the list `pipegate help` prints
	args    string // the positional part of the usage line, e.g. "EVENT.json..."
	help    string // what it does, after the usage line
	// minArgs and maxArgs bound the positional arguments (maxArgs -1: no bound);
	// argsHint says what to give when they are wrong.
	minArgs, maxArgs int
	argsHint         string
	flags            *flag.FlagSet
	run              func(ctx context.Context, e *env, args []string) error
}

// newCommand starts a command with an empty flag set that reports nothing itself:
// parse errors and -h are worded by dispatch.
func newCommand(name, summary string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &command{name: name, summary: summary, flags: fs}
}

// env is what a command reads and writes besides its arguments.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	// loadAWS loads the user's AWS configuration (config.LoadDefaultConfig: the
	// standard variables, profiles and endpoint overrides); tests point it at stand-ins.
	loadAWS func(ctx context.Context) (aws.Config, error)
}

func defaultLoadAWS(ctx context.Context) (aws.Config, error) { return config.LoadDefaultConfig(ctx) }

// run runs one command line (without the program name) with the user's AWS configuration.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runEnv(ctx, args, &env{getenv: getenv, stdout: stdout, stderr: stderr, loadAWS: defaultLoadAWS})
}

func runEnv(ctx context.Context, args []string, e *env) error {
	cmds := commands()
	if len(args) == 0 {
		fmt.Fprint(e.stderr, overview(cmds))
		return &usageError{msg: "name a command"}
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return help(cmds, name, rest, e.stdout)
	case "--version":
		name = "version"
	}
	i := slices.IndexFunc(cmds, func(c *command) bool { return c.name == name })
	if i < 0 {
		return &usageError{msg: fmt.Sprintf("unknown command %q", name)}
	}
	return cmds[i].dispatch(ctx, e, rest)
}

// help prints the overview, or one command's usage.
func help(cmds []*command, name string, args []string, stdout io.Writer) error {
	if name != "help" || len(args) == 0 {
		fmt.Fprint(stdout, overview(cmds))
		return nil
	}
	if len(args) > 1 {
		return &usageError{cmd: "help", msg: fmt.Sprintf("unexpected argument %q: name one command", args[1])}
	}
	i := slices.IndexFunc(cmds, func(c *command) bool { return c.name == args[0] })
	if i < 0 {
		return &usageError{cmd: "help", msg: fmt.Sprintf("unknown command %q", args[0])}
	}
	fmt.Fprint(stdout, cmds[i].usage())
	return nil
}

// dispatch parses the command's flags and arguments and runs it.
func (c *command) dispatch(ctx context.Context, e *env, args []string) error {
	pos, err := parseInterspersed(c.flags, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, c.usage())
		return nil
	}
	if err != nil {
		return &usageError{cmd: c.name, msg: flagMessage(err)}
	}
	hint := ""
	if c.argsHint != "" {
		hint = ": " + c.argsHint
	}
	switch {
	case len(pos) < c.minArgs:
		return &usageError{cmd: c.name, msg: "missing argument " + c.args + hint}
	case c.maxArgs >= 0 && len(pos) > c.maxArgs:
		return &usageError{cmd: c.name, msg: fmt.Sprintf("unexpected argument %q%s", pos[c.maxArgs], hint)}
	}
	return c.run(ctx, e, pos)
}

// parseInterspersed parses flags wherever they stand among the arguments, as gh
// and glab do (`pipegate explain push.json -h`); "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// flagMessage words a flag package error the way the rest of pipegate speaks.
func flagMessage(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		msg = "unknown flag " + name
	}
	// The flag package names a flag with one dash; pipegate's usage spells long ones with two.
	return regexp.MustCompile(`(^|\s)-(\w[\w-]+)`).ReplaceAllString(msg, "$1--$2")
}

// usage is the command's help: its usage line, what it does, its flags.
func (c *command) usage() string {
	var b strings.Builder
	line := "pipegate " + c.name
	hasFlags := false
	c.flags.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		line += " [flags]"
	}
	if c.args != "" {
		line += " " + c.args
	}
	fmt.Fprintf(&b, "usage: %s\n\n%s\n", line, strings.TrimSpace(c.help))
	b.WriteString("\nflags:\n")
	if hasFlags {
		c.flags.VisitAll(func(f *flag.Flag) {
			kind, text := flag.UnquoteUsage(f)
			head := "  --" + f.Name
			if len(f.Name) == 1 {
				head = "  -" + f.Name
			}
			if kind != "" {
				head += " " + kind
			}
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				text += fmt.Sprintf(" (default %s)", f.DefValue)
			}
			text = strings.ReplaceAll(text, "\n", "\n"+strings.Repeat(" ", 28))
			if len(head) < 27 {
				fmt.Fprintf(&b, "%-28s%s\n", head, text)
			} else {
				fmt.Fprintf(&b, "%s\n%28s%s\n", head, "", text)
			}
		})
	}
	b.WriteString("  -h, --help                this help\n")
	return b.String()
}

// overview is what `pipegate help` prints: every command in one line.
func overview(cmds []*command) string {
	var b strings.Builder
	b.WriteString("pipegate joins GitLab to AWS CodePipeline. This is its local tool.\n\nusage: pipegate COMMAND [flags] [arguments]\n\ncommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString("\n'pipegate help COMMAND' (or 'pipegate COMMAND -h') says more of one.\n")
	return b.String()
}

// usageError is a command line pipegate cannot run: exit status 2.
type usageError struct {
	cmd string // "" for pipegate itself
	msg string
}

func (u *usageError) Error() string { return u.msg }

// exitCode reports err on stderr, in one line, and returns the exit status.
func exitCode(err error, stderr io.Writer) int {
	var u *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		prefix, see := "pipegate", "pipegate help"
		if u.cmd != "" {
			prefix, see = "pipegate "+u.cmd, "pipegate help "+u.cmd
		}
		fmt.Fprintf(stderr, "%s: %s (see '%s')\n", prefix, u.msg, see)
		return 2
	}
	fmt.Fprintln(stderr, "pipegate:", oneLine(err.Error()))
	return 1
}

// oneLine keeps an error to one line of stderr.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
