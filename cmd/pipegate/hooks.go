package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/setup"
)

func hooksCommand() *command {
	c := newCommand("hooks", "register or update the GitLab webhook of every routed project")
	c.help = `Makes every project of the routing file deliver to pipegate: a webhook to
pipegate's URL with push, tag push and merge request events, SSL verification,
and the secret token. A project without one gets one; a hook to the same URL that
lacks something is edited; one that lacks nothing is left alone, so a second run
changes nothing. GitLab never shows a hook's token: --update-token sets it on
every hook (after the secret changed).

The URL is --url, else the stack's output WebhookUrl; the secret token is
--secret, else the value of the secret the stack's output WebhookSecretArn names
(read with your AWS credentials). GitLab is GITLAB_URL, else the stack's
GitLabUrl, else https://gitlab.com; GITLAB_TOKEN is a token (scope api) of a
Maintainer of each project. --dry-run says what it would change, and changes
nothing.`
	fs := c.flags
	hookURL := fs.String("url", "", "pipegate's webhook `URL` (default: the stack's output WebhookUrl)")
	secret := fs.String("secret", "", "the webhook's secret `token` (default: the stack's WebhookSecretArn; a flag shows in ps)")
	stack := fs.String("stack", setup.DefaultStack, "the `name` of pipegate's CloudFormation stack")
	routingPath := fs.String("routing", "", "the routing `file` (default: PIPEGATE_CONFIG, else the bundled pipegate.yaml)")
	dryRun := fs.Bool("dry-run", false, "say what would change, and change nothing")
	updateToken := fs.Bool("update-token", false, "set the secret token on every hook, also on those that lack nothing else")
	c.run = func(ctx context.Context, e *env, _ []string) error {
		return hooks(ctx, e, hooksOptions{url: *hookURL, secret: *secret, stack: *stack, routing: *routingPath, dryRun: *dryRun, updateToken: *updateToken})
	}
	return c
}

type hooksOptions struct {
	url, secret, stack, routing string
	dryRun, updateToken         bool
}

func hooks(ctx context.Context, e *env, opt hooksOptions) error {
	routes, source, err := loadRouting(opt.routing, e.getenv)
	if err != nil {
		return err
	}
	token := e.getenv("GITLAB_TOKEN")
	if token == "" {
		return fmt.Errorf("hooks needs GITLAB_TOKEN: a token (scope api) of a Maintainer of each routed project")
	}
	urlFrom, stackGitLab := "--url", ""
	// The stack is read only for what the flags do not give (a dry run needs no secret).
	if opt.url == "" || (opt.secret == "" && !opt.dryRun) {
		cfg, err := e.awsConfig(ctx, "pipegate hooks")
		if err != nil {
			return err
		}
		st, err := readStack(ctx, cfg, opt.stack)
		if err != nil {
			return fmt.Errorf("hooks: %w (or give --url and --secret)", err)
		}
		stackGitLab = st.Parameters[setup.ParamGitLabURL]
		if opt.url == "" {
			if opt.url = st.Outputs[setup.OutputWebhookURL]; opt.url == "" {
				return fmt.Errorf("hooks: stack %s has no output %s: deploy the current template.yaml, or give --url", st.Name, setup.OutputWebhookURL)
			}
			urlFrom = fmt.Sprintf("stack %s's output %s", st.Name, setup.OutputWebhookURL)
		}
		if opt.secret == "" && !opt.dryRun {
			opt.secret, err = bounded(ctx, func(ctx context.Context) (string, error) { return stackSecret(ctx, cfg, st, setup.OutputWebhookSecret) })
			if err != nil {
				return fmt.Errorf("hooks: %w (or give --secret)", err)
			}
		}
	}
	baseURL := setup.GitLabURL(e.getenv("GITLAB_URL"), stackGitLab)
	gl, err := gitlabClient(baseURL, token)
	if err != nil {
		return err
	}
	projects := setup.Projects(routes)
	mode := ""
	if opt.dryRun {
		mode = " (dry run: nothing changes)"
	}
	fmt.Fprintf(e.stdout, "pipegate hooks%s: webhook %s (%s), GitLab %s, %d projects of %s\n", mode, opt.url, urlFrom, baseURL, len(projects), source)

	want := setup.Wanted(opt.url)
	settings := gitlab.HookSettings{URL: want.URL, Token: opt.secret, PushEvents: want.PushEvents, TagPushEvents: want.TagPushEvents,
		MergeRequestsEvents: want.MergeRequestsEvents, EnableSSLVerification: want.EnableSSLVerification}
	count := map[setup.HookAction]int{}
	failed := 0
	for _, project := range projects {
		list, err := bounded(ctx, func(ctx context.Context) ([]gitlab.Hook, error) { return gl.Hooks(ctx, project) })
		if err != nil {
			fmt.Fprintf(e.stdout, "  %s: ✗ %v\n", project, err)
			failed++
			continue
		}
		step := setup.PlanHook(project, opt.url, hooksOf(list), opt.updateToken)
		if err := applyHook(ctx, gl, step, settings, opt.dryRun, e); err != nil {
			fmt.Fprintf(e.stdout, "  %s: ✗ %v\n", project, err)
			failed++
			continue
		}
		count[step.Action]++
	}
	verb := map[bool]string{false: "", true: "would be "}[opt.dryRun]
	fmt.Fprintf(e.stdout, "%d %screated, %d %supdated, %d up to date", count[setup.HookCreate], verb, count[setup.HookUpdate], verb, count[setup.HookKeep])
	if failed > 0 {
		fmt.Fprintf(e.stdout, ", %d failed\n", failed)
		return fmt.Errorf("hooks: %d of %d projects failed (why: above)", failed, len(projects))
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// applyHook carries out one step, or with dryRun only says it.
func applyHook(ctx context.Context, gl *gitlab.Client, step setup.HookStep, settings gitlab.HookSettings, dryRun bool, e *env) error {
	changes := strings.Join(step.Changes, ", ")
	switch {
	case step.Action == setup.HookKeep:
		fmt.Fprintf(e.stdout, "  %s: hook %d is up to date\n", step.Project, step.HookID)
	case dryRun && step.Action == setup.HookCreate:
		fmt.Fprintf(e.stdout, "  %s: would %s\n", step.Project, changes)
	case dryRun:
		fmt.Fprintf(e.stdout, "  %s: would update hook %d: %s\n", step.Project, step.HookID, changes)
	case step.Action == setup.HookCreate:
		h, err := bounded(ctx, func(ctx context.Context) (gitlab.Hook, error) { return gl.AddHook(ctx, step.Project, settings) })
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "  %s: created hook %d: push, tag push and merge request events, SSL verification, the secret token\n", step.Project, h.ID)
	default:
		if _, err := bounded(ctx, func(ctx context.Context) (gitlab.Hook, error) {
			return gl.EditHook(ctx, step.Project, step.HookID, settings)
		}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "  %s: updated hook %d: %s\n", step.Project, step.HookID, changes)
	}
	for _, w := range step.Warnings {
		fmt.Fprintf(e.stdout, "      warning: %s\n", w)
	}
	return nil
}
