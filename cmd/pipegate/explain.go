package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/freeze"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/wire"
)

func explainCommand() *command {
	c := newCommand("explain", "say what pipegate would do with one event, offline")
	c.args = "EVENT.json"
	c.minArgs, c.maxArgs = 1, 1
	c.argsHint = "name one event file, e.g. events/push.json"
	c.help = `Says, without calling AWS or GitLab, which pipelines a webhook event (an API
Gateway event or a bare GitLab body) would start and why every other service
would not, or what a CodePipeline event would do. The routing file is
PIPEGATE_CONFIG, else the bundled one; the token is checked against WEBHOOK_SECRET,
and the Standard Webhooks signature against WEBHOOK_SIGNING_SECRET when it is set.
For a production gate, --freeze-periods judges GitLab's deploy freeze periods
(its answer to GET /projects/:id/freeze_periods, saved to a file) at --at.`
	freezeFile := c.flags.String("freeze-periods", "", "GitLab's deploy freeze periods of the project, as GET /projects/:id/freeze_periods answers (a JSON `file`)")
	at := c.flags.String("at", "", "the `time` (RFC 3339) at which the gate judges the freeze periods (default: now)")
	c.run = func(_ context.Context, e *env, args []string) error {
		fz, err := loadFreeze(*freezeFile, *at, time.Now())
		if err != nil {
			return err
		}
		return explain(args[0], fz, e.getenv, e.stdout)
	}
	return c
}

// freezeInput is what explain judges deploy freezes with: GitLab's periods and a
// time; nil when no --freeze-periods was given.
type freezeInput struct {
	file    string
	periods []freeze.Period
	at      time.Time
}

func loadFreeze(file, at string, now time.Time) (*freezeInput, error) {
	if file == "" {
		if at != "" {
			return nil, &usageError{cmd: "explain", msg: "--at needs --freeze-periods"}
		}
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	periods, err := gitlab.DecodeFreezePeriods(data)
	if err != nil {
		return nil, fmt.Errorf("explain: %s: %w", file, err)
	}
	in := &freezeInput{file: file, periods: periods, at: now}
	if at != "" {
		if in.at, err = time.Parse(time.RFC3339, at); err != nil {
			return nil, &usageError{cmd: "explain", msg: fmt.Sprintf("--at %q is not an RFC 3339 time (2026-11-30T07:30:00Z)", at)}
		}
	}
	return in, nil
}

// freezeLine says what the deploy freeze would do to a gate that would open: the
// gate's own rule (internal/freeze) on --freeze-periods, else where it reads them.
func (x *explainer) freezeLine(indent string) error {
	if x.freeze == nil {
		x.printf("%sdeploy freezes: the gate reads the project's freeze periods from GitLab when it decides; inside one it approves nothing and the status says \"held: deploy freeze until <end>\" (--freeze-periods FILE judges them here)\n", indent)
		return nil
	}
	v, err := freeze.Active(x.freeze.periods, x.freeze.at)
	if err != nil {
		return fmt.Errorf("explain: %s: %w (the gate would stay shut: it fails closed)", x.freeze.file, err)
	}
	at := x.freeze.at.UTC().Format(time.RFC3339)
	if !v.Frozen {
		x.printf("%sdeploy freezes: at %s none of the %d period(s) of %s holds: the freeze would not hold the gate\n", indent, at, len(x.freeze.periods), x.freeze.file)
		return nil
	}
	// The end may be a later period's: one that begins as this one ends runs it on (freeze.Active).
	x.printf("%sdeploy freeze: at %s the period %q to %q (%s) holds, with any period that begins as it ends: even approved, the gate would wait, status \"held: deploy freeze until %s\"; the next evaluation after the end (the reconciler's at the latest) opens it\n",
		indent, at, v.Period.Start, v.Period.End, zoneName(v.Period.Timezone), v.Until.Format("Mon 2 Jan 15:04 MST"))
	return nil
}

func zoneName(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

// explain says what pipegate would do with one event file, from the routing file
// alone: it calls neither AWS nor GitLab. The decisions are the functions' own:
// it prints the plans the handlers carry out (app.PlanWebhook, app.PlanEvent).
func explain(file string, fz *freezeInput, getenv func(string) string, stdout io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	routes, source, err := wire.LoadRouting(getenv)
	if err != nil {
		return err
	}
	x := &explainer{w: stdout, routes: routes, freeze: fz}

	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return fmt.Errorf("explain: %s is not a JSON object: %v", file, err)
	}
	switch {
	case probe["detail-type"] != nil:
		return x.eventBridge(file, data, source)
	case probe["requestContext"] != nil || probe["routeKey"] != nil || (probe["headers"] != nil && probe["body"] != nil):
		h, body, req, err := apiGatewayEvent(file, data)
		if err != nil {
			return err
		}
		if m := req.RequestContext.HTTP.Method; m != "" && m != http.MethodPost {
			// GitLab delivers with POST; another route of the API (a badge, say) is no webhook.
			x.printf("%s: API Gateway request %s %s: not a webhook delivery, which GitLab POSTs; nothing to explain\n", file, m, req.RawPath)
			return nil
		}
		x.printf("%s: API Gateway event, X-Gitlab-Event %q, routing file %s (%d services)\n", file, h.Get("X-Gitlab-Event"), source, len(routes.Services))
		x.token(h, getenv("WEBHOOK_SECRET"))
		x.signature(h, body, getenv("WEBHOOK_SIGNING_SECRET"), time.Now())
		return x.webhook(file, h, body)
	case probe["object_kind"] != nil || probe["event_name"] != nil:
		h := http.Header{}
		event := hookName(probe)
		if event != "" {
			h.Set("X-Gitlab-Event", event)
		}
		x.printf("%s: GitLab webhook body (%s), routing file %s (%d services); a bare body has no token to check\n", file, kindOf(probe), source, len(routes.Services))
		if event == "" {
			x.printf("pipegate does not act on %s events: the webhook would answer 200 and do nothing\n", kindOf(probe))
			return nil
		}
		return x.webhook(file, h, data)
	}
	return fmt.Errorf("explain: %s is neither an API Gateway (or function URL) event, a GitLab webhook body (object_kind), nor an EventBridge event (detail-type)", file)
}

type explainer struct {
	w      io.Writer
	routes *routing.Config
	freeze *freezeInput
}

func (x *explainer) printf(format string, args ...any) { fmt.Fprintf(x.w, format, args...) }

// apiGatewayEvent reads the headers and body of an API Gateway HTTP API (payload
// 2.0) or Lambda function URL event, which share their shape.
func apiGatewayEvent(file string, data []byte) (http.Header, []byte, events.APIGatewayV2HTTPRequest, error) {
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, nil, req, fmt.Errorf("explain: %s is not an API Gateway HTTP API event: %w", file, err)
	}
	h, body, err := app.HTTPAPIDelivery(req) // as the function reads it
	if err != nil {
		return nil, nil, req, fmt.Errorf("explain: %s: isBase64Encoded, but the body is not base64: %w", file, err)
	}
	return h, body, req, nil
}

// hookName is the X-Gitlab-Event GitLab sends with a body of this kind; "" for a
// kind pipegate has no use for. System hooks name pushes in event_name only.
func hookName(probe map[string]json.RawMessage) string {
	var kind, event string
	_ = json.Unmarshal(probe["object_kind"], &kind)
	_ = json.Unmarshal(probe["event_name"], &event)
	switch {
	case kind == "push":
		return "Push Hook"
	case kind == "tag_push":
		return "Tag Push Hook"
	case kind == "merge_request":
		return "Merge Request Hook"
	case kind == "" && (event == "push" || event == "tag_push"):
		return "System Hook"
	}
	return ""
}

func kindOf(probe map[string]json.RawMessage) string {
	var kind string
	for _, k := range []string{"object_kind", "event_name"} {
		if json.Unmarshal(probe[k], &kind) == nil && kind != "" {
			return kind
		}
	}
	return "unnamed"
}

// token says whether the delivery would pass the webhook's token check. The
// secret and the token are never printed.
func (x *explainer) token(h http.Header, secret string) {
	switch {
	case secret == "":
		x.printf("token: WEBHOOK_SECRET is not set, so X-Gitlab-Token is not checked here (the function itself refuses every delivery without a secret)\n")
	case gitlabhook.Authenticate(h, secret) == nil:
		x.printf("token: X-Gitlab-Token matches WEBHOOK_SECRET\n")
	case h.Get("X-Gitlab-Token") == "":
		x.printf("token: no X-Gitlab-Token: the webhook would answer 401 and do nothing; with the right token it would do what follows\n")
	default:
		x.printf("token: X-Gitlab-Token does not match WEBHOOK_SECRET: the webhook would answer 401 and do nothing; with the right token it would do what follows\n")
	}
}

// signature says whether the delivery would pass the webhook's Standard Webhooks
// check (gitlabhook.VerifySignature, the function's own) with the signing secret
// WEBHOOK_SIGNING_SECRET at now. A stale delivery is checked once more at its
// own timestamp, so that an event file saved a while ago still says whether
// its signature is right. The secret and the signatures are never printed.
func (x *explainer) signature(h http.Header, body []byte, secret string, now time.Time) {
	signed := h.Get("webhook-signature") != ""
	if secret == "" {
		if signed {
			x.printf("signature: the delivery is signed, but WEBHOOK_SIGNING_SECRET is not set, so its signature is not checked here (a function without a signing secret checks only X-Gitlab-Token)\n")
		}
		return
	}
	err := gitlabhook.VerifySignature(h, body, secret, now)
	if errors.Is(err, gitlabhook.ErrStaleSignature) {
		if sec, perr := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64); perr == nil {
			signedAt := time.Unix(sec, 0).UTC()
			if gitlabhook.VerifySignature(h, body, secret, signedAt) == nil {
				x.printf("signature: matches WEBHOOK_SIGNING_SECRET, but it was made at %s, more than 5 minutes from now: the webhook would answer 401 (a replay) and do nothing; a fresh delivery from GitLab would do what follows\n", signedAt.Format(time.RFC3339))
				return
			}
		}
	}
	switch {
	case err == nil:
		x.printf("signature: a valid Standard Webhooks signature by WEBHOOK_SIGNING_SECRET (webhook-id %.60q)\n", h.Get("webhook-id"))
	default:
		x.printf("signature: %v: the webhook would answer 401 and do nothing; signed right it would do what follows\n", err)
	}
}

func (x *explainer) webhook(file string, h http.Header, body []byte) error {
	ev, err := gitlabhook.Decode(h, body)
	if err != nil {
		return fmt.Errorf("explain: %s: the webhook would answer 400: %w", file, err)
	}
	plan := app.PlanWebhook(x.routes, ev)
	switch ev.Kind {
	case gitlabhook.PushKind:
		x.push(ev.Push, body, plan)
	case gitlabhook.MergeRequestKind:
		return x.mergeRequest(ev.MergeRequest, plan)
	default:
		x.printf("%s: the webhook would answer 200 and do nothing\n", plan.Reason)
	}
	return nil
}

func (x *explainer) push(p *gitlabhook.Push, body []byte, plan app.WebhookPlan) {
	kind, noun := "push to branch", "branch"
	if p.Tag {
		kind, noun = "tag push", "tag"
	}
	x.printf("%s %s of %s (project %d)", kind, p.RefName(), p.Project, p.ProjectID)
	if p.User != "" {
		x.printf(" by %s", p.User)
	}
	switch {
	case p.Deleted():
		x.printf(": deletes the %s\n", noun)
	case p.CommitSHA != p.After:
		x.printf(": commit %s (the tagged commit; after is %s)\n", p.CommitSHA, p.After)
	default:
		x.printf(": commit %s\n", p.CommitSHA)
	}
	if p.HeadMessage != "" {
		x.printf("head commit message: %q\n", firstLineOf(p.HeadMessage))
	}
	if len(p.ChangedPaths) > 0 {
		x.printf("changed files the payload lists (%d): %s\n", len(p.ChangedPaths), joinFirst(p.ChangedPaths, 10))
	}

	if plan.Routing.NeedPaths {
		x.printf("%s: pipegate would ask GitLab's compare API for the files of %s from %s to %s, then match again (nothing is started before that)\n",
			pathsIncomplete(p, body), p.Project, p.CompareBase(), p.After)
		listed := *p
		listed.PathsKnown = true
		x.printf("on the files the payload lists, it would decide:\n")
		x.routing(&listed, app.PlanWebhook(x.routes, gitlabhook.Event{Kind: gitlabhook.PushKind, Push: &listed}))
		return
	}
	x.routing(p, plan)
}

// routing prints a push's plan: what starts, and why each other service does not.
func (x *explainer) routing(p *gitlabhook.Push, plan app.WebhookPlan) {
	r := plan.Routing
	if plan.Do == app.Ignore {
		x.printf("would start nothing: %s\n", plan.Reason)
	} else {
		x.printf("would start %d pipeline(s):\n", len(r.Targets))
		for _, s := range r.Targets {
			x.printf("  %s: pipeline %s, source action %s at commit %s, then commit status %q pending\n", s.Name, s.Pipeline, s.SourceAction, p.CommitSHA, s.Pipeline)
		}
	}
	why := map[string]string{}
	for _, k := range r.Skipped {
		why[k.Service] = k.Reason
	}
	started := map[string]bool{}
	for _, s := range r.Targets {
		started[s.Name] = true
	}
	first := true
	for _, s := range x.routes.Services {
		if started[s.Name] {
			continue
		}
		reason, ok := why[s.Name]
		switch {
		case ok:
		case !s.InProject(p.Project, p.ProjectID):
			reason = fmt.Sprintf("project %s, not %s", s.Project, p.Project)
		case r.Reason != "":
			reason = r.Reason
		default:
			reason = "its paths wait for the list of changed files"
		}
		if first {
			x.printf("would not start:\n")
			first = false
		}
		x.printf("  %s (%s): %s\n", s.Name, s.Pipeline, reason)
	}
}

// pathsIncomplete says why the payload does not list every changed file (see
// gitlabhook's changedPaths).
func pathsIncomplete(p *gitlabhook.Push, body []byte) string {
	var counts struct {
		Total   int64             `json:"total_commits_count"`
		Commits []json.RawMessage `json:"commits"`
	}
	_ = json.Unmarshal(body, &counts) // Decode has read it already
	switch {
	case p.Before == "" || p.Before == gitlabhook.ZeroSHA:
		return "a new branch: its changed files are counted from the default branch, which the payload does not list"
	case len(counts.Commits) == 0:
		return "the payload lists no commits"
	case int64(len(counts.Commits)) < counts.Total:
		return fmt.Sprintf("the payload lists %d of the %d pushed commits (GitLab lists at most 20)", len(counts.Commits), counts.Total)
	}
	return "the payload's commits do not list their files (a system hook)"
}

func (x *explainer) mergeRequest(m *gitlabhook.MergeRequest, plan app.WebhookPlan) error {
	action := m.Action
	if action == "" {
		action = "(none)"
	}
	x.printf("merge request !%d of %s (project %d), action %s\n", m.IID, m.Project, m.ProjectID, action)
	gates := plan.Gates
	if plan.Do == app.Ignore || len(gates) == 0 {
		x.printf("would do nothing: %s\n", plan.Reason)
		return nil
	}
	var others []routing.Service
	for _, s := range x.routes.Services {
		if !slices.ContainsFunc(gates, func(g routing.Service) bool { return g.Name == s.Name }) {
			others = append(others, s)
		}
	}
	x.printf("would re-evaluate the production gate of %d service(s):\n", len(gates))
	for _, s := range gates {
		p := s.Production
		x.printf("  %s: pipeline %s, approval %s/%s (min_approvals %d, author_can_approve %t, no_merge_request %s)\n",
			s.Name, s.Pipeline, p.Stage, p.ApprovalAction, p.MinApprovals, p.AuthorCanApprove, p.NoMergeRequest)
		if a := p.Approvers; a != nil {
			x.printf("    %s\n", approverPolicy(a))
		}
	}
	x.printf("for each, if an execution waits at that approval (GetPipelineState), pipegate reads the merge requests of its commit and their approvals from GitLab and approves once one is merged with enough approvals\n")
	if err := x.freezeLine(""); err != nil {
		return err
	}
	if len(others) > 0 {
		x.printf("not re-evaluated:\n")
		for _, s := range others {
			x.printf("  %s (%s): project %s, not %s\n", s.Name, s.Pipeline, s.Project, m.Project)
		}
	}
	return nil
}

// approverPolicy words production.approvers for explain: whose approvals count.
func approverPolicy(a *routing.Approvers) string {
	var who []string
	for _, u := range a.Users {
		who = append(who, "@"+u)
	}
	for _, g := range a.Groups {
		who = append(who, "members of "+g+" (GitLab's members/all: inherited included; active, Developer or above)")
	}
	return "only approvals by " + strings.Join(who, ", ") + " count; others are named as not counting"
}

// eventBridge explains an event of the pipeline-events function.
func (x *explainer) eventBridge(file string, data []byte, source string) error {
	var env events.CloudWatchEvent
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("explain: %s is not an EventBridge event: %w", file, err)
	}
	x.printf("%s: EventBridge event %q from %s, for the pipeline-events function; routing file %s (%d services)\n",
		file, env.DetailType, env.Source, source, len(x.routes.Services))
	plan := app.PlanEvent(x.routes, data)
	switch {
	case plan.Do == app.Reconcile:
		x.printf("the reconciler: it compares the recent executions of every routed pipeline with the commit statuses pipegate posted, repairs what a lost event left behind, and evaluates waiting production gates\n")
		return nil
	case plan.Unreadable:
		return fmt.Errorf("explain: %s: %s", file, plan.Reason)
	case !plan.IsChange:
		x.printf("would ignore it: %s\n", plan.Reason)
		return nil
	}
	ev, svc := plan.Change, plan.Service
	if !plan.Routed {
		x.printf("would ignore it: no service names pipeline %s\n", ev.Pipeline)
		return nil
	}
	x.printf("pipeline %s is service %s's (%s); execution %s, %s %s\n", ev.Pipeline, svc.Name, svc.Project, ev.ExecutionID, ev.Level, describeTarget(ev))
	p := svc.Production
	switch {
	case plan.Do == app.EvaluateGate:
		x.printf("the production approval %s/%s started: pipegate would evaluate the gate: the merge requests of the execution's commit and their approvals (GitLab), then approve it in CodePipeline or say on status %q what is missing\n",
			p.Stage, p.ApprovalAction, progress.StatusName(svc.Pipeline, p.Stage))
		if a := p.Approvers; a != nil {
			x.printf("approver policy: %s\n", approverPolicy(a))
		}
		if err := x.freezeLine(""); err != nil {
			return err
		}
	case plan.Do == app.Ignore && ev.Level == progress.ActionLevel:
		x.printf("would set no status: action events only matter as the start and the success of the production approval %s/%s\n", p.Stage, p.ApprovalAction)
	case plan.Do == app.MoveDeployment:
		x.printf("the production approval %s/%s was given: would move the GitLab deployment to environment %q to %s, unless a newer event already moved it further\n",
			p.Stage, p.ApprovalAction, plan.Environment, plan.Deployment)
	case plan.Do == app.Ignore:
		x.printf("would ignore it: %s\n", plan.Reason)
	case plan.Do == app.SetStatus:
		x.printf("would set commit status %q to %s on the execution's commit (from pipegate's store, else GetPipelineExecution), unless a newer event already set it\n", plan.Status, plan.State)
		if plan.GateOwns {
			x.printf("while %s runs, the production gate words that status: it says what the approval waits for\n", ev.Stage)
		}
		if plan.Environment != "" {
			why := ""
			if plan.Deployment == progress.DeployCreated {
				why = " (it waits for the production gate)"
			}
			x.printf("would create or move the execution's GitLab deployment to environment %q: %s%s, unless a newer event already moved it further\n",
				plan.Environment, plan.Deployment, why)
		}
	}
	return nil
}

func describeTarget(ev progress.Event) string {
	var parts []string
	for _, s := range []string{ev.Stage, ev.Action} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return ev.State
	}
	return strings.Join(parts, "/") + " " + ev.State
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// joinFirst joins the first n items and says how many more there are.
func joinFirst(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
