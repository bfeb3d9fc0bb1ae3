package setup

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pipegate/pipegate/internal/routing"
)

// Facts is what doctor gathered of a team's setup. Where AWS or GitLab answered
// with an error instead, its text is in an Err field (and, for GitLab, its
// HTTP status), so that the checks say what failed.
type Facts struct {
	Routes      *routing.Config
	RoutingFile string // its name, for the fixes
	Region      string

	Stack StackFacts
	// WebhookURL is pipegate's webhook URL (--url, else the stack's output
	// WebhookUrl); "" when neither gives it.
	WebhookURL string
	Secrets    []SecretFacts
	Pipelines  map[string]PipelineFacts // by pipeline name
	GitLab     GitLabFacts
}

// StackFacts is pipegate's deployed stack.
type StackFacts struct {
	Name                string
	Missing             bool   // CloudFormation has no such stack
	Err                 string // it could not be read
	Status              string
	Parameters, Outputs map[string]string
}

// SecretFacts is one of the stack's secrets, named by its output.
type SecretFacts struct {
	Output string // the stack output that names it
	ARN    string // "" when the stack has no such output
	Err    string
	Empty  bool // it holds no value
}

// PipelineFacts is one routed pipeline.
type PipelineFacts struct {
	Missing     bool
	Err         string
	Declaration Pipeline
}

// GitLabFacts is what GitLab said.
type GitLabFacts struct {
	URL    string // the GitLab checked
	EnvURL string // GITLAB_URL, "" when unset
	// Tokens are the tokens checked: the one doctor calls GitLab with first,
	// then pipegate's own (the stack's secret) when that is another.
	Tokens   []TokenFacts
	Projects map[string]ProjectFacts // by routed project
}

// TokenFacts is what GitLab says of a token (GET /personal_access_tokens/self).
type TokenFacts struct {
	Who    string // "GITLAB_TOKEN", "pipegate's token (secret ...)"
	Err    string
	Status int
	// NotReported: GitLab does not say (the token is not a personal, project or group access token).
	NotReported     bool
	Scopes          []string
	Active, Revoked bool
	ExpiresAt       time.Time
	// SecretARN, for pipegate's own token, is the secret that holds it.
	SecretARN string
}

// ProjectFacts is one routed project, read with the first token.
type ProjectFacts struct {
	Path        string // path_with_namespace, when reached
	ReachErr    string
	ReachStatus int
	Hooks       []Hook
	HooksErr    string
	HooksStatus int
}

// Check is one thing doctor checked: what it found and, when it is not right,
// the fix.
type Check struct {
	Area string // Stack, Pipelines, GitLab
	OK   bool
	Says string
	Fix  string
}

// Doctor checks the facts: pipegate's stack and its secrets, the event rule,
// each routed pipeline's source action and production gate, and GitLab's
// token, projects and webhooks.
func Doctor(f Facts) []Check {
	var c []Check
	c = append(c, stackChecks(f)...)
	c = append(c, pipelineChecks(f)...)
	c = append(c, gitlabChecks(f)...)
	return c
}

func pass(area, format string, args ...any) Check {
	return Check{Area: area, OK: true, Says: fmt.Sprintf(format, args...)}
}

func fail(area, fix, format string, args ...any) Check {
	return Check{Area: area, Says: fmt.Sprintf(format, args...), Fix: fix}
}

// where names a service's place in the routing file, for a fix.
func (f Facts) where(s routing.Service) string {
	return fmt.Sprintf("service %s, %s line %d", s.Name, f.RoutingFile, s.Line)
}

func stackChecks(f Facts) []Check {
	const area = "Stack"
	st := f.Stack
	var c []Check
	if st.Err != "" || st.Missing {
		if st.Err != "" {
			c = append(c, fail(area, "allow cloudformation:DescribeStacks to your credentials, and check the region (AWS_REGION)",
				"cannot read stack %s: %s", st.Name, st.Err))
		} else {
			c = append(c, fail(area, "deploy pipegate (sam deploy), or name its stack with --stack", "no stack %s in %s", st.Name, f.Region))
		}
		if f.WebhookURL == "" {
			c = append(c, fail(area, "deploy pipegate, or give --url", "pipegate's webhook URL is unknown, so its GitLab webhooks cannot be checked"))
		}
		return c
	}
	switch {
	case strings.HasSuffix(st.Status, "_IN_PROGRESS"):
		c = append(c, fail(area, "wait for it to finish, then run pipegate doctor again", "stack %s is %s", st.Name, st.Status))
	case strings.Contains(st.Status, "FAILED") || st.Status == "ROLLBACK_COMPLETE" || st.Status == "DELETE_COMPLETE":
		c = append(c, fail(area, fmt.Sprintf("read its events (aws cloudformation describe-stack-events --stack-name %s) and deploy again", st.Name),
			"stack %s is %s", st.Name, st.Status))
	default:
		c = append(c, pass(area, "stack %s is %s", st.Name, st.Status))
	}
	if f.WebhookURL == "" {
		c = append(c, fail(area, "deploy the current template.yaml, or give --url", "stack %s has no output %s: pipegate's webhook URL is unknown", st.Name, OutputWebhookURL))
	}
	for _, s := range f.Secrets {
		c = append(c, secretCheck(st.Name, s))
	}
	if f.GitLab.EnvURL != "" {
		if p := st.Parameters[ParamGitLabURL]; p != "" && !SameURL(strings.TrimSuffix(p, "/"), strings.TrimSuffix(f.GitLab.EnvURL, "/")) {
			c = append(c, fail(area, fmt.Sprintf("deploy with %s=%s, or unset GITLAB_URL", ParamGitLabURL, f.GitLab.EnvURL),
				"pipegate calls GitLab at %s (the stack's %s), but GITLAB_URL is %s", p, ParamGitLabURL, f.GitLab.EnvURL))
		}
	}
	c = append(c, eventRuleCheck(f))
	return c
}

func secretCheck(stack string, s SecretFacts) Check {
	const area = "Stack"
	put := fmt.Sprintf("aws secretsmanager put-secret-value --secret-id %s --secret-string ", s.ARN)
	switch {
	case s.ARN == "":
		return fail(area, "deploy the current template.yaml", "stack %s has no output %s", stack, s.Output)
	case s.Err != "":
		return fail(area, "allow secretsmanager:GetSecretValue on it to your credentials", "cannot read secret %s (%s): %s", s.ARN, s.Output, s.Err)
	case s.Empty && s.Output == OutputWebhookSecret:
		return fail(area, put+"<a long random string>, then pipegate hooks --update-token", "secret %s (%s) holds no value", s.ARN, s.Output)
	case s.Empty:
		return fail(area, put+"<your GitLab token, scope api>", "secret %s (%s) holds no value", s.ARN, s.Output)
	}
	return pass(area, "secret %s (%s) holds a value", s.ARN, s.Output)
}

// eventRuleCheck compares the pipelines the stack's event rule takes with the
// routed ones. The rule's pattern is the stack parameter PipelineNames, which
// DescribeStacks already gave: reading the rule itself (events:DescribeRule)
// would need another permission and tell the same.
func eventRuleCheck(f Facts) Check {
	const area = "Stack"
	names, ok := f.Stack.Parameters[ParamPipelineNames]
	if !ok {
		return fail(area, "deploy the current template.yaml",
			"stack %s has no parameter %s, so doctor cannot tell which pipelines its event rule takes", f.Stack.Name, ParamPipelineNames)
	}
	taken := strings.Split(names, pipelineNamesDivider)
	var routed, missing []string
	for _, s := range f.Routes.Services {
		routed = append(routed, s.Pipeline)
		if !slices.Contains(taken, s.Pipeline) {
			missing = append(missing, s.Pipeline)
		}
	}
	if len(missing) > 0 {
		return fail(area, fmt.Sprintf("deploy with %s=%s", ParamPipelineNames, strings.Join(routed, pipelineNamesDivider)),
			"the event rule (stack parameter %s) leaves out %s: their state changes never reach pipegate, so their commit statuses and production gates never move",
			ParamPipelineNames, strings.Join(missing, ", "))
	}
	return pass(area, "the event rule takes every routed pipeline (stack parameter %s)", ParamPipelineNames)
}

func pipelineChecks(f Facts) []Check {
	const area = "Pipelines"
	var c []Check
	for _, s := range f.Routes.Services {
		p, ok := f.Pipelines[s.Pipeline]
		switch {
		case !ok:
			continue
		case p.Missing:
			c = append(c, fail(area, fmt.Sprintf("create it, or name the pipeline of %s", f.where(s)),
				"pipeline %s (service %s) does not exist in %s", s.Pipeline, s.Name, f.Region))
			continue
		case p.Err != "":
			c = append(c, fail(area, "allow codepipeline:GetPipeline to your credentials", "cannot read pipeline %s: %s", s.Pipeline, p.Err))
			continue
		}
		c = append(c, sourceChecks(f, s, p.Declaration)...)
		c = append(c, gateCheck(f, s, p.Declaration))
	}
	return c
}

// find returns the action called name and its stage.
func find(p Pipeline, name string) (Action, string, bool) {
	for _, st := range p.Stages {
		for _, a := range st.Actions {
			if a.Name == name {
				return a, st.Name, true
			}
		}
	}
	return Action{}, "", false
}

func sourceChecks(f Facts, s routing.Service, p Pipeline) []Check {
	const area = "Pipelines"
	a, _, ok := find(p, s.SourceAction)
	var sources []string
	for _, st := range p.Stages {
		for _, x := range st.Actions {
			if x.Category == sourceCategory {
				sources = append(sources, x.Name)
			}
		}
	}
	switch {
	case !ok && len(sources) > 0:
		return []Check{fail(area, fmt.Sprintf("set source_action to one of them (%s)", f.where(s)),
			"%s has no action %s (its source actions: %s)", p.Name, s.SourceAction, strings.Join(sources, ", "))}
	case !ok:
		return []Check{fail(area, "add a CodeConnections source action of project "+s.Project, "%s has no action %s, nor any source action", p.Name, s.SourceAction)}
	case a.Category != sourceCategory:
		return []Check{fail(area, fmt.Sprintf("set source_action to its source action (%s)", f.where(s)),
			"%s's action %s is a %s action, not its source", p.Name, a.Name, a.Category)}
	case a.Provider != ConnectionsProvider:
		return []Check{fail(area, "make "+a.Name+" a CodeConnections source action of project "+s.Project,
			"%s's source action %s reads from %s: pipegate starts a pipeline at a GitLab commit, which takes a CodeConnections source (%s)", p.Name, a.Name, a.Provider, ConnectionsProvider)}
	}
	project := s.Project
	if pf, ok := f.GitLab.Projects[s.Project]; ok && pf.Path != "" {
		project = pf.Path // a project routed by its numeric id
	}
	repo := a.Configuration["FullRepositoryId"]
	if repo == "" {
		return []Check{fail(area, fmt.Sprintf("set FullRepositoryId of %s to %s", a.Name, project),
			"%s's source action %s names no repository (FullRepositoryId)", p.Name, a.Name)}
	}
	if _, err := strconv.ParseInt(project, 10, 64); err != nil && !strings.EqualFold(repo, project) { // a path, not an unresolved id
		return []Check{fail(area, fmt.Sprintf("point %s at %s (FullRepositoryId), or route project %s (%s)", a.Name, project, repo, f.where(s)),
			"%s's source action %s reads %s, but service %s is project %s: pipegate would start it at commits of %s", p.Name, a.Name, repo, s.Name, project, project)}
	}
	c := []Check{pass(area, "%s: source action %s reads %s through CodeConnections", p.Name, a.Name, repo)}
	if w := changeDetection(a); w != "" {
		c = append(c, fail(area, fmt.Sprintf("set DetectChanges to \"false\" in %s's configuration (pipelines/service-pipeline.yaml does)", a.Name), "%s: %s", p.Name, w))
	} else {
		c = append(c, pass(area, "%s: %s's change detection is off: only pipegate starts it", p.Name, a.Name))
	}
	return c
}

func gateCheck(f Facts, s routing.Service, p Pipeline) Check {
	const area = "Pipelines"
	stage, approval := s.Production.Stage, s.Production.ApprovalAction
	i := slices.IndexFunc(p.Stages, func(st Stage) bool { return st.Name == stage })
	if i < 0 {
		var names []string
		for _, st := range p.Stages {
			names = append(names, st.Name)
		}
		return fail(area, fmt.Sprintf("set production.stage to the stage of its manual approval (%s)", f.where(s)),
			"%s has no stage %s (its stages: %s)", p.Name, stage, strings.Join(names, ", "))
	}
	j := slices.IndexFunc(p.Stages[i].Actions, func(a Action) bool { return a.Name == approval })
	if j < 0 {
		var names []string
		for _, a := range p.Stages[i].Actions {
			names = append(names, a.Name)
		}
		return fail(area, fmt.Sprintf("set production.approval_action to its manual approval (%s)", f.where(s)),
			"stage %s of %s has no action %s (its actions: %s)", stage, p.Name, approval, strings.Join(names, ", "))
	}
	if a := p.Stages[i].Actions[j]; a.Category != approvalCategory || a.Provider != manualProvider {
		return fail(area, fmt.Sprintf("name its manual approval action in production.approval_action (%s)", f.where(s)),
			"%s in stage %s of %s is a %s action (%s), not a manual approval", approval, stage, p.Name, a.Category, a.Provider)
	}
	return pass(area, "%s: production gate %s in stage %s is a manual approval", p.Name, approval, stage)
}

func gitlabChecks(f Facts) []Check {
	const area = "GitLab"
	g := f.GitLab
	if len(g.Tokens) == 0 {
		return []Check{fail(area, "set GITLAB_TOKEN to a token (scope api) of a Maintainer of the routed projects",
			"no GitLab token: GITLAB_TOKEN is not set and the stack's token secret could not be read")}
	}
	var c []Check
	for _, t := range g.Tokens {
		c = append(c, tokenCheck(g.URL, t))
	}
	for _, project := range Projects(f.Routes) {
		p, ok := g.Projects[project]
		if !ok {
			continue
		}
		var s routing.Service
		for _, svc := range f.Routes.Services {
			if strings.EqualFold(svc.Project, project) {
				s = svc
				break
			}
		}
		switch {
		case p.ReachStatus == 404:
			c = append(c, fail(area, fmt.Sprintf("add the token's user to %s (Developer; Maintainer to read its webhooks), or fix the project of %s", project, f.where(s)),
				"the token does not reach project %s (404: no such project, or the token's user is not a member)", project))
			continue
		case p.ReachErr != "":
			c = append(c, fail(area, "check GITLAB_URL and the token", "cannot read project %s: %s", project, p.ReachErr))
			continue
		}
		c = append(c, pass(area, "the token reaches %s", project))
		if f.WebhookURL == "" {
			continue // the stack checks said why
		}
		c = append(c, hookChecks(project, f.WebhookURL, p)...)
	}
	return c
}

func tokenCheck(gitlabURL string, t TokenFacts) Check {
	const area = "GitLab"
	fix := "make a token with scope api (GitLab: Preferences > Access tokens) and set GITLAB_TOKEN to it"
	if t.SecretARN != "" {
		fix = fmt.Sprintf("put a token with scope api into it: aws secretsmanager put-secret-value --secret-id %s --secret-string <token>", t.SecretARN)
	}
	switch {
	case t.Status == 401:
		return fail(area, fix, "GitLab at %s refuses %s (401 Unauthorized)", gitlabURL, t.Who)
	case t.NotReported:
		return pass(area, "GitLab does not say the scopes of %s (not a personal, project or group access token); pipegate needs api", t.Who)
	case t.Err != "":
		return fail(area, "check GITLAB_URL", "cannot read the scopes of %s: %s", t.Who, t.Err)
	case t.Revoked || !t.Active:
		return fail(area, fix, "%s is revoked or expired", t.Who)
	case !slices.Contains(t.Scopes, "api"):
		return fail(area, fix, "%s has scopes %s, not api: pipegate posts commit statuses and deployments, which take api", t.Who, strings.Join(t.Scopes, ", "))
	}
	expires := ""
	if !t.ExpiresAt.IsZero() {
		expires = ", expires " + t.ExpiresAt.Format(time.DateOnly)
	}
	return pass(area, "%s has scope api%s", t.Who, expires)
}

func hookChecks(project, url string, p ProjectFacts) []Check {
	const area = "GitLab"
	switch {
	case p.HooksStatus == 403:
		return []Check{fail(area, "run pipegate doctor with a token of a Maintainer of "+project, "cannot list the webhooks of %s (403): that takes the Maintainer role", project)}
	case p.HooksErr != "":
		return []Check{fail(area, "check GITLAB_URL and the token", "cannot list the webhooks of %s: %s", project, p.HooksErr)}
	}
	var mine []Hook
	for _, h := range p.Hooks {
		if SameURL(h.URL, url) {
			mine = append(mine, h)
		}
	}
	if len(mine) == 0 {
		return []Check{fail(area, "pipegate hooks", "%s has no webhook to %s: its pushes never reach pipegate", project, url)}
	}
	h := mine[0]
	var c []Check
	if lacks := Lacks(h); len(lacks) > 0 {
		c = append(c, fail(area, "pipegate hooks", "%s's webhook (hook %d) lacks %s", project, h.ID, strings.Join(lacks, ", ")))
	} else {
		c = append(c, pass(area, "%s has pipegate's webhook (hook %d): push, tag push and merge request events, SSL verification", project, h.ID))
	}
	if len(mine) > 1 {
		var ids []string
		for _, o := range mine {
			ids = append(ids, strconv.FormatInt(o.ID, 10))
		}
		c = append(c, fail(area, "keep one of them (Settings > Webhooks)", "%s has %d webhooks to pipegate (hooks %s): GitLab sends each event to each", project, len(mine), strings.Join(ids, ", ")))
	}
	if d := Disabled(h); d != "" {
		c = append(c, fail(area, ReenableFix, "%s: %s", project, d))
	} else {
		c = append(c, pass(area, "GitLab delivers to %s's webhook (alert_status executable)", project))
	}
	return c
}
