package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/bmatcuk/doublestar/v4"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
)

// demoRouting is the demo's own sample world. It is not the bundled pipegate.yaml:
// that file is the team's to edit, and the demo must work whatever it routes.
//
//go:embed demo/pipegate.yaml
var demoRouting []byte

const demoRoutingName = "the demo's own sample world (cmd/pipegate/demo/pipegate.yaml)"

const demoUsage = `usage: pipegate demo [--routing FILE] [--service NAME] [--events DIR]

Runs the whole flow on a laptop and checks every step of it: the push of a merged
merge request starts the service's pipeline in a CodePipeline stand-in, which runs
it stage by stage; an embedded GitLab shows every stage; the production gate waits
for the merge request's approvals, and a merge request webhook finds them; a deploy
freeze in GitLab still holds production until it is lifted, and pipegate's
reconciler opens the gate at its next run. Nothing reaches AWS or GitLab: GITLAB_URL, GITLAB_TOKEN and WEBHOOK_SECRET are not read.

The world is the demo's own sample unless --routing or PIPEGATE_CONFIG names a
routing file; then it is that file alone: its projects, pipelines, stage and
action names and production policy. The story is its first service's, or
--service's.

--events DIR writes the story's deliveries (push.json, merge-request-approved.json:
API Gateway events) and the CodePipeline events of its run (EventBridge events)
to DIR: samples of your routing file for pipegate invoke, pipegate explain and
sam local invoke -e (with events/env.json), as events/ holds for the sample world.`

// The demo's story: ada's merge request !118 is merged as commit demoCommit into
// a branch the service deploys; the push starts the service's pipeline; it runs
// through staging and waits at the production gate while the approvals the
// routing file asks for are missing (ada's own counts only if author_can_approve);
// grace approves, GitLab sends the merge request webhook; the project's deploy
// freeze (on from the demo's start) holds the gate; the team lifts the freeze,
// the reconciler's next run opens the gate, production succeeds.
const (
	demoBefore  = "5f2c9e0d4b7a8c1e3f6d2b9a0c4e7f1d8b3a6c5e"
	demoChange  = "e4a7c2f9b1d6e3a8c5f0b7d2e9a4c1f6b3d8e5a2" // the merge request's commit
	demoCommit  = "9c1e4b7d2a5f8e3c6b0d9a4f7e2c5b8d1a6f3e0c" // its merge commit
	demoMR      = 118
	demoAuthor  = "ada"
	demoTimeout = 45 * time.Second
)

// demoReviewers approve, in this order, what the author's approval does not cover.
var demoReviewers = []string{"grace", "linus", "margaret", "barbara", "ken"}

// demoWorld is what the demo runs on: a routing file, the service whose story it
// tells, and the push and merge request that story needs, all taken from that
// routing file.
type demoWorld struct {
	source    string // the routing file, as the demo names it
	routes    *routing.Config
	svc       routing.Service
	projectID int64
	project   string   // path_with_namespace in the payloads
	branch    string   // a branch the service deploys
	files     []string // what the merge request changes: files the service's paths match
	reviewers []string // who approves after the author, as many as the gate needs
}

// loadDemoWorld reads the routing file (path; "" is the demo's own) and makes up
// the story of service (""; the first).
func loadDemoWorld(path, service string) (*demoWorld, error) {
	w := &demoWorld{source: demoRoutingName}
	data := demoRouting
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("demo: read the routing file: %w", err)
		}
		w.source, data = path, b
	}
	routes, err := routing.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("demo: %s: %w", w.source, err)
	}
	w.routes, w.svc = routes, routes.Services[0]
	if service != "" {
		var ok bool
		if w.svc, ok = routes.Named(service); !ok {
			var names []string
			for _, s := range routes.Services {
				names = append(names, s.Name)
			}
			return nil, fmt.Errorf("demo: %s has no service %q; it has %s", w.source, service, strings.Join(names, ", "))
		}
	}
	for _, p := range standInProjects(routes) {
		if strings.EqualFold(p.path, w.svc.Project) {
			w.projectID, w.project = p.id, p.path
		}
	}
	if w.project == fmt.Sprint(w.projectID) {
		// Named by its id: GitLab's payloads still carry a path.
		w.project = fmt.Sprintf("demo/project-%d", w.projectID)
	}

	w.branch = "main" // the project's default branch, which a service without branches deploys
	if len(w.svc.Branches) > 0 {
		if w.branch, err = exampleOf(w.svc.Branches[0]); err != nil {
			return nil, fmt.Errorf("demo: service %s: branches: %w", w.svc.Name, err)
		}
	}
	w.files = []string{"README.md"}
	if len(w.svc.Paths) > 0 {
		f, err := exampleOf(w.svc.Paths[0])
		if err != nil {
			return nil, fmt.Errorf("demo: service %s: paths: %w", w.svc.Name, err)
		}
		w.files = []string{f}
	}
	// The push must start the service; the routing decision itself says whether it does.
	r := routes.Match(w.push())
	if !slices.ContainsFunc(r.Targets, func(s routing.Service) bool { return s.Name == w.svc.Name }) {
		why := r.Reason
		for _, k := range r.Skipped {
			if k.Service == w.svc.Name {
				why = k.Reason
			}
		}
		return nil, fmt.Errorf("demo: a push to %s of %s would not start service %s: %s", w.branch, w.svc.Project, w.svc.Name, why)
	}

	counted := 0
	if w.svc.Production.AuthorCanApprove {
		counted = 1 // ada approved her own merge request
	}
	for i := range max(w.svc.Production.MinApprovals-counted, 0) {
		if i < len(demoReviewers) {
			w.reviewers = append(w.reviewers, demoReviewers[i])
		} else {
			w.reviewers = append(w.reviewers, fmt.Sprintf("reviewer-%d", i+1))
		}
	}
	return w, nil
}

// push is the story's push, as the webhook decodes it.
func (w *demoWorld) push() *gitlabhook.Push {
	return &gitlabhook.Push{
		ProjectID: w.projectID, Project: w.project, DefaultBranch: "main",
		Ref: "refs/heads/" + w.branch, Before: demoBefore, After: demoCommit, CommitSHA: demoCommit,
		ChangedPaths: w.files, PathsKnown: true,
	}
}

// shape is the stand-in pipeline of the service, as startStack builds it.
func (w *demoWorld) shape() []emulator.StageSpec {
	p := w.svc.Production
	return emulator.DefaultShape(w.svc.SourceAction, w.svc.StagingStage, p.Stage, p.ApprovalAction)
}

// exampleOf makes up a name that glob matches: the branch the demo pushes to, or
// the file its merge request changes.
func exampleOf(glob string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '\\':
			if i+1 < len(glob) {
				i++
				b.WriteByte(glob[i])
			}
		case '*':
			for i+1 < len(glob) && glob[i+1] == '*' {
				i++
			}
			b.WriteString("demo")
		case '?':
			b.WriteByte('x')
		case '[':
			end := strings.IndexByte(glob[i+1:], ']')
			if end < 0 {
				return "", fmt.Errorf("cannot make up a name that %q matches", glob)
			}
			class := glob[i+1 : i+1+end]
			i += 1 + end
			if strings.HasPrefix(class, "!") || strings.HasPrefix(class, "^") {
				b.WriteByte('~') // rarely in a class, and valid in refs and file names
			} else if class != "" {
				b.WriteByte(class[0])
			}
		case '{':
			end := strings.IndexByte(glob[i+1:], '}')
			if end < 0 {
				return "", fmt.Errorf("cannot make up a name that %q matches", glob)
			}
			alt, _, _ := strings.Cut(glob[i+1:i+1+end], ",")
			i += 1 + end
			sub, err := exampleOf(alt)
			if err != nil {
				return "", err
			}
			b.WriteString(sub)
		default:
			b.WriteByte(c)
		}
	}
	name := b.String()
	if ok, _ := doublestar.Match(glob, name); !ok || name == "" {
		return "", fmt.Errorf("cannot make up a name that %q matches", glob)
	}
	return name, nil
}

// demoCheck is one thing the demo must see happen.
type demoCheck struct {
	what string
	seen func(d *demoRun) bool
}

// demoRun is what the demo saw.
type demoRun struct {
	world  *demoWorld
	stack  *stack
	mu     sync.Mutex
	waited string // the gate's reason while it waited
	pushed app.Answer
	merged app.Answer
	// delivered is what pipegate was sent, by the name of its --events file.
	delivered map[string][]byte
	atGate    chan struct{} // closed when the gate first waits
	held      string        // the gate's reason while the deploy freeze held it
	atFreeze  chan struct{} // closed when the deploy freeze first holds the gate
	freeze    emulator.FreezePeriod
	// approvedBefore counts the approvals CodePipeline had received before the
	// freeze was lifted: none, or the freeze did not hold.
	approvedBefore int
	reconciled     bool          // the reconciler ran after the freeze was lifted
	done           chan struct{} // closed when the pipeline's own event says it ended
}

func demoCommand() *command {
	c := newCommand("demo", "the whole flow on a laptop, every step checked")
	c.help = strings.TrimPrefix(demoUsage[strings.Index(demoUsage, "\n\n"):], "\n\n")
	c.maxArgs = 0
	routingPath := c.flags.String("routing", "", "the routing `file` (default: PIPEGATE_CONFIG, else the demo's own sample world)")
	service := c.flags.String("service", "", "the service whose story the demo tells (default: the first)")
	eventsDir := c.flags.String("events", "", "write the story's webhook deliveries and CodePipeline events to this `directory`")
	c.run = func(ctx context.Context, e *env, _ []string) error {
		path := *routingPath
		if path == "" {
			path = e.getenv("PIPEGATE_CONFIG")
		}
		w, err := loadDemoWorld(path, *service)
		if err != nil {
			return err
		}
		return runDemo(ctx, w, demoPace, *eventsDir, e.stdout, e.stderr)
	}
	return c
}

// demo runs the demo command line args, as `pipegate demo ARGS` does.
func demo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return demoCommand().dispatch(ctx, &env{getenv: getenv, stdout: stdout, stderr: stderr, loadAWS: defaultLoadAWS}, args)
}

// demoPace is the time between two state changes of the stand-in's runs: slow
// enough to read the story as it happens.
const demoPace = 120 * time.Millisecond

// runDemo tells the story of w, one state change every step, and checks it; with
// eventsDir, it writes there what was delivered to pipegate.
func runDemo(ctx context.Context, w *demoWorld, step time.Duration, eventsDir string, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	out := newPrinter(stdout)
	d := &demoRun{world: w, atGate: make(chan struct{}), atFreeze: make(chan struct{}), done: make(chan struct{}), delivered: map[string][]byte{}}
	var once, frozen, end sync.Once
	heldBy := func(reason string) {
		if !strings.HasPrefix(reason, "deploy freeze until ") {
			return
		}
		d.mu.Lock()
		d.held = reason
		d.mu.Unlock()
		frozen.Do(func() { close(d.atFreeze) })
	}
	pushAnswered := make(chan struct{})
	answered := sync.OnceFunc(func() { close(pushAnswered) })
	defer answered()
	// The stand-ins only: the shell's GitLab, token and secret are not the demo's.
	shellless := func(string) string { return "" }
	s, err := startStack(ctx, shellless, out, stackOptions{
		listen: "127.0.0.1:0", step: step, advance: 23 * time.Second, routes: w.routes, eventsAfter: pushAnswered,
		log: slog.New(slog.NewJSONHandler(stderr, nil)),
		afterEvent: func(raw []byte, ev progress.Event, ans app.EventAnswer, err error) {
			if ev.Pipeline != w.svc.Pipeline {
				return
			}
			d.record(eventFileName(ev), raw)
			if ans.Result == app.EventGate && ans.Gate == gate.Wait {
				d.mu.Lock()
				if d.waited == "" {
					d.waited = ans.Reason
				}
				d.mu.Unlock()
				once.Do(func() { close(d.atGate) })
				heldBy(ans.Reason)
			}
			if ev.Level == progress.PipelineLevel && ev.State != "STARTED" {
				end.Do(func() { close(d.done) })
			}
		},
	})
	if err != nil {
		return err
	}
	d.stack = s
	defer func() { cancel(); s.wait() }()

	svc, prod := w.svc, w.svc.Production
	// The commit's merge request, approved so far only by its author.
	mr := emulator.MergeRequest{IID: demoMR, Title: "Retry calls that time out", State: "merged",
		SourceBranch: "retry-timeouts", TargetBranch: w.branch, SHA: demoChange, MergeCommitSHA: demoCommit,
		Author: demoAuthor, ApprovedBy: []string{demoAuthor}}
	s.gl.AddMergeRequest(svc.Project, mr)
	// The project's deploy freeze, on from now for two hours.
	var until time.Time
	d.freeze, until = demoFreeze(time.Now())
	s.gl.SetFreezePeriods(svc.Project, d.freeze)

	out.textf("pipegate demo on %s (%d services)\n", w.source, len(w.routes.Services))
	out.textf("service %s: project %s, pipeline %s, production gate %s/%s (min_approvals %d, author_can_approve %t)\n",
		svc.Name, svc.Project, svc.Pipeline, prod.Stage, prod.ApprovalAction, prod.MinApprovals, prod.AuthorCanApprove)
	out.textf("the webhook on http://%s/webhook, a CodePipeline stand-in that runs every routed pipeline\n"+
		"(stages %s), an embedded GitLab, the in-memory store.\n", s.addr, strings.Join(stageNames(w.shape()), ", "))
	out.textf("GitLab has a deploy freeze on for %s: from %s to %s %s every day (freeze_start %q, freeze_end %q):\n"+
		"nothing goes to production before %s.\n\n",
		svc.Project, until.Add(-demoFreezeLength).Format("15:04"), until.Format("15:04"), d.freeze.CronTimezone,
		d.freeze.FreezeStart, d.freeze.FreezeEnd, until.Format("15:04"))

	out.textf("1. %s merges !%d into %s of %s: GitLab sends a push webhook\n", demoAuthor, demoMR, w.branch, svc.Project)
	push := webhookDelivery("Push Hook", "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c41", s.app.Secret, w.pushBody())
	d.record("push.json", push)
	d.pushed, err = s.deliver(ctx, push)
	answered()
	if err != nil {
		return err
	}
	if len(w.reviewers) == 0 {
		out.textf("\n2. !%d has the approvals the gate asks for: the deploy freeze holds it once %s starts\n", demoMR, prod.ApprovalAction)
	} else {
		select {
		case <-d.atGate:
		case <-d.done:
		case <-ctx.Done():
		}
		verb := "approve"
		if len(w.reviewers) == 1 {
			verb = "approves"
		}
		out.textf("\n2. %s %s !%d in GitLab: GitLab sends a merge request webhook\n", andList(w.reviewers), verb, demoMR)
		mr.ApprovedBy = append([]string{demoAuthor}, w.reviewers...)
		s.gl.AddMergeRequest(svc.Project, mr)
		approved := webhookDelivery("Merge Request Hook", "9d1f3b5a-7c2e-4b6d-8f0a-2c4e6a8b0d57", s.app.Secret, w.mergeRequestBody())
		d.record("merge-request-approved.json", approved)
		if d.merged, err = s.deliver(ctx, approved); err != nil {
			return err
		}
		for _, g := range d.merged.Gates {
			if g.Pipeline == svc.Pipeline {
				heldBy(g.Reason)
			}
		}
	}
	select {
	case <-d.atFreeze:
		d.approvedBefore = len(approvalsOf(s.cp, svc.Pipeline))
		out.textf("\n3. The team lifts the deploy freeze early in GitLab (Settings > CI/CD > Deploy freezes);\n" +
			"   pipegate's reconciler, which runs every 5 minutes, re-evaluates the gate\n")
		s.gl.SetFreezePeriods(svc.Project)
		if _, err := s.app.Reconcile(ctx); err != nil {
			out.textf("   the reconciler: %v\n", err)
		}
		d.reconciled = true
	case <-d.done:
	case <-ctx.Done():
	}
	select {
	case <-d.done:
	case <-ctx.Done():
	}
	if eventsDir != "" {
		if err := d.writeEvents(eventsDir, out); err != nil {
			return err
		}
	}
	return d.summary(out)
}

// record keeps an event pipegate was sent (JSON), under the name --events gives
// its file.
func (d *demoRun) record(name string, event any) {
	b, ok := event.([]byte)
	if !ok {
		b, _ = json.Marshal(event) // an events type: cannot fail
	}
	var indented bytes.Buffer
	if json.Indent(&indented, b, "", "  ") == nil {
		b = append(indented.Bytes(), '\n')
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.delivered[name] = b
}

// writeEvents writes the recorded events to dir, one file each.
func (d *demoRun) writeEvents(dir string, out *printer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: --events: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	names := slices.Sorted(maps.Keys(d.delivered))
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), d.delivered[name], 0o644); err != nil {
			return fmt.Errorf("demo: --events: %w", err)
		}
	}
	out.textf("\nwrote %d events to %s: %s\n", len(names), dir, strings.Join(names, ", "))
	return nil
}

// eventFileName names a CodePipeline event's file: pipeline-started.json,
// stage-build-succeeded.json, action-production-approveproduction-started.json.
func eventFileName(ev progress.Event) string {
	parts := []string{ev.Level.String(), ev.Stage, ev.Action, ev.State}
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	name := strings.ToLower(strings.Join(kept, "-"))
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, name)
	return name + ".json"
}

// cond is s when ok, else "".
func cond(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

// andList words names as a list: "a", "a and b", "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func stageNames(shape []emulator.StageSpec) []string {
	var names []string
	for _, s := range shape {
		names = append(names, s.Name)
	}
	return names
}

// webhookDelivery is GitLab's delivery of body as the webhook function receives
// it behind API Gateway (HTTP API, payload format 2.0), carrying token.
func webhookDelivery(event, delivery, token string, body []byte) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /webhook", RawPath: "/webhook",
		Headers: map[string]string{
			"content-type":        "application/json",
			"content-length":      strconv.Itoa(len(body)),
			"user-agent":          "GitLab/17.8.1",
			"x-gitlab-event":      event,
			"x-gitlab-token":      token,
			"x-gitlab-event-uuid": delivery,
			"idempotency-key":     delivery,
			"x-gitlab-instance":   "https://gitlab.example.com",
		},
		Body: string(body),
	}
	req.RequestContext.RouteKey, req.RequestContext.Stage = "POST /webhook", "$default"
	req.RequestContext.HTTP = events.APIGatewayV2HTTPRequestContextHTTPDescription{
		Method: http.MethodPost, Path: "/webhook", Protocol: "HTTP/1.1", SourceIP: "34.74.90.66", UserAgent: "GitLab/17.8.1",
	}
	return req
}

// deliver posts a delivery to the webhook listener, as GitLab would.
func (s *stack) deliver(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (app.Answer, error) {
	var ans app.Answer
	event := ev.Headers["x-gitlab-event"]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.addr+"/webhook", strings.NewReader(ev.Body))
	if err != nil {
		return ans, err
	}
	for k, v := range ev.Headers {
		if k != "content-length" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ans, fmt.Errorf("deliver the %s: %w", event, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return ans, fmt.Errorf("answer to the %s: %w", event, err)
	}
	return ans, nil
}

// gitlabProject is the project object of GitLab's webhook payloads.
func (w *demoWorld) gitlabProject() map[string]any {
	namespace, name := "", w.project
	if i := strings.LastIndexByte(w.project, '/'); i >= 0 {
		namespace, name = w.project[:i], w.project[i+1:]
	}
	web := "https://gitlab.example.com/" + w.project
	return map[string]any{
		"id": w.projectID, "name": name, "description": "",
		"web_url": web, "avatar_url": nil,
		"git_ssh_url": "git@gitlab.example.com:" + w.project + ".git", "git_http_url": web + ".git",
		"namespace": namespace, "visibility_level": 0, "path_with_namespace": w.project,
		"default_branch": "main", "homepage": web,
		"url": "git@gitlab.example.com:" + w.project + ".git", "ssh_url": "git@gitlab.example.com:" + w.project + ".git",
		"http_url": web + ".git",
	}
}

func demoUser(username string) (name, email string) {
	full := map[string]string{"ada": "Ada Lovelace", "grace": "Grace Hopper"}[username]
	if full == "" {
		full = username
	}
	return full, username + "@example.com"
}

// pushBody is GitLab's push webhook for the merge of !118 (the shape of GitLab's
// documented payload, with the world's project, branch and files).
func (w *demoWorld) pushBody() []byte {
	name, email := demoUser(demoAuthor)
	web := "https://gitlab.example.com/" + w.project
	commit := func(id, message string, added, modified []string) map[string]any {
		title, _, _ := strings.Cut(message, "\n")
		return map[string]any{
			"id": id, "message": message, "title": title, "timestamp": "2025-11-27T11:02:47+00:00",
			"url": web + "/-/commit/" + id, "author": map[string]any{"name": name, "email": email},
			"added": added, "modified": modified, "removed": []string{},
		}
	}
	p := w.gitlabProject()
	body := map[string]any{
		"object_kind": "push", "event_name": "push",
		"before": demoBefore, "after": demoCommit, "ref": "refs/heads/" + w.branch, "ref_protected": true,
		"checkout_sha": demoCommit,
		"user_id":      7, "user_name": name, "user_username": demoAuthor, "user_email": email, "user_avatar": nil,
		"project_id": w.projectID, "project": p,
		"repository": map[string]any{
			"name": p["name"], "url": p["url"], "description": "", "homepage": web,
			"git_http_url": p["git_http_url"], "git_ssh_url": p["git_ssh_url"], "visibility_level": 0,
		},
		"commits": []any{
			commit(demoChange, "Retry calls that time out\n", w.files, []string{}),
			commit(demoCommit, fmt.Sprintf("Merge branch 'retry-timeouts' into '%s'\n\nRetry calls that time out\n\nSee merge request %s!%d", w.branch, w.project, demoMR),
				[]string{}, w.files),
		},
		"total_commits_count": 2,
	}
	b, _ := json.Marshal(body) // maps of strings, numbers and slices: cannot fail
	return b
}

// mergeRequestBody is GitLab's merge request webhook for the last reviewer's
// approval of !118.
func (w *demoWorld) mergeRequestBody() []byte {
	reviewer := w.reviewers[len(w.reviewers)-1]
	name, email := demoUser(reviewer)
	p := w.gitlabProject()
	body := map[string]any{
		"object_kind": "merge_request", "event_type": "merge_request",
		"user":    map[string]any{"id": 9, "name": name, "username": reviewer, "avatar_url": nil, "email": email},
		"project": p,
		"object_attributes": map[string]any{
			"author_id": 7, "id": 5218, "iid": demoMR, "title": "Retry calls that time out",
			"source_branch": "retry-timeouts", "target_branch": w.branch,
			"source_project_id": w.projectID, "target_project_id": w.projectID,
			"state": "merged", "state_id": 3, "merge_commit_sha": demoCommit,
			"last_commit": map[string]any{"id": demoChange, "message": "Retry calls that time out\n"},
			"url":         fmt.Sprintf("https://gitlab.example.com/%s/-/merge_requests/%d", w.project, demoMR),
			"source":      p, "target": p,
			"action": "approved",
		},
		"labels": []any{}, "changes": map[string]any{},
		"repository": map[string]any{"name": p["name"], "url": p["url"], "description": "", "homepage": p["homepage"]},
	}
	b, _ := json.Marshal(body)
	return b
}

// demoChecks are what must have happened, in the order they happen: every name in
// them is the world's.
func demoChecks(w *demoWorld) []demoCheck {
	svc, prod := w.svc, w.svc.Production
	status := func(name, state string) demoCheck {
		return demoCheck{fmt.Sprintf("GitLab shows %s %s", name, state), func(d *demoRun) bool {
			for _, s := range d.stack.gl.Statuses() {
				if s.SHA == demoCommit && s.Name == name && s.State == state {
					return true
				}
			}
			return false
		}}
	}
	steps := []demoCheck{
		{fmt.Sprintf("the push started %s at %.8s", svc.Pipeline, demoCommit), func(d *demoRun) bool {
			for _, st := range d.pushed.Started {
				if st.Pipeline == svc.Pipeline && st.Commit == demoCommit {
					return d.pushed.Result == "started"
				}
			}
			return false
		}},
		status(svc.Pipeline, "pending"),
		status(svc.Pipeline, "running"),
	}
	for _, stage := range w.shape() {
		if stage.Name == prod.Stage {
			break
		}
		steps = append(steps, status(progress.StatusName(svc.Pipeline, stage.Name), "success"))
	}
	prodStatus := progress.StatusName(svc.Pipeline, prod.Stage)
	approver := "" // no approval counted: min_approvals 0
	if prod.MinApprovals > 0 {
		approver = demoAuthor // author_can_approve, until a reviewer approves
	}
	if n := len(w.reviewers); n > 0 {
		approver = w.reviewers[n-1]
		more := "1 more approval"
		if n > 1 {
			more = fmt.Sprintf("%d more approvals", n)
		}
		steps = append(steps,
			demoCheck{fmt.Sprintf("the gate waited: !%d needs %s", demoMR, more), func(d *demoRun) bool {
				d.mu.Lock()
				defer d.mu.Unlock()
				return strings.Contains(d.waited, fmt.Sprintf("%s on !%d", more, demoMR))
			}},
			status(prodStatus, "pending"),
			demoCheck{"the merge request webhook found the approvals", func(d *demoRun) bool {
				for _, g := range d.merged.Gates {
					if g.Pipeline == svc.Pipeline {
						return d.merged.Result == "evaluated" && g.Verdict == gate.Wait && strings.HasPrefix(g.Reason, "deploy freeze until ")
					}
				}
				return false
			}})
	}
	steps = append(steps,
		demoCheck{"the deploy freeze held the gate", func(d *demoRun) bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.held != ""
		}},
		demoCheck{fmt.Sprintf("GitLab shows %s pending: held by the deploy freeze", prodStatus), func(d *demoRun) bool {
			for _, s := range d.stack.gl.Statuses() {
				if s.SHA == demoCommit && s.Name == prodStatus && s.State == "pending" && strings.Contains(s.Description, "held: deploy freeze until ") {
					return true
				}
			}
			return false
		}},
		demoCheck{"the reconciler opened the gate once the freeze was lifted", func(d *demoRun) bool {
			return d.reconciled && d.approvedBefore == 0 && len(approvalsOf(d.stack.cp, svc.Pipeline)) == 1
		}},
		demoCheck{fmt.Sprintf("CodePipeline received the approval of %s/%s, naming !%d%s", prod.Stage, prod.ApprovalAction, demoMR, cond(approver != "", " and "+approver)), func(d *demoRun) bool {
			mine := approvalsOf(d.stack.cp, svc.Pipeline)
			return len(mine) == 1 && mine[0].Status == "Approved" && mine[0].Stage == prod.Stage && mine[0].Action == prod.ApprovalAction &&
				strings.Contains(mine[0].Summary, fmt.Sprintf("!%d", demoMR)) && strings.Contains(mine[0].Summary, approver)
		}},
		status(prodStatus, "success"),
		deployed(svc, svc.Environments.Staging, "staging"),
		deployed(svc, svc.Environments.Production, "production"),
		status(svc.Pipeline, "success"),
	)
	return steps
}

// approvalsOf are the approval results CodePipeline received for pipeline.
func approvalsOf(cp *emulator.CodePipeline, pipeline string) []emulator.Approval {
	var mine []emulator.Approval
	for _, a := range cp.Approvals() {
		if a.Pipeline == pipeline {
			mine = append(mine, a)
		}
	}
	return mine
}

// demoFreezeLength is how long the demo's deploy freeze lasts.
const demoFreezeLength = 2 * time.Hour

// demoFreeze is a deploy freeze period, as GitLab holds one, that is on at now
// and ends demoFreezeLength later: daily, from now's minute, in a named zone, so
// that the demo shows GitLab's cron periods whenever it runs. until is its end.
func demoFreeze(now time.Time) (p emulator.FreezePeriod, until time.Time) {
	const zone = "Europe/Berlin"
	loc, err := time.LoadLocation(zone) // internal/freeze embeds the zone database
	if err != nil {
		loc = time.UTC
	}
	start := now.In(loc).Truncate(time.Minute)
	end := start.Add(demoFreezeLength)
	return emulator.FreezePeriod{
		FreezeStart:  fmt.Sprintf("%d %d * * *", start.Minute(), start.Hour()),
		FreezeEnd:    fmt.Sprintf("%d %d * * *", end.Minute(), end.Hour()),
		CronTimezone: loc.String(),
	}, end
}

// deployed checks that GitLab has one deployment of the demo's commit to env,
// and that it succeeded (docs/environments.md).
func deployed(svc routing.Service, env, which string) demoCheck {
	return demoCheck{fmt.Sprintf("GitLab shows the deployment to %s", which), func(d *demoRun) bool {
		n := 0
		for _, dep := range d.stack.gl.Deployments(svc.Project) {
			if dep.Environment == env && dep.SHA == demoCommit {
				if dep.Status != "success" {
					return false
				}
				n++
			}
		}
		return n == 1
	}}
}

// summary prints every step with whether it happened, and fails if one did not.
func (d *demoRun) summary(out *printer) error {
	out.textf("\nWhat happened:\n")
	missing := 0
	for _, st := range demoChecks(d.world) {
		mark := "✓"
		if !st.seen(d) {
			mark, missing = "✗", missing+1
		}
		out.textf("  %s %s\n", mark, st.what)
	}
	if deps := d.stack.gl.Deployments(d.world.svc.Project); len(deps) > 0 {
		out.textf("\nGitLab's deployments (Operate > Environments, and \"Deployed to\" on !%d):\n", demoMR)
		for _, dep := range deps {
			out.textf("  %s: %s (%s) of %.8s on %s\n", dep.Environment, dep.Status, strings.Join(dep.History, " → "), dep.SHA, dep.Ref)
		}
	}
	if missing > 0 {
		return fmt.Errorf("demo: %d expected steps did not happen", missing)
	}
	out.textf("\nA push started the pipeline at its commit, GitLab followed every stage, and production\n" +
		"went out once the merge request was approved and the deploy freeze was over.\n" +
		"Next: ./scripts/test.sh, then pipegate dev.\n")
	if d.world.source == demoRoutingName {
		out.textf("pipegate demo --routing pipegate.yaml tells the same story with your routing file.\n")
	}
	return nil
}
