package app_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/emulator"
)

func TestPushStartsPipelineAndPostsPending(t *testing.T) {
	w := newWorld(t)
	code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main"),
		headers: map[string]string{"idempotency-key": "key-1"}})
	if code != http.StatusOK || ans.Result != "started" {
		t.Fatalf("got %d %+v", code, ans)
	}
	ex := w.cp.Executions()
	if len(ex) != 1 {
		t.Fatalf("executions: %+v", ex)
	}
	e := ex[0]
	if e.Pipeline != "core-pipeline" || e.ClientRequestToken != app.RequestToken("key-1", "core-pipeline") {
		t.Errorf("execution %+v", e)
	}
	want := emulator.SourceRevision{ActionName: "Source", RevisionType: "COMMIT_ID", RevisionValue: headSHA}
	if len(e.SourceRevisions) != 1 || e.SourceRevisions[0] != want {
		t.Errorf("source revisions %+v, want %+v", e.SourceRevisions, want)
	}
	st := w.gl.Statuses()
	if len(st) != 1 {
		t.Fatalf("statuses: %+v", st)
	}
	s := st[0]
	if s.SHA != headSHA || s.State != "pending" || s.Name != "core-pipeline" || s.Ref != "main" {
		t.Errorf("status %+v", s)
	}
	if !strings.Contains(s.TargetURL, "/codesuite/codepipeline/pipelines/core-pipeline/executions/"+e.ID) {
		t.Errorf("target_url %q does not open execution %s", s.TargetURL, e.ID)
	}
	if !strings.Contains(s.Description, "push to main by jsmith") {
		t.Errorf("description %q", s.Description)
	}
	if len(ans.Started) != 1 || ans.Started[0].ExecutionID != e.ID || ans.Started[0].Status != "posted" {
		t.Errorf("answer %+v", ans)
	}
	if n := len(logLines(w.logs, "pipeline started")); n != 1 {
		t.Errorf("%d 'pipeline started' log lines, want 1:\n%s", n, w.logs)
	}
	if strings.Contains(w.logs.String(), secret) || strings.Contains(w.logs.String(), glToken) {
		t.Error("a secret reached the log")
	}
}

func TestTagPushStartsAtTaggedCommit(t *testing.T) {
	w := newWorld(t)
	const tagObject = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	body := payload(t, "webhook_tag_push.json", func(m map[string]any) {
		project(m, 42, "team/core")
		m["ref"] = "refs/tags/v1.4.0"
		m["after"] = tagObject // an annotated tag: after is the tag object
		m["checkout_sha"] = headSHA
	})
	code, ans := w.deliver(delivery{event: "Tag Push Hook", body: body})
	if code != http.StatusOK || ans.Result != "started" {
		t.Fatalf("got %d %+v", code, ans)
	}
	ex := w.cp.Executions()
	if len(ex) != 1 || ex[0].SourceRevisions[0].RevisionValue != headSHA {
		t.Fatalf("executions %+v, want one at %s", ex, headSHA)
	}
	if s, ok := w.gl.Latest("team/core", headSHA, "core-pipeline"); !ok || s.Ref != "v1.4.0" || !strings.Contains(s.Description, "tag v1.4.0") {
		t.Errorf("status %+v %v", s, ok)
	}
}

func TestSystemHookPushStarts(t *testing.T) {
	w := newWorld(t)
	body := payload(t, "system_push.json", func(m map[string]any) {
		project(m, 43, "team/auth")
		m["ref"] = "refs/heads/main"
	})
	code, ans := w.deliver(delivery{event: "System Hook", body: body})
	if code != http.StatusOK || ans.Result != "started" || w.starts() != 1 || w.cp.Executions()[0].Pipeline != "auth-pipeline" {
		t.Fatalf("got %d %+v, executions %+v", code, ans, w.cp.Executions())
	}
}

// TestNothingStarted covers the rows of the webhook table that answer 2xx and
// start nothing, and checks they cost no call to AWS or GitLab.
func TestNothingStarted(t *testing.T) {
	tests := []struct {
		name   string
		d      func(t *testing.T) delivery
		reason string
	}{
		{"deleted branch", func(t *testing.T) delivery {
			return delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main", func(m map[string]any) {
				m["after"], m["checkout_sha"], m["commits"], m["total_commits_count"] = zeroSHA, nil, []any{}, 0
			})}
		}, "branch main was deleted"},
		{"deleted tag", func(t *testing.T) delivery {
			return delivery{event: "Tag Push Hook", body: payload(t, "webhook_tag_push.json", func(m map[string]any) {
				project(m, 42, "team/core")
				m["after"], m["checkout_sha"] = zeroSHA, nil
			})}
		}, "was deleted"},
		{"unrouted branch", func(t *testing.T) delivery {
			return delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "feature/login")}
		}, "branch feature/login matches none of [main release/*]"},
		{"unrouted tag", func(t *testing.T) delivery {
			return delivery{event: "Tag Push Hook", body: payload(t, "webhook_tag_push.json", func(m map[string]any) {
				project(m, 42, "team/core")
				m["ref"] = "refs/tags/nightly"
			})}
		}, "tag nightly matches none of [v*]"},
		{"unrouted project", func(t *testing.T) delivery {
			return delivery{event: "Push Hook", body: pushTo(t, 99, "team/unknown", "main")}
		}, "project team/unknown (id 99) is not routed"},
		{"paths not matched", func(t *testing.T) delivery {
			return delivery{event: "Push Hook", body: pushTo(t, 44, "team/platform", "main", files("docs/README.md"))}
		}, "no changed file matches paths"},
		{"skip ci", func(t *testing.T) delivery {
			return delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main", func(m map[string]any) {
				cs := m["commits"].([]any)
				cs[len(cs)-1].(map[string]any)["message"] = "Fix typo [skip ci]"
			})}
		}, "[skip ci]"},
		{"ci skip", func(t *testing.T) delivery {
			return delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main", func(m map[string]any) {
				cs := m["commits"].([]any)
				cs[len(cs)-1].(map[string]any)["message"] = "Docs only\n\n[CI SKIP]"
			})}
		}, "[ci skip]"},
		{"merge request hook", func(t *testing.T) delivery {
			return delivery{event: "Merge Request Hook", body: payload(t, "webhook_merge_request.json", nil)}
		}, "merge request"},
		{"other event", func(t *testing.T) delivery {
			return delivery{event: "Issue Hook", body: payload(t, "webhook_issue.json", nil)}
		}, "does not act on Issue Hook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			code, ans := w.deliver(tt.d(t))
			if code != http.StatusOK || ans.Result != "ignored" {
				t.Fatalf("got %d %+v", code, ans)
			}
			why := ans.Reason
			for _, s := range ans.Skipped {
				why += " " + s.Reason
			}
			if !strings.Contains(why, tt.reason) {
				t.Errorf("reason %q, want it to say %q", why, tt.reason)
			}
			w.assertNoCalls()
		})
	}
}

func (w *world) assertNoCalls() {
	w.t.Helper()
	for _, op := range []string{"StartPipelineExecution", "GetPipelineExecution"} {
		if n := w.cp.Calls(op); n != 0 {
			w.t.Errorf("%d %s calls", n, op)
		}
	}
	for _, r := range []string{"statuses", "compare", "merge_requests", "approvals"} {
		if n := w.gl.Calls(r); n != 0 {
			w.t.Errorf("%d GitLab %s calls", n, r)
		}
	}
	if n := w.sqs.Calls("SendMessage"); n != 0 {
		w.t.Errorf("%d SendMessage calls", n)
	}
}

func TestRefused(t *testing.T) {
	good := func(t *testing.T) []byte { return pushTo(t, 42, "team/core", "main") }
	tests := []struct {
		name    string
		secret  string
		d       func(t *testing.T) delivery
		code    int
		message string
	}{
		{"wrong token", secret, func(t *testing.T) delivery {
			return delivery{event: "Push Hook", body: good(t), headers: map[string]string{"x-gitlab-token": "guess"}}
		}, 401, "X-Gitlab-Token"},
		{"no token", secret, func(t *testing.T) delivery {
			return delivery{event: "Push Hook", body: good(t), headers: map[string]string{"x-gitlab-token": ""}}
		}, 401, "X-Gitlab-Token"},
		{"no secret configured", "", func(t *testing.T) delivery {
			return delivery{event: "Push Hook", body: good(t)}
		}, 401, "X-Gitlab-Token"},
		{"not JSON", secret, func(t *testing.T) delivery {
			return delivery{event: "Push Hook", body: []byte("ref=main")}
		}, 400, "not a JSON object"},
		{"body of another event", secret, func(t *testing.T) delivery {
			return delivery{event: "Push Hook", body: payload(t, "webhook_tag_push.json", nil)}
		}, 400, `object_kind "tag_push"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.app.Secret = tt.secret
			code, ans := w.deliver(tt.d(t))
			if code != tt.code || ans.Result != "refused" || !strings.Contains(ans.Reason, tt.message) {
				t.Fatalf("got %d %+v, want %d saying %q", code, ans, tt.code, tt.message)
			}
			w.assertNoCalls()
		})
	}
}

func TestNoSecretSaysWhichVariable(t *testing.T) {
	w := newWorld(t)
	w.app.Secret = ""
	w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main")})
	if !strings.Contains(w.logs.String(), "WEBHOOK_SECRET") {
		t.Errorf("log does not name the missing variable:\n%s", w.logs)
	}
}

func TestBase64Body(t *testing.T) {
	w := newWorld(t)
	// API Gateway base64-encodes bodies it considers binary.
	code, ans := w.deliverBase64(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main")})
	if code != http.StatusOK || ans.Result != "started" || w.starts() != 1 {
		t.Fatalf("got %d %+v", code, ans)
	}
}

func TestDuplicateDeliveries(t *testing.T) {
	tests := []struct {
		name           string
		first, second  map[string]string
		wantExecutions int
	}{
		{"same Idempotency-Key, new event uuid (Resend request)",
			map[string]string{"idempotency-key": "k1", "x-gitlab-event-uuid": "u1"},
			map[string]string{"idempotency-key": "k1", "x-gitlab-event-uuid": "u2"}, 1},
		{"same event uuid, no Idempotency-Key (older GitLab)",
			map[string]string{"x-gitlab-event-uuid": "u1"},
			map[string]string{"x-gitlab-event-uuid": "u1"}, 1},
		{"different deliveries of the same commit",
			map[string]string{"idempotency-key": "k1"},
			map[string]string{"idempotency-key": "k2"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			body := pushTo(t, 42, "team/core", "main")
			w.deliver(delivery{event: "Push Hook", body: body, headers: tt.first})
			code, ans := w.deliver(delivery{event: "Push Hook", body: body, headers: tt.second})
			if code != http.StatusOK {
				t.Fatalf("second delivery: %d %+v", code, ans)
			}
			if tt.wantExecutions == 1 && ans.Result != "duplicate" {
				t.Errorf("second delivery answered %+v, want duplicate", ans)
			}
			if got := w.starts(); got != tt.wantExecutions {
				t.Errorf("%d executions, want %d", got, tt.wantExecutions)
			}
		})
	}
}

// TestConcurrentDuplicates delivers one event 20 times at once, as two or more
// Lambda instances may receive it, with the in-memory and the DynamoDB store.
func TestConcurrentDuplicates(t *testing.T) {
	for name, opt := range map[string]option{
		"memory": func(*world) {},
		"dynamodb": func(w *world) {
			withStore(dynamoStore(t))(w)
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, opt)
			body := pushTo(t, 42, "team/core", "main")
			var wg sync.WaitGroup
			codes := make([]int, 20)
			for i := range codes {
				wg.Go(func() {
					codes[i], _ = w.deliver(delivery{event: "Push Hook", body: body,
						headers: map[string]string{"idempotency-key": "same"}})
				})
			}
			wg.Wait()
			for i, c := range codes {
				if c != http.StatusOK {
					t.Errorf("delivery %d answered %d", i, c)
				}
			}
			if n := w.cp.Calls("StartPipelineExecution"); n != 1 {
				t.Errorf("%d StartPipelineExecution calls, want exactly 1", n)
			}
			if n := len(w.gl.Statuses()); n != 1 {
				t.Errorf("%d statuses, want 1", n)
			}
		})
	}
}

func TestMonorepoPathsFromPayload(t *testing.T) {
	w := newWorld(t)
	code, ans := w.deliver(delivery{event: "Push Hook",
		body: pushTo(t, 44, "team/platform", "main", files("services/billing/api/invoice.go"))})
	if code != http.StatusOK || ans.Result != "started" {
		t.Fatalf("got %d %+v", code, ans)
	}
	if ex := w.cp.Executions(); len(ex) != 1 || ex[0].Pipeline != "billing-pipeline" {
		t.Errorf("executions %+v, want billing only", ex)
	}
	if len(ans.Skipped) != 1 || ans.Skipped[0].Service != "search" {
		t.Errorf("skipped %+v, want search", ans.Skipped)
	}
	if n := w.gl.Calls("compare"); n != 0 {
		t.Errorf("%d compare calls although the payload listed every file", n)
	}
}

// TestMonorepoPathsFromCompare: GitLab lists at most 20 commits, so a longer push
// and a new branch take their changed paths from the compare API.
func TestMonorepoPathsFromCompare(t *testing.T) {
	const before = "95790bf891e76fee5e1747ab589903a6a1f80f22"
	tests := []struct {
		name     string
		edit     func(m map[string]any)
		from     string
		pipeline string
	}{
		{"more than 20 commits", func(m map[string]any) { m["total_commits_count"] = 25 }, before, "search-pipeline"},
		{"new branch", func(m map[string]any) {
			m["before"] = zeroSHA
			m["ref"] = "refs/heads/release/2.0"
		}, "main", "search-pipeline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			// The payload's files name billing; the full comparison shows only search.
			w.gl.SetCompare("44", tt.from, headSHA, []string{"services/search/index.go"})
			w.gl.SetCompare("team/platform", tt.from, headSHA, []string{"services/search/index.go"})
			code, ans := w.deliver(delivery{event: "Push Hook",
				body: pushTo(t, 44, "team/platform", "main", files("services/billing/x.go"), tt.edit)})
			if code != http.StatusOK || ans.Result != "started" {
				t.Fatalf("got %d %+v", code, ans)
			}
			if ex := w.cp.Executions(); len(ex) != 1 || ex[0].Pipeline != tt.pipeline {
				t.Errorf("executions %+v, want %s only", ex, tt.pipeline)
			}
			if n := w.gl.Calls("compare"); n != 1 {
				t.Errorf("%d compare calls, want 1", n)
			}
		})
	}
}

func TestQuickRetriesAbsorbPassingFailures(t *testing.T) {
	tests := []struct {
		name   string
		inject func(w *world)
	}{
		{"CodePipeline throttles twice", func(w *world) { w.cp.FailNext("StartPipelineExecution", 2, emulator.Throttling) }},
		{"CodePipeline 500 once", func(w *world) { w.cp.FailNext("StartPipelineExecution", 1, emulator.ServerError) }},
		{"GitLab 500 once", func(w *world) {
			w.gl.FailNext("statuses", 1, emulator.Fault{Status: 500, Message: "500 Internal Server Error"})
		}},
		{"GitLab 429 once", func(w *world) {
			w.gl.FailNext("statuses", 1, emulator.Fault{Status: 429, Message: "Retry later",
				Header: http.Header{"Ratelimit-Reset": {"0"}}})
		}},
		{"GitLab 409 once", func(w *world) {
			w.gl.FailNext("statuses", 1, emulator.Fault{Status: 409, Message: "Commit status is being updated"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			tt.inject(w)
			code, ans := w.deliver(delivery{event: "Push Hook", body: pushTo(t, 42, "team/core", "main")})
			if code != http.StatusOK || ans.Result != "started" {
				t.Fatalf("got %d %+v", code, ans)
			}
			if w.starts() != 1 || len(w.gl.Statuses()) != 1 || w.sqs.Calls("SendMessage") != 0 {
				t.Errorf("executions %d, statuses %d, queued %d", w.starts(), len(w.gl.Statuses()), w.sqs.Calls("SendMessage"))
			}
		})
	}
}

func TestCompareFailureGoesToQueue(t *testing.T) {
	w := newWorld(t)
	w.gl.FailNext("compare", 3, emulator.Fault{Status: 502, Message: "502 Bad Gateway"})
	w.gl.SetCompare("44", "95790bf891e76fee5e1747ab589903a6a1f80f22", headSHA, []string{"services/billing/a.go"})
	code, ans := w.deliver(delivery{event: "Push Hook",
		body: pushTo(t, 44, "team/platform", "main", func(m map[string]any) { m["total_commits_count"] = 30 })})
	if code != http.StatusAccepted || ans.Result != "queued" {
		t.Fatalf("got %d %+v", code, ans)
	}
	if fails := w.drain(); len(fails) != 0 {
		t.Fatalf("retry failed: %+v\n%s", fails, w.logs)
	}
	if ex := w.cp.Executions(); len(ex) != 1 || ex[0].Pipeline != "billing-pipeline" {
		t.Errorf("executions %+v", ex)
	}
}
