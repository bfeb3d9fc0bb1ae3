package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/queue"
	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/testenv"
)

// crash makes a process die at its n-th request to any dependency: from then on
// nothing it sends has any effect (every request is refused at once, without
// reaching the stand-in), as if the Lambda instance had timed out or been killed
// there. With lose, the n-th request itself still takes effect and only its
// answer is lost.
type crash struct {
	mu    sync.Mutex
	calls int
	at    int // 0: never
	lose  bool
}

func (c *crash) arm(at int, lose bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls, c.at, c.lose = 0, at, lose
}

func (c *crash) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// wrap puts h behind the crash; refusals are in h's protocol, and of a kind no
// client retries (the process is gone: there is nobody to retry).
func (c *crash) wrap(h http.Handler, gitLab bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.calls++
		n, at, lose := c.calls, c.at, c.lose
		c.mu.Unlock()
		switch {
		case at == 0 || n < at:
			h.ServeHTTP(w, r)
			return
		case n == at && lose:
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		if gitLab {
			http.Error(w, `{"message":"403 Forbidden"}`, http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Query-Error", "ValidationException;Sender")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"__type":"ValidationException","message":"the caller crashed"}`)
	})
}

// crashWorld is pipegate on the DynamoDB store (dynalite) and the stand-ins, every
// dependency behind one crash.
type crashWorld struct {
	*world
	crash *crash
	clock *testClock
}

func newCrashWorld(t *testing.T) *crashWorld {
	t.Helper()
	c := &crash{}
	clk := &testClock{}
	clk.Set(time.Now())
	w := newWorld(t)
	via := func(h http.Handler) aws.Config { return testenv.AWSStandIn(t, c.wrap(h, false)) }
	w.app.Pipelines = codepipeline.New(via(w.cp))
	w.app.Queue = queue.New(via(w.sqs), queueURL)
	glClient, err := gitlab.New(serve(t, c.wrap(w.gl, true)), glToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.app.GitLab = glClient
	d := store.NewDynamoFromConfig(testenv.DynamoThrough(t, func(dynalite string) http.Handler {
		p, err := emulator.NewProxy(dynalite)
		if err != nil {
			t.Fatal(err)
		}
		return c.wrap(p, false)
	}))
	d.Now = clk.Now
	w.store, w.app.Store, w.app.Now = d, d, clk.Now
	return &crashWorld{world: w, crash: c, clock: clk}
}

// pendingOf counts the pending statuses GitLab accepted for pipeline on sha.
func (w *world) pendingOf(pipeline, sha string) int {
	n := 0
	for _, s := range w.gl.Statuses() {
		if s.Name == pipeline && s.SHA == sha && s.State == "pending" {
			n++
		}
	}
	return n
}

// executionsOf counts the executions CodePipeline started of pipeline at sha.
func (w *world) executionsOf(pipeline, sha string) int {
	n := 0
	for _, e := range w.cp.Executions() {
		if e.Pipeline == pipeline && e.CommitSHA == sha {
			n++
		}
	}
	return n
}

// TestCrashBetweenAnyTwoSteps: the webhook dies before (or, with its answer
// lost, right after) each of the requests it makes for a push, in turn; GitLab
// never delivers the push again. pipegate itself, the reconciler a lease later,
// finishes the work: in the end every routed pipeline ran exactly once at the
// pushed commit, with exactly one pending status, and nothing is left pending.
func TestCrashBetweenAnyTwoSteps(t *testing.T) {
	pushes := []struct {
		name      string
		body      func(t *testing.T) []byte
		pipelines []string
		setup     func(w *world)
	}{
		{"one service", func(t *testing.T) []byte { return pushTo(t, 42, "team/core", "main") }, []string{"core-pipeline"}, nil},
		{"monorepo, paths from compare", func(t *testing.T) []byte {
			return pushTo(t, 44, "team/platform", "main", func(m map[string]any) { m["total_commits_count"] = 30 })
		}, []string{"billing-pipeline", "search-pipeline"}, func(w *world) {
			w.gl.SetCompare("team/platform", "95790bf891e76fee5e1747ab589903a6a1f80f22", headSHA,
				[]string{"services/billing/a.go", "services/search/b.go"})
		}},
	}
	for _, p := range pushes {
		t.Run(p.name, func(t *testing.T) {
			// A clean run says how many requests a push takes.
			clean := newCrashWorld(t)
			if p.setup != nil {
				p.setup(clean.world)
			}
			if code, ans := clean.deliver(delivery{event: "Push Hook", body: p.body(t)}); code != http.StatusOK || ans.Result != "started" {
				t.Fatalf("clean run: %d %+v", code, ans)
			}
			steps := clean.crash.count()
			if steps < 6 {
				t.Fatalf("a push took only %d requests", steps)
			}
			for at := 1; at <= steps; at++ {
				for _, lose := range []bool{false, true} {
					t.Run(fmt.Sprintf("request %d answer lost %v", at, lose), func(t *testing.T) {
						w := newCrashWorld(t)
						if p.setup != nil {
							p.setup(w.world)
						}
						w.crash.arm(at, lose)
						w.deliver(delivery{event: "Push Hook", body: p.body(t)}) // whatever it answers, it died
						w.crash.arm(0, false)
						// GitLab delivers nothing again, and the retry queue is not drained: pipegate is on its own.

						w.clock.Set(w.clock.Now().Add(app.DefaultLease + time.Second))
						if _, err := w.app.Reconcile(context.Background()); err != nil {
							t.Fatalf("reconcile: %v\n%s", err, w.logs)
						}
						if _, err := w.app.Reconcile(context.Background()); err != nil {
							t.Fatalf("second reconcile: %v", err)
						}
						// Only a death before the first request leaves no trace; that delivery
						// was never accepted (GitLab saw no answer), so it is GitLab's to resend.
						if n := w.executionsOf(p.pipelines[0], headSHA); n == 0 && (at != 1 || lose) {
							t.Fatalf("%s never ran: the push was lost\n%s", p.pipelines[0], w.logs)
						}
						// A resend, and another reconcile, start nothing twice.
						if code, ans := w.deliver(delivery{event: "Push Hook", body: p.body(t)}); code != http.StatusOK {
							t.Fatalf("resend: %d %+v", code, ans)
						}
						w.clock.Set(w.clock.Now().Add(app.DefaultLease + time.Second))
						if _, err := w.app.Reconcile(context.Background()); err != nil {
							t.Fatalf("reconcile after the resend: %v", err)
						}
						for _, pl := range p.pipelines {
							if n := w.executionsOf(pl, headSHA); n != 1 {
								t.Errorf("%s ran %d times at %s, want exactly once", pl, n, headSHA)
							}
							if n := w.pendingOf(pl, headSHA); n != 1 {
								t.Errorf("%s: %d pending statuses, want exactly one", pl, n)
							}
						}
						left, err := w.store.(*store.Dynamo).Pendings(context.Background(), w.clock.Now().Add(time.Hour), 0)
						if err != nil || len(left) != 0 {
							t.Errorf("left pending: %+v %v", left, err)
						}
					})
				}
			}
		})
	}
}
