package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipegate/pipegate"
	"github.com/pipegate/pipegate/internal/routing"
)

// envOf is an environment of name/value pairs.
func envOf(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

// sampleRouting is the routing file of the world that the events of events/ are
// deliveries of; the tests name it in PIPEGATE_CONFIG instead of depending on the
// bundled pipegate.yaml, which a team edits.
const sampleRouting = "testdata/sample.yaml"

// sampleWorld is an environment that names only that routing file.
var sampleWorld = envOf("PIPEGATE_CONFIG", sampleRouting)

// sampleEnv is the webhook function's environment of events/env.json (its
// secret is the token the sample events carry) with the sample routing file.
var sampleEnv = envOf("WEBHOOK_SECRET", localSecret, "PIPEGATE_CONFIG", sampleRouting)

func runExplain(t *testing.T, getenv func(string) string, file string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), []string{"explain", file}, getenv, &out, &out)
	return out.String(), err
}

// sample decodes an event of events/ for a test to edit.
func sample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../events", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// sampleBody decodes the GitLab body of an API Gateway event of events/.
func sampleBody(t *testing.T, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(sample(t, name)["body"].(string)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// writeEvent writes v (JSON, or raw bytes) to a file of the test's own.
func writeEvent(t *testing.T, v any) string {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// withBody is an API Gateway event of events/ carrying another body.
func withBody(t *testing.T, name string, body map[string]any) map[string]any {
	t.Helper()
	ev := sample(t, name)
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ev["body"] = string(b)
	return ev
}

func checkOutput(t *testing.T, got string, want, not []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
	for _, n := range not {
		if strings.Contains(got, n) {
			t.Errorf("output has %q:\n%s", n, got)
		}
	}
}

const (
	pushSHA = "9c1e4b7d2a5f8e3c6b0d9a4f7e2c5b8d1a6f3e0c"
	zeroSHA = "0000000000000000000000000000000000000000"
)

// Every sample event of the repository, with what explain must say of it.
func TestExplainSampleEvents(t *testing.T) {
	others := []string{
		"api-gateway (api-gateway-pipeline): project ic/api-gateway, not ic/core",
		"auth (auth-pipeline): project ic/auth, not ic/core",
		"files (files-pipeline): project ic/files, not ic/core",
	}
	startsCore := func(sha string) string {
		return "core: pipeline core-pipeline, source action Source at commit " + sha + `, then commit status "core-pipeline" pending`
	}
	summaries := map[string]struct {
		want    []string
		wantErr string
	}{
		"push.json": {want: append([]string{
			`API Gateway event, X-Gitlab-Event "Push Hook", routing file testdata/sample.yaml (4 services)`,
			"token: X-Gitlab-Token matches WEBHOOK_SECRET",
			"push to branch main of ic/core (project 42) by ada: commit " + pushSHA,
			"changed files the payload lists (3): services/core/ratelimit.go, services/core/handler.go, services/core/handler_test.go",
			"would start 1 pipeline(s):",
			startsCore(pushSHA),
			"would not start:",
		}, others...)},
		"push-unrouted.json": {want: []string{
			"push to branch feature/files-retry of ic/core",
			"would start nothing: no service is routed for this push",
			"core (core-pipeline): branch feature/files-retry matches none of [main]",
			others[0],
		}},
		"tag-push.json": {want: []string{
			`X-Gitlab-Event "Tag Push Hook"`,
			"tag push v1.4.0 of ic/core (project 42) by ada: commit " + pushSHA + " (the tagged commit; after is f3a6d9c2e5b8a1f4d7c0e3b6a9f2d5c8e1b4a7d0)",
			startsCore(pushSHA),
			others[2],
		}},
		"bad-token.json": {want: []string{
			"token: X-Gitlab-Token does not match WEBHOOK_SECRET: the webhook would answer 401 and do nothing",
			startsCore("2b8e5d1a7c4f0e3b6d9a2c5f8e1b4d7a0c3f6e9b"),
		}},
		"merge-request-approved.json": {want: append([]string{
			"token: X-Gitlab-Token matches WEBHOOK_SECRET",
			"merge request !118 of ic/core (project 42), action approved",
			"would re-evaluate the production gate of 1 service(s):",
			"core: pipeline core-pipeline, approval Production/ApproveProduction (min_approvals 1, author_can_approve false, no_merge_request wait)",
			"not re-evaluated:",
		}, others...)},
		"merge-request-merged.json": {want: []string{
			"merge request !118 of ic/core (project 42), action merge",
			"core: pipeline core-pipeline, approval Production/ApproveProduction",
		}},
		"pipeline-started.json": {want: []string{
			`EventBridge event "CodePipeline Pipeline Execution State Change" from aws.codepipeline, for the pipeline-events function`,
			"pipeline core-pipeline is service core's (ic/core); execution 00000001-0000-4000-800c-000000000001, pipeline STARTED",
			`would set commit status "core-pipeline" to running`,
		}},
		"stage-build-succeeded.json": {want: []string{
			"stage Build SUCCEEDED",
			`would set commit status "core-pipeline/Build" to success`,
		}},
		"action-approval-started.json": {want: []string{
			"action Production/ApproveProduction STARTED",
			"the production approval Production/ApproveProduction started: pipegate would evaluate the gate",
			`status "core-pipeline/Production"`,
		}},
		"pipeline-succeeded.json": {want: []string{
			`would set commit status "core-pipeline" to success`,
		}},
		"scheduled.json": {want: []string{
			`EventBridge event "Scheduled Event" from aws.events`,
			"the reconciler",
		}},
		// The functions' environment for sam local, not an event.
		"env.json": {wantErr: "is neither an API Gateway (or function URL) event, a GitLab webhook body (object_kind), nor an EventBridge event"},
	}
	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no events: %v", err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			out, err := runExplain(t, sampleEnv, f)
			s, ok := summaries[name]
			switch {
			case !ok:
				// An event added since: it must at least be explained.
				if err != nil || !strings.HasPrefix(out, f+": ") {
					t.Errorf("explain %s: %v\n%s", name, err, out)
				}
				t.Logf("no expected summary for %s yet:\n%s", name, out)
			case s.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), s.wantErr) {
					t.Errorf("error %v, want one containing %q", err, s.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("explain: %v\n%s", err, out)
				}
				checkOutput(t, out, s.want, []string{localSecret, "not-the-webhook-secret"})
			}
		})
	}
	for name := range summaries {
		if !seen[name] {
			t.Errorf("events/%s is gone", name)
		}
	}
}

func TestExplainWebhookEvents(t *testing.T) {
	monorepo := envOf("PIPEGATE_CONFIG", "testdata/monorepo.yaml", "WEBHOOK_SECRET", localSecret)
	platform := func(m map[string]any) {
		m["project_id"] = 77
		p := m["project"].(map[string]any)
		p["id"], p["path_with_namespace"] = 77, "ic/platform"
	}
	commit := func(id, msg string, files ...string) map[string]any {
		return map[string]any{"id": id, "message": msg, "added": []string{}, "modified": files, "removed": []string{}}
	}
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		event  func(t *testing.T) any
		want   []string
		not    []string
	}{
		{
			name:   "a bare push body",
			getenv: sampleWorld,
			event:  func(t *testing.T) any { return sampleBody(t, "push.json") },
			want: []string{"GitLab webhook body (push), routing file testdata/sample.yaml (4 services); a bare body has no token to check",
				"core: pipeline core-pipeline, source action Source at commit " + pushSHA},
			not: []string{"token:"},
		},
		{
			name:   "an API Gateway event without WEBHOOK_SECRET",
			getenv: sampleWorld,
			event:  func(t *testing.T) any { return sample(t, "push.json") },
			want:   []string{"token: WEBHOOK_SECRET is not set, so X-Gitlab-Token is not checked here", "core: pipeline core-pipeline"},
		},
		{
			name:   "an API Gateway event without a token",
			getenv: sampleEnv,
			event: func(t *testing.T) any {
				ev := sample(t, "push.json")
				delete(ev["headers"].(map[string]any), "x-gitlab-token")
				return ev
			},
			want: []string{"token: no X-Gitlab-Token: the webhook would answer 401"},
		},
		{
			name:   "a base64 body with headers in another case",
			getenv: sampleEnv,
			event: func(t *testing.T) any {
				ev := sample(t, "push.json")
				ev["body"] = base64.StdEncoding.EncodeToString([]byte(ev["body"].(string)))
				ev["isBase64Encoded"] = true
				h := ev["headers"].(map[string]any)
				h["X-GITLAB-TOKEN"] = h["x-gitlab-token"]
				delete(h, "x-gitlab-token")
				return ev
			},
			want: []string{"token: X-Gitlab-Token matches WEBHOOK_SECRET", "core: pipeline core-pipeline, source action Source at commit " + pushSHA},
		},
		{
			name:   "a skip marker",
			getenv: sampleEnv,
			event: func(t *testing.T) any {
				b := sampleBody(t, "push.json")
				b["commits"] = []any{commit(pushSHA, "Fix a typo [skip ci]\n", "README.md")}
				b["total_commits_count"] = 1
				return withBody(t, "push.json", b)
			},
			want: []string{"would start nothing: head commit message has [skip ci]", "core (core-pipeline): head commit message has [skip ci]", others0},
		},
		{
			name:   "a deleted branch",
			getenv: sampleEnv,
			event: func(t *testing.T) any {
				b := sampleBody(t, "push.json")
				b["ref"], b["after"], b["checkout_sha"], b["commits"], b["total_commits_count"] = "refs/heads/old", zeroSHA, nil, []any{}, 0
				return withBody(t, "push.json", b)
			},
			want: []string{"push to branch old of ic/core (project 42) by ada: deletes the branch", "core (core-pipeline): branch old was deleted"},
		},
		{
			name:   "an unrouted project",
			getenv: sampleEnv,
			event: func(t *testing.T) any {
				b := sampleBody(t, "push.json")
				b["project_id"] = 99
				p := b["project"].(map[string]any)
				p["id"], p["path_with_namespace"] = 99, "ic/other"
				return b
			},
			want: []string{"would start nothing: project ic/other (id 99) is not routed", "core (core-pipeline): project ic/core, not ic/other"},
		},
		{
			name:   "a monorepo push: paths tell services apart",
			getenv: monorepo,
			event: func(t *testing.T) any {
				b := sampleBody(t, "push.json")
				platform(b)
				b["commits"] = []any{commit(pushSHA, "Round money half-even\n", "libs/money/round.go")}
				b["total_commits_count"] = 1
				return withBody(t, "push.json", b)
			},
			want: []string{
				"routing file testdata/monorepo.yaml (3 services)",
				"would start 1 pipeline(s):",
				"billing: pipeline billing-pipeline, source action Source at commit " + pushSHA,
				"search (search-pipeline): no changed file matches paths [services/search/**]",
				"core (core-pipeline): project ic/core, not ic/platform",
			},
			not: []string{"compare API"},
		},
		{
			name:   "a push of more commits than the payload lists",
			getenv: monorepo,
			event: func(t *testing.T) any {
				b := sampleBody(t, "push.json")
				platform(b)
				b["commits"] = []any{
					commit("e4a7c2f9b1d6e3a8c5f0b7d2e9a4c1f6b3d8e5a2", "Index prices\n", "services/search/index.go"),
					commit(pushSHA, "Merge branch 'prices'\n", "services/search/index_test.go"),
				}
				b["total_commits_count"] = 25
				return withBody(t, "push.json", b)
			},
			want: []string{
				"the payload lists 2 of the 25 pushed commits (GitLab lists at most 20): pipegate would ask GitLab's compare API for the files of ic/platform from 5f2c9e0d4b7a8c1e3f6d2b9a0c4e7f1d8b3a6c5e to " + pushSHA + ", then match again (nothing is started before that)",
				"on the files the payload lists, it would decide:",
				"search: pipeline search-pipeline, source action Source at commit " + pushSHA,
				"billing (billing-pipeline): no changed file matches paths [services/billing/** libs/money/**]",
			},
		},
		{
			name:   "a new branch",
			getenv: monorepo,
			event: func(t *testing.T) any {
				b := sampleBody(t, "push.json")
				platform(b)
				b["ref"], b["before"] = "refs/heads/release/2", zeroSHA
				b["commits"] = []any{commit(pushSHA, "Release 2\n", "services/search/version.go")}
				b["total_commits_count"] = 1
				return withBody(t, "push.json", b)
			},
			want: []string{
				"push to branch release/2 of ic/platform (project 77)",
				"a new branch: its changed files are counted from the default branch, which the payload does not list: pipegate would ask GitLab's compare API for the files of ic/platform from main to " + pushSHA,
				"search: pipeline search-pipeline",
				"billing (billing-pipeline): branch release/2 matches none of [main]",
			},
		},
		{
			name:   "a tag of a service that no tag starts",
			getenv: monorepo,
			event:  func(t *testing.T) any { return sample(t, "tag-push.json") },
			want: []string{
				"would start nothing: no service is routed for this push",
				"core (core-pipeline): tag v1.4.0: the service starts on no tags",
				"billing (billing-pipeline): project ic/platform, not ic/core",
			},
		},
		{
			name:   "a merge request opened",
			getenv: sampleEnv,
			event: func(t *testing.T) any {
				b := sampleBody(t, "merge-request-approved.json")
				b["object_attributes"].(map[string]any)["action"] = "open"
				return withBody(t, "merge-request-approved.json", b)
			},
			want: []string{"merge request !118 of ic/core (project 42), action open", "would do nothing: merge request !118 open: only approval, approved and merge can open a production gate"},
			not:  []string{"re-evaluate"},
		},
		{
			name:   "a merge request of a project with another policy",
			getenv: monorepo,
			event:  func(t *testing.T) any { return sampleBody(t, "merge-request-merged.json") },
			want: []string{"GitLab webhook body (merge_request)",
				"core: pipeline core-pipeline, approval Production/ApproveProduction (min_approvals 2, author_can_approve false, no_merge_request reject)",
				"billing (billing-pipeline): project ic/platform, not ic/core"},
		},
		{
			name:   "a merge request of an unrouted project",
			getenv: sampleEnv,
			event: func(t *testing.T) any {
				b := sampleBody(t, "merge-request-approved.json")
				b["project"].(map[string]any)["path_with_namespace"] = "ic/other"
				b["project"].(map[string]any)["id"] = 99
				return b
			},
			want: []string{"would do nothing: no service of project ic/other has a production gate"},
		},
		{
			name:   "a bare body of another kind",
			getenv: sampleEnv,
			event: func(t *testing.T) any {
				return map[string]any{"object_kind": "issue", "object_attributes": map[string]any{"iid": 3}}
			},
			want: []string{"GitLab webhook body (issue)", "pipegate does not act on issue events: the webhook would answer 200 and do nothing"},
		},
		{
			name:   "a system hook push",
			getenv: sampleEnv,
			event: func(t *testing.T) any {
				b, err := os.ReadFile("../../internal/gitlabhook/testdata/system_push.json")
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
			want: []string{"GitLab webhook body (push)", "push to branch master of mike/diaspora (project 15)", "would start nothing: project mike/diaspora (id 15) is not routed"},
		},
		{
			name:   "a request to another route",
			getenv: sampleEnv,
			event: func(t *testing.T) any {
				ev := sample(t, "push.json")
				ev["rawPath"], ev["body"] = "/badges/core.svg", ""
				ev["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = "GET"
				return ev
			},
			want: []string{"API Gateway request GET /badges/core.svg: not a webhook delivery, which GitLab POSTs; nothing to explain"},
		},
		{
			name:   "a delivery of another event",
			getenv: sampleEnv,
			event: func(t *testing.T) any {
				ev := withBody(t, "push.json", map[string]any{"object_kind": "issue"})
				ev["headers"].(map[string]any)["x-gitlab-event"] = "Issue Hook"
				return ev
			},
			want: []string{"token: X-Gitlab-Token matches WEBHOOK_SECRET", "pipegate does not act on Issue Hook: the webhook would answer 200 and do nothing"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runExplain(t, tc.getenv, writeEvent(t, tc.event(t)))
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, out)
			}
			checkOutput(t, out, tc.want, append(tc.not, localSecret))
		})
	}
}

// others0 is a service the sample push's project does not have.
const others0 = "api-gateway (api-gateway-pipeline): project ic/api-gateway, not ic/core"

func TestExplainPipelineEvents(t *testing.T) {
	for _, tc := range []struct {
		name  string
		event func(t *testing.T) map[string]any
		want  []string
	}{
		{
			name: "a pipeline no service names",
			event: func(t *testing.T) map[string]any {
				ev := sample(t, "pipeline-started.json")
				ev["detail"].(map[string]any)["pipeline"] = "other-pipeline"
				return ev
			},
			want: []string{"would ignore it: no service names pipeline other-pipeline"},
		},
		{
			name: "the production stage starting",
			event: func(t *testing.T) map[string]any {
				ev := sample(t, "stage-build-succeeded.json")
				d := ev["detail"].(map[string]any)
				d["stage"], d["state"] = "Production", "STARTED"
				return ev
			},
			want: []string{`would set commit status "core-pipeline/Production" to running`, "while Production runs, the production gate words that status",
				`would create or move the execution's GitLab deployment to environment "production": created (it waits for the production gate)`},
		},
		{
			name: "staging succeeding",
			event: func(t *testing.T) map[string]any {
				ev := sample(t, "stage-build-succeeded.json")
				ev["detail"].(map[string]any)["stage"] = "Staging"
				return ev
			},
			want: []string{`would set commit status "core-pipeline/Staging" to success`,
				`would create or move the execution's GitLab deployment to environment "staging": success`},
		},
		{
			name: "the production approval given",
			event: func(t *testing.T) map[string]any {
				ev := sample(t, "action-approval-started.json")
				ev["detail"].(map[string]any)["state"] = "SUCCEEDED"
				return ev
			},
			want: []string{`the production approval Production/ApproveProduction was given: would move the GitLab deployment to environment "production" to running`},
		},
		{
			name: "another action",
			event: func(t *testing.T) map[string]any {
				ev := sample(t, "action-approval-started.json")
				d := ev["detail"].(map[string]any)
				d["stage"], d["action"] = "Build", "Build"
				d["type"].(map[string]any)["category"] = "Build"
				return ev
			},
			want: []string{"action Build/Build STARTED", "would set no status: action events only matter as the start and the success of the production approval Production/ApproveProduction"},
		},
		{
			name: "a stage skipped",
			event: func(t *testing.T) map[string]any {
				ev := sample(t, "stage-build-succeeded.json")
				ev["detail"].(map[string]any)["state"] = "SKIPPED"
				return ev
			},
			want: []string{`would set commit status "core-pipeline/Build" to skipped`},
		},
		{
			name: "another source",
			event: func(t *testing.T) map[string]any {
				ev := sample(t, "pipeline-started.json")
				ev["source"], ev["detail-type"] = "aws.s3", "Object Created"
				return ev
			},
			want: []string{"would ignore it: not a CodePipeline state change"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runExplain(t, sampleWorld, writeEvent(t, tc.event(t)))
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, out)
			}
			checkOutput(t, out, tc.want, nil)
		})
	}
}

func TestExplainRefusesBrokenInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   func(t *testing.T) []string
		getenv func(string) string
		want   string
	}{
		{name: "no file", args: func(*testing.T) []string { return nil }, want: "name one event file"},
		{name: "two files", args: func(*testing.T) []string { return []string{"a.json", "b.json"} }, want: "name one event file"},
		{name: "a missing file", args: func(*testing.T) []string { return []string{"testdata/nope.json"} }, want: "no such file"},
		{name: "not JSON", args: func(t *testing.T) []string { return []string{writeEvent(t, []byte("push to main"))} }, want: "is not a JSON object"},
		{name: "a JSON list", args: func(t *testing.T) []string { return []string{writeEvent(t, []any{1})} }, want: "is not a JSON object"},
		{name: "an empty object", args: func(t *testing.T) []string { return []string{writeEvent(t, map[string]any{})} }, want: "is neither"},
		{
			name: "a body that is not JSON",
			args: func(t *testing.T) []string {
				ev := sample(t, "push.json")
				ev["body"] = "object_kind=push"
				return []string{writeEvent(t, ev)}
			},
			want: "the webhook would answer 400: malformed delivery: body is not a JSON object",
		},
		{
			name: "a body of another event than the header names",
			args: func(t *testing.T) []string {
				return []string{writeEvent(t, withBody(t, "push.json", sampleBody(t, "merge-request-approved.json")))}
			},
			want: `the webhook would answer 400: malformed delivery: X-Gitlab-Event "Push Hook" but object_kind "merge_request"`,
		},
		{
			name: "no X-Gitlab-Event",
			args: func(t *testing.T) []string {
				ev := sample(t, "push.json")
				delete(ev["headers"].(map[string]any), "x-gitlab-event")
				return []string{writeEvent(t, ev)}
			},
			want: "no X-Gitlab-Event header",
		},
		{
			name: "a body that is not base64",
			args: func(t *testing.T) []string {
				ev := sample(t, "push.json")
				ev["isBase64Encoded"] = true
				return []string{writeEvent(t, ev)}
			},
			want: "isBase64Encoded, but the body is not base64",
		},
		{
			name: "a push without a ref",
			args: func(t *testing.T) []string {
				b := sampleBody(t, "push.json")
				delete(b, "ref")
				return []string{writeEvent(t, b)}
			},
			want: "push event without ref",
		},
		{
			name: "a CodePipeline event without its pipeline",
			args: func(t *testing.T) []string {
				ev := sample(t, "pipeline-started.json")
				delete(ev["detail"].(map[string]any), "pipeline")
				return []string{writeEvent(t, ev)}
			},
			want: "detail lacks pipeline",
		},
		{
			name:   "a broken routing file",
			args:   func(*testing.T) []string { return []string{"../../events/push.json"} },
			getenv: envOf("PIPEGATE_CONFIG", "testdata/broken.yaml"),
			want:   "line 4",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := tc.getenv
			if getenv == nil {
				getenv = sampleWorld
			}
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"explain"}, tc.args(t)...), getenv, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q\n%s", err, tc.want, out.String())
			}
		})
	}
}

// With PIPEGATE_CONFIG unset, explain routes with the bundled pipegate.yaml and
// says so. What that file routes is the team's: only its count is compared.
func TestExplainNamesTheBundledFile(t *testing.T) {
	cfg, err := routing.Parse(pipegate.DefaultRouting())
	if err != nil {
		t.Fatal(err)
	}
	out, err := runExplain(t, noEnv, "../../events/scheduled.json")
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	checkOutput(t, out, []string{fmt.Sprintf("routing file bundled pipegate.yaml (%d services)", len(cfg.Services))}, nil)
}

// TestExplainApproverPolicy: explain says whose approvals count when the
// service names approvers, both for the approval action's event and for a merge
// request webhook that re-evaluates the gate; without approvers it says nothing
// of them.
func TestExplainApproverPolicy(t *testing.T) {
	const policy = "only approvals by @bob, members of platform/leads (GitLab's members/all: inherited included; active, Developer or above) count; others are named as not counting"
	env := envOf("PIPEGATE_CONFIG", "testdata/approvers.yaml")
	out, err := runExplain(t, env, writeEvent(t, sample(t, "action-approval-started.json")))
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	checkOutput(t, out, []string{"approver policy: " + policy}, nil)
	out, err = runExplain(t, sampleWorld, writeEvent(t, sample(t, "action-approval-started.json")))
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	checkOutput(t, out, []string{"would evaluate the gate"}, []string{"approver policy"})

	env = envOf("WEBHOOK_SECRET", localSecret, "PIPEGATE_CONFIG", "testdata/approvers.yaml")
	out, err = runExplain(t, env, "../../events/merge-request-approved.json")
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	checkOutput(t, out, []string{"would re-evaluate the production gate of 1 service(s):", "    " + policy}, nil)
}
