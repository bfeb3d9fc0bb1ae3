package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
	"github.com/pipegate/pipegate/internal/progress"
	"github.com/pipegate/pipegate/internal/testenv"
)

// devStack starts what `pipegate dev` runs with the sample routing file, on a free
// port, with no waits between steps; ended reports each execution's last
// pipeline-level event.
func devStack(t *testing.T, mergeRequests string) (s *stack, gateWaits <-chan string, ended <-chan progress.Event) {
	t.Helper()
	return devStackOf(t, sampleWorld, mergeRequests)
}

// devStackOf is devStack in the environment getenv.
func devStackOf(t *testing.T, getenv func(string) string, mergeRequests string) (s *stack, gateWaits <-chan string, ended <-chan progress.Event) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	waits, ends := make(chan string, 16), make(chan progress.Event, 16)
	out := &testenv.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(out.String())
		}
	})
	s, err := startStack(ctx, getenv, newPrinter(out), stackOptions{
		listen: "127.0.0.1:0", mergeRequests: mergeRequests,
		log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		afterEvent: func(_ []byte, ev progress.Event, ans app.EventAnswer, err error) {
			if err != nil {
				t.Errorf("event %+v: %v", ev, err)
			}
			if ans.Result == app.EventGate && ans.Gate == gate.Wait {
				waits <- ans.Reason
			}
			if ev.Level == progress.PipelineLevel && ev.State != "STARTED" {
				ends <- ev
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); s.wait() })
	return s, waits, ends
}

// post sends an API Gateway sample of events/ to the listener as GitLab would.
func post(t *testing.T, s *stack, file string) app.Answer {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../events", file))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for k, v := range ev.Headers {
		if k != "content-length" && k != "host" {
			h.Set(k, v)
		}
	}
	_, ans := send(t, s, h, ev.Body)
	return ans
}

// send posts body with headers h to the listener and decodes the answer.
func send(t *testing.T, s *stack, h http.Header, body string) (int, app.Answer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/webhook", strings.NewReader(body))
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans app.Answer
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, ans
}

func waitFor[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(20 * time.Second): // a bound on a hang, not a wait for timing
		t.Fatalf("no %s", what)
	}
	var zero T
	return zero
}

// The events of events/ posted over HTTP to `pipegate dev`: the push starts a
// pipeline that the stand-in runs to the production gate, which waits for the
// merge request; its approval webhook opens the gate and production succeeds.
func TestDevRunsPushToProduction(t *testing.T) {
	s, waits, ended := devStack(t, "")
	if ans := post(t, s, "push.json"); ans.Result != "started" || len(ans.Started) != 1 {
		t.Fatalf("push answer %+v", ans)
	}
	if why := waitFor(t, waits, "gate wait"); !strings.Contains(why, "no merge request") {
		t.Errorf("gate waits because %q, want no merge request", why)
	}
	s.gl.AddMergeRequest("ic/core", emulator.MergeRequest{IID: 118, Title: "Rate-limit calls", State: "merged",
		MergeCommitSHA: demoCommit, Author: "ada", ApprovedBy: []string{"grace"}})
	if ans := post(t, s, "merge-request-approved.json"); ans.Result != "evaluated" || len(ans.Gates) != 1 || ans.Gates[0].Verdict != "approve" {
		t.Fatalf("merge request answer %+v", ans)
	}
	if ev := waitFor(t, ended, "end of the pipeline"); ev.State != "SUCCEEDED" {
		t.Fatalf("pipeline ended %s", ev.State)
	}
	ex := s.cp.Executions()
	if len(ex) != 1 || ex[0].SourceRevisions[0].RevisionValue != demoCommit {
		t.Fatalf("executions %+v", ex)
	}
	for _, name := range []string{"core-pipeline", "core-pipeline/Source", "core-pipeline/Build", "core-pipeline/Staging", "core-pipeline/Production"} {
		if st, ok := s.gl.Latest("ic/core", demoCommit, name); !ok || st.State != "success" {
			t.Errorf("%s: %+v", name, st)
		}
	}
	if a := s.cp.Approvals(); len(a) != 1 || a[0].Status != "Approved" {
		t.Errorf("approvals %+v", a)
	}
	// The badge GitLab would show for the service.
	resp, err := http.Get("http://" + s.addr + "/badges/core.svg")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	svg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" ||
		!strings.Contains(string(svg), "staging success") || !strings.Contains(string(svg), "production success") {
		t.Errorf("badge: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), svg)
	}
}

// The embedded GitLab answers merge-request questions from --merge-requests: an
// approved one opens the gate as soon as the approval action starts.
func TestDevMergeRequestsFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mrs.yaml")
	os.WriteFile(file, []byte(`
- project: ic/core
  iid: 118
  title: Rate-limit calls to the files service
  state: merged
  merge_commit_sha: `+demoCommit+`
  author: ada
  approved_by: [grace]
`), 0o600)
	s, _, ended := devStack(t, file)
	post(t, s, "push.json")
	if ev := waitFor(t, ended, "end of the pipeline"); ev.State != "SUCCEEDED" {
		t.Fatalf("pipeline ended %s", ev.State)
	}
	if a := s.cp.Approvals(); len(a) != 1 || !strings.Contains(a[0].Summary, "grace") {
		t.Errorf("approvals %+v", a)
	}
}

func TestDevRefusesBadMergeRequestsFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mrs.yaml")
	os.WriteFile(file, []byte("- project: ic/core\n  iid: 1\n  reviewer: bob\n"), 0o600)
	var out bytes.Buffer
	err := dev(context.Background(), []string{"--listen", "127.0.0.1:0", "--merge-requests", file}, sampleWorld, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "reviewer") {
		t.Fatalf("error %v, want one naming the unknown field", err)
	}
}

// Ctrl-C (here: the context) stops dev cleanly.
func TestDevStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- dev(ctx, []string{"--listen", "127.0.0.1:0"}, sampleWorld, w, io.Discard)
		w.Close()
	}()
	lines := bufio.NewScanner(r)
	if !lines.Scan() || !strings.Contains(lines.Text(), "/webhook") {
		t.Fatalf("first line %q", lines.Text())
	}
	cancel()
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	if err := <-errc; err != nil || !strings.Contains(rest.String(), "stopped") {
		t.Fatalf("dev returned %v after:\n%s", err, rest.String())
	}
}

// A project the routing file names by its numeric id is known to the embedded
// GitLab by that id from the start: --merge-requests may name it so (it used to
// panic), and the gate finds the merge request when that project's push arrives.
func TestDevMergeRequestsOfProjectNamedByID(t *testing.T) {
	const routes = "testdata/demo-monorepo.yaml" // search is project "4242"
	file := filepath.Join(t.TempDir(), "mrs.yaml")
	os.WriteFile(file, []byte(`
- project: "4242"
  iid: 118
  state: merged
  merge_commit_sha: `+demoCommit+`
  target_branch: release/demo
  author: ada
  approved_by: [grace, linus, margaret]
`), 0o600)
	s, _, ended := devStackOf(t, envOf("PIPEGATE_CONFIG", routes), file)
	w, err := loadDemoWorld(routes, "search")
	if err != nil {
		t.Fatal(err)
	}
	if ans, err := s.deliver(context.Background(), webhookDelivery("Push Hook", "a1b2c3d4-0000-4000-8000-000000000001", localSecret, w.pushBody())); err != nil || ans.Result != "started" {
		t.Fatalf("push: %+v, %v", ans, err)
	}
	if ev := waitFor(t, ended, "end of the pipeline"); ev.State != "SUCCEEDED" || ev.Pipeline != "search-deploy" {
		t.Fatalf("pipeline %s ended %s", ev.Pipeline, ev.State)
	}
	if a := s.cp.Approvals(); len(a) != 1 || !strings.Contains(a[0].Summary, "!118") {
		t.Errorf("approvals %+v", a)
	}
}
