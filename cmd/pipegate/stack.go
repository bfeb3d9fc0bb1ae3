package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"go.yaml.in/yaml/v3"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/wire"
)

// stack is pipegate wired as `pipegate dev` and `pipegate demo` run it: the
// webhook function's handler behind an HTTP listener, the pipeline-events
// function's handler fed by the CodePipeline stand-in's runs, the in-memory store,
// and GitLab (the embedded stand-in, or a real one). It is the same internal/app
// as in Lambda; only the wiring differs.
type stack struct {
	app  *app.App
	cp   *emulator.CodePipeline // nil with --aws: real pipelines
	gl   *emulator.GitLab       // nil with a real GitLab
	out  *printer
	addr string // the listener's host:port

	srv  *http.Server
	runs sync.WaitGroup // the stand-in's runs and the HTTP server
}

type stackOptions struct {
	listen        string        // host:port; port 0 picks a free one
	step, advance time.Duration // emulator.RunOptions
	useAWS        bool          // start real pipelines instead of the stand-in's
	mergeRequests string        // YAML file of merge requests for the embedded GitLab
	// routes, if set, is the routing file to run (the demo's); else PIPEGATE_CONFIG's,
	// else the bundled one, as the functions read it.
	routes *routing.Config
	log    *slog.Logger
	// loadAWS gives the AWS configuration useAWS starts pipelines with, its
	// credentials already checked (env.awsConfig).
	loadAWS func(ctx context.Context) (aws.Config, error)
	// afterEvent, if set, sees each CodePipeline event (as EventBridge delivers it,
	// and decoded) after the handler took it.
	afterEvent func(raw []byte, ev progress.Event, ans app.EventAnswer, err error)
	// eventsAfter, if set, holds the CodePipeline events until it is closed: in AWS,
	// EventBridge delivers a pipeline's first event well after the webhook that
	// started it has posted its pending status and answered.
	eventsAfter <-chan struct{}
}

// startStack starts everything; stop it by cancelling ctx and calling wait.
func startStack(ctx context.Context, getenv func(string) string, out *printer, opt stackOptions) (*stack, error) {
	routes := opt.routes
	var err error
	if routes == nil {
		if routes, _, err = wire.LoadRouting(getenv); err != nil {
			return nil, err
		}
	}
	s := &stack{out: out}
	gl, err := s.gitlab(ctx, getenv, routes, opt.mergeRequests)
	if err != nil {
		return nil, err
	}
	var cfg aws.Config
	if opt.useAWS {
		if cfg, err = opt.loadAWS(ctx); err != nil {
			return nil, err
		}
	} else {
		s.cp = emulator.NewCodePipeline()
		for _, svc := range routes.Services {
			s.cp.SetShape(svc.Pipeline, emulator.DefaultShape(svc.SourceAction, svc.StagingStage, svc.Production.Stage, svc.Production.ApprovalAction))
		}
		cfg = standInAWS(s.serveLocal(ctx, s.cp))
	}
	s.app, err = wire.ForWebhook(ctx, getenv, opt.log,
		wire.Routes(routes), wire.Secret(localWebhookSecret(getenv)), wire.AWS(cfg), wire.GitLab(gl), wire.InMemory())
	if err != nil {
		return nil, err
	}
	if s.cp != nil {
		ready := make(chan struct{})
		s.runs.Go(func() {
			s.cp.Run(ctx, emulator.RunOptions{Step: opt.step, Advance: opt.advance, Ready: func() { close(ready) }},
				func(raw []byte) {
					if opt.eventsAfter != nil {
						select {
						case <-opt.eventsAfter:
						case <-ctx.Done():
							return
						}
					}
					s.event(ctx, raw, opt.afterEvent)
				})
		})
		<-ready // a push must not arrive before the stand-in runs what it starts
	}

	ln, err := net.Listen("tcp", opt.listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", opt.listen, err)
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.runs.Go(func() { s.srv.Serve(ln) })
	s.runs.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.srv.Shutdown(sctx)
	})
	return s, nil
}

// wait returns once ctx is cancelled and everything has stopped.
func (s *stack) wait() { s.runs.Wait() }

// serveLocal serves a stand-in on loopback until ctx ends.
func (s *stack) serveLocal(ctx context.Context, h http.Handler) string {
	srv := httptest.NewServer(h)
	s.runs.Go(func() {
		<-ctx.Done()
		srv.Close()
	})
	return srv.URL
}

// gitlab is the real GitLab when GITLAB_URL and GITLAB_TOKEN are set, else the
// embedded stand-in, which prints each status and answers merge-request
// questions from the mergeRequests file.
func (s *stack) gitlab(ctx context.Context, getenv func(string) string, routes *routing.Config, mergeRequests string) (app.GitLab, error) {
	if url, token := getenv("GITLAB_URL"), getenv("GITLAB_TOKEN"); url != "" && token != "" {
		return gitlab.New(strings.TrimSuffix(url, "/"), token, nil)
	}
	s.gl = emulator.NewGitLab(localToken)
	for _, p := range standInProjects(routes) {
		s.gl.AddProject(p.id, p.path, "main")
	}
	s.gl.OnStatus = func(st emulator.CommitStatus) {
		s.out.linef("GitLab", "%s@%.8s %s = %s: %s", st.Project, st.SHA, st.Name, st.State, st.Description)
	}
	if mergeRequests != "" {
		if err := loadMergeRequests(s.gl, routes, mergeRequests); err != nil {
			return nil, err
		}
	}
	return gitlab.New(s.serveLocal(ctx, s.gl), localToken, nil)
}

// standInProject is a routed project as the GitLab stand-ins know it from the start.
type standInProject struct {
	id   int64
	path string
}

// standInProjects are the projects of the routing file, each once, as the GitLab
// stand-ins know them before any delivery: by the routing file's own name, so that
// a status, a merge request or a CodePipeline event alone finds its project. A
// project named by path gets a made-up id (a push adds its real one:
// registerProject); one named by its numeric id is known by that id and spelled
// as that number.
func standInProjects(routes *routing.Config) []standInProject {
	var out []standInProject
	for i, svc := range routes.Services {
		if slices.ContainsFunc(out, func(p standInProject) bool { return strings.EqualFold(p.path, svc.Project) }) {
			continue
		}
		id, err := strconv.ParseInt(svc.Project, 10, 64)
		if err != nil {
			id = int64(900000 + i)
		}
		out = append(out, standInProject{id: id, path: svc.Project})
	}
	return out
}

// mergeRequestFile is one entry of the --merge-requests file.
type mergeRequestFile struct {
	Project        string   `yaml:"project"`
	IID            int64    `yaml:"iid"`
	Title          string   `yaml:"title"`
	State          string   `yaml:"state"` // opened, merged, closed
	MergeCommitSHA string   `yaml:"merge_commit_sha"`
	SHA            string   `yaml:"sha"`           // the source branch's head
	SourceBranch   string   `yaml:"source_branch"` // default: none
	TargetBranch   string   `yaml:"target_branch"` // default: the project's default branch
	Author         string   `yaml:"author"`
	ApprovedBy     []string `yaml:"approved_by"`
	// ApprovalsLeft is what GitLab Premium's approval rules still require.
	ApprovalsLeft int64 `yaml:"approvals_left"`
}

func loadMergeRequests(gl *emulator.GitLab, routes *routing.Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read merge requests: %w", err)
	}
	var list []mergeRequestFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&list); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, m := range list {
		if m.Project == "" || m.IID == 0 {
			return fmt.Errorf("%s: every merge request needs project and iid", path)
		}
		// The embedded GitLab knows the routed projects by path; a merge request
		// of any other project could never matter to a gate.
		routed := false
		for _, svc := range routes.Services {
			routed = routed || svc.Project == m.Project
		}
		if !routed {
			return fmt.Errorf("%s: merge request !%d: project %q is not in the routing file (name projects as it does)", path, m.IID, m.Project)
		}
		gl.AddMergeRequest(m.Project, emulator.MergeRequest{
			IID: m.IID, Title: m.Title, State: m.State, MergeCommitSHA: m.MergeCommitSHA, SHA: m.SHA,
			SourceBranch: m.SourceBranch, TargetBranch: m.TargetBranch,
			Author: m.Author, ApprovedBy: m.ApprovedBy, ApprovalsLeft: m.ApprovalsLeft,
		})
	}
	return nil
}

// event hands one CodePipeline event of the stand-in's runs to the
// pipeline-events handler, as EventBridge would.
func (s *stack) event(ctx context.Context, raw []byte, after func([]byte, progress.Event, app.EventAnswer, error)) {
	var env events.CloudWatchEvent
	_ = json.Unmarshal(raw, &env)
	ev, _, _ := progress.FromEventBridge(env)
	what := ev.Stage
	if ev.Action != "" {
		what += "/" + ev.Action
	}
	if what == "" {
		what = "pipeline"
	}
	s.out.linef("CodePipeline", "%s %.8s %s %s", ev.Pipeline, ev.ExecutionID, what, ev.State)
	ans, err := s.app.PipelineEvent(ctx, raw)
	switch {
	case err != nil:
		s.out.linef("pipegate", "event failed (EventBridge would retry): %v", err)
	case ans.Result == app.EventGate:
		s.out.linef("gate", "%s: %s", ans.Gate, ans.Reason)
	}
	if after != nil {
		after(raw, ev, ans, err)
	}
}

// ServeHTTP turns a request into the API Gateway event the webhook function
// receives in AWS: POST /webhook and GET /badges/{service}.svg.
func (s *stack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: r.URL.Path, RawQueryString: r.URL.RawQuery, Headers: map[string]string{}}
	req.RequestContext.HTTP.Method, req.RequestContext.HTTP.Path = r.Method, r.URL.Path
	switch service, badge := strings.CutPrefix(r.URL.Path, "/badges/"); {
	case r.Method == http.MethodPost && r.URL.Path == "/webhook":
		req.RouteKey = "POST /webhook"
	case r.Method == http.MethodGet && badge:
		req.RouteKey = "GET /badges/{service}"
		req.PathParameters = map[string]string{"service": service}
	default:
		http.Error(w, "pipegate answers POST /webhook and GET /badges/{service}.svg", http.StatusNotFound)
		return
	}
	for k, v := range r.Header {
		req.Headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 25<<20)) // GitLab's own webhook payload limit
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	req.Body = string(body)
	if s.gl != nil && req.RouteKey == "POST /webhook" {
		registerProject(s.gl, req)
	}
	resp, err := s.app.WebhookHTTPAPI(r.Context(), req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.StatusCode)
	io.WriteString(w, resp.Body)
	if req.RouteKey == "POST /webhook" {
		s.out.linef("webhook", "%s → %d %s", req.Headers["x-gitlab-event"], resp.StatusCode, summarize(resp.Body))
	}
}

// summarize says in one line what a webhook answer body says.
func summarize(body string) string {
	var ans app.Answer
	if json.Unmarshal([]byte(body), &ans) != nil {
		return body
	}
	parts := []string{string(ans.Result)}
	for _, st := range ans.Started {
		parts = append(parts, fmt.Sprintf("%s at %.8s (execution %.8s)", st.Pipeline, st.Commit, st.ExecutionID))
	}
	for _, g := range ans.Gates {
		gateWords := fmt.Sprintf("gate of %s: %s", g.Pipeline, g.Verdict)
		if g.Verdict == gate.Wait && g.Reason != "" {
			gateWords += " (" + g.Reason + ")"
		}
		parts = append(parts, gateWords)
	}
	for _, v := range []string{ans.Reason, ans.Error} {
		if v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, "; ")
}

// printer writes one line per step, from several goroutines.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func newPrinter(w io.Writer) *printer { return &printer{w: w, start: time.Now()} }

func (p *printer) linef(who, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%6.2fs  %-12s %s\n", time.Since(p.start).Seconds(), who, fmt.Sprintf(format, args...))
}

func (p *printer) textf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}
