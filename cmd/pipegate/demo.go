package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate"
	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/routing"
)

// The demo's story, on the sample events of events/: ada's merge request !118 of
// ic/core is merged as commit demoCommit; the push starts core-pipeline; it runs
// through staging and waits at the production gate, since only ada (the author)
// has approved; grace approves, GitLab sends the merge request webhook, the gate
// opens, production succeeds.
const (
	demoProject = "ic/core"
	demoCommit  = "9c1e4b7d2a5f8e3c6b0d9a4f7e2c5b8d1a6f3e0c"
	demoMR      = 118
	demoTimeout = 45 * time.Second
)

// demoStep is one thing the demo must see happen.
type demoStep struct {
	what string
	seen func(d *demoRun) bool
}

// demoRun is what the demo saw.
type demoRun struct {
	stack  *stack
	mu     sync.Mutex
	waited string // the gate's reason while it waited
	gate   string // the verdict after the merge request webhook
	pushed app.Answer
	merged app.Answer
	atGate chan struct{} // closed when the gate first waits
	done   chan struct{} // closed when the pipeline's own event says it ended
}

func demoCommand() *command {
	c := newCommand("demo", "the whole flow on a laptop, every step checked")
	c.help = `Runs a push through staging, the production gate and a merge request approval to
production, locally, printing and checking every step: the webhook and
pipeline-events handlers against a CodePipeline stand-in that runs the pipeline,
an embedded GitLab and the in-memory store. It needs no AWS account and no GitLab,
and fails (exit 1) when a step did not happen.`
	c.run = func(ctx context.Context, e *env, _ []string) error { return demo(ctx, e.getenv, e.stdout, e.stderr) }
	return c
}

// demo runs the whole flow on a laptop and checks every step of it.
func demo(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	out := newPrinter(stdout)
	d := &demoRun{atGate: make(chan struct{}), done: make(chan struct{})}
	var once, end sync.Once
	s, err := startStack(ctx, getenv, out, stackOptions{
		listen: "127.0.0.1:0", step: 120 * time.Millisecond, advance: 23 * time.Second,
		log: slog.New(slog.NewJSONHandler(stderr, nil)),
		afterEvent: func(ev progress.Event, ans app.EventAnswer, err error) {
			if ans.Result == "gate wait" {
				d.mu.Lock()
				d.waited = ans.Reason
				d.mu.Unlock()
				once.Do(func() { close(d.atGate) })
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
	if s.gl == nil || s.cp == nil {
		return fmt.Errorf("demo runs on the embedded stand-ins: unset GITLAB_URL/GITLAB_TOKEN")
	}
	if !slices.ContainsFunc(s.app.Routes.Services, func(svc routing.Service) bool { return svc.InProject(demoProject, 0) }) {
		// The embedded GitLab knows only the routed projects; the story's merge request is in demoProject.
		return fmt.Errorf("demo replays the sample events of events/, pushes to %s, which the routing file (PIPEGATE_CONFIG) does not route: unset PIPEGATE_CONFIG to run it", demoProject)
	}
	// The commit's merge request, approved so far only by its author.
	mr := emulator.MergeRequest{IID: demoMR, Title: "Rate-limit calls to the files service", State: "merged",
		SourceBranch: "files-rate-limit", TargetBranch: "main", MergeCommitSHA: demoCommit, Author: "ada", ApprovedBy: []string{"ada"}}
	s.gl.AddMergeRequest(demoProject, mr)

	out.textf("pipegate demo: the webhook on http://%s/webhook, a CodePipeline stand-in that runs core-pipeline\n"+
		"(Source, Build, Staging, Production behind ApproveProduction), an embedded GitLab, the in-memory store.\n\n", s.addr)
	out.textf("1. ada merges !%d into main of %s: GitLab sends a push webhook\n", demoMR, demoProject)
	if d.pushed, err = s.replay(ctx, "push.json"); err != nil {
		return err
	}
	select {
	case <-d.atGate:
	case <-d.done:
	case <-ctx.Done():
	}
	out.textf("\n2. grace approves !%d in GitLab: GitLab sends a merge request webhook\n", demoMR)
	mr.ApprovedBy = []string{"ada", "grace"}
	s.gl.AddMergeRequest(demoProject, mr)
	if d.merged, err = s.replay(ctx, "merge-request-approved.json"); err != nil {
		return err
	}
	select {
	case <-d.done:
	case <-ctx.Done():
	}
	return d.summary(out)
}

// replay posts a sample event of events/ to the webhook listener, as GitLab would.
func (s *stack) replay(ctx context.Context, name string) (app.Answer, error) {
	var ans app.Answer
	raw, err := pipegate.SampleEvent(name)
	if err != nil {
		return ans, err
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ans, fmt.Errorf("sample %s: %w", name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.addr+"/webhook", bytes.NewBufferString(ev.Body))
	if err != nil {
		return ans, err
	}
	for k, v := range ev.Headers {
		if k != "content-length" && k != "host" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ans, fmt.Errorf("deliver %s: %w", name, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return ans, fmt.Errorf("answer to %s: %w", name, err)
	}
	return ans, nil
}

// demoSteps are what must have happened, in the order they happen.
func demoSteps() []demoStep {
	status := func(name, state string) demoStep {
		return demoStep{fmt.Sprintf("GitLab shows %s %s", name, state), func(d *demoRun) bool {
			for _, s := range d.stack.gl.Statuses() {
				if s.SHA == demoCommit && s.Name == name && s.State == state {
					return true
				}
			}
			return false
		}}
	}
	return []demoStep{
		{"the push started core-pipeline at " + demoCommit[:8], func(d *demoRun) bool {
			return d.pushed.Result == "started" && len(d.pushed.Started) == 1 && d.pushed.Started[0].Pipeline == "core-pipeline"
		}},
		status("core-pipeline", "pending"),
		status("core-pipeline", "running"),
		status("core-pipeline/Source", "success"),
		status("core-pipeline/Build", "success"),
		status("core-pipeline/Staging", "success"),
		{"the gate waited for an approval of !118 other than the author's", func(d *demoRun) bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return strings.Contains(d.waited, "1 more approval on !118")
		}},
		status("core-pipeline/Production", "pending"),
		{"the merge request webhook opened the gate", func(d *demoRun) bool {
			return d.merged.Result == "evaluated" && len(d.merged.Gates) == 1 && d.merged.Gates[0].Verdict == "approve"
		}},
		{"CodePipeline received the approval, naming !118 and grace", func(d *demoRun) bool {
			a := d.stack.cp.Approvals()
			return len(a) == 1 && a[0].Status == "Approved" && strings.Contains(a[0].Summary, "!118") && strings.Contains(a[0].Summary, "grace")
		}},
		status("core-pipeline/Production", "success"),
		status("core-pipeline", "success"),
	}
}

// summary prints every step with whether it happened, and fails if one did not.
func (d *demoRun) summary(out *printer) error {
	out.textf("\nWhat happened:\n")
	missing := 0
	for _, st := range demoSteps() {
		mark := "✓"
		if !st.seen(d) {
			mark, missing = "✗", missing+1
		}
		out.textf("  %s %s\n", mark, st.what)
	}
	if missing > 0 {
		return fmt.Errorf("demo: %d expected steps did not happen", missing)
	}
	out.textf("\nA push started the pipeline at its commit, GitLab followed every stage, and production\n" +
		"went out once the merge request was approved. Next: ./scripts/test.sh, then pipegate dev.\n")
	return nil
}
