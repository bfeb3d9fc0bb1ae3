package gitlabhook_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/gitlabhook"
)

// load decodes one of GitLab's documented payloads (see testdata/README.md) so a test
// can derive a variant by editing it.
func load(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

func encode(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// headers builds the headers GitLab sends: the event name and then name/value pairs.
func headers(event string, kv ...string) http.Header {
	h := http.Header{}
	if event != "" {
		h.Set("X-Gitlab-Event", event)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// commits returns the payload's commits list for editing in place.
func commits(t *testing.T, m map[string]any) []any {
	t.Helper()
	c, ok := m["commits"].([]any)
	if !ok {
		t.Fatalf("payload has no commits list: %T", m["commits"])
	}
	return c
}

func decode(t *testing.T, event string, m map[string]any) gitlabhook.Event {
	t.Helper()
	ev, err := gitlabhook.Decode(headers(event), encode(t, m))
	if err != nil {
		t.Fatalf("Decode(%q): %v", event, err)
	}
	return ev
}

func decodePush(t *testing.T, event string, m map[string]any) *gitlabhook.Push {
	t.Helper()
	ev := decode(t, event, m)
	if ev.Kind != gitlabhook.PushKind || ev.Push == nil || ev.MergeRequest != nil {
		t.Fatalf("Decode(%q): kind %v push %v mr %v, want a push", event, ev.Kind, ev.Push, ev.MergeRequest)
	}
	return ev.Push
}

func TestAuthenticate(t *testing.T) {
	const secret = "s3cret-token"
	tests := []struct {
		name   string
		header http.Header
		secret string
		ok     bool
	}{
		{"right token", headers("", "X-Gitlab-Token", secret), secret, true},
		{"lower-case header name", headers("", "x-gitlab-token", secret), secret, true},
		{"upper-case header name", headers("", "X-GITLAB-TOKEN", secret), secret, true},
		{"wrong token", headers("", "X-Gitlab-Token", "s3cret-tokeN"), secret, false},
		{"token with the secret as prefix", headers("", "X-Gitlab-Token", secret+"x"), secret, false},
		{"secret with the token as prefix", headers("", "X-Gitlab-Token", secret[:4]), secret, false},
		{"missing header", headers(""), secret, false},
		{"empty header", headers("", "X-Gitlab-Token", ""), secret, false},
		{"no secret configured, no token", headers(""), "", false},
		{"no secret configured, some token", headers("", "X-Gitlab-Token", "anything"), "", false},
		// A header map built without canonical keys is not http.Header's business to fix:
		// the caller must use Set/Add, and a raw key must not sneak past.
		{"non-canonical raw key", http.Header{"x-gitlab-token": {secret}}, secret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := gitlabhook.Authenticate(tt.header, tt.secret)
			switch {
			case tt.ok && err != nil:
				t.Fatalf("Authenticate: %v, want nil", err)
			case !tt.ok && !errors.Is(err, gitlabhook.ErrUnauthorized):
				t.Fatalf("Authenticate: %v, want ErrUnauthorized", err)
			}
		})
	}
}

func TestDecodeProjectPush(t *testing.T) {
	m := load(t, "webhook_push.json")
	p := decodePush(t, "Push Hook", m)

	want := gitlabhook.Push{
		ProjectID:     15,
		Project:       "mike/diaspora",
		DefaultBranch: "master",
		Ref:           "refs/heads/master",
		Before:        "95790bf891e76fee5e1747ab589903a6a1f80f22",
		After:         "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
		CommitSHA:     "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
		User:          "jsmith",
		HeadMessage:   "fixed readme\n",
		// Both commits list the same two files: each once, in first-seen order.
		ChangedPaths: []string{"CHANGELOG", "app/controller/application.rb"},
		// The payload lists 2 of total_commits_count 4: the rest are unknown.
		PathsKnown: false,
	}
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("push\n got %+v\nwant %+v", *p, want)
	}
	if got := p.RefName(); got != "master" {
		t.Errorf("RefName = %q, want master", got)
	}
	if p.Deleted() {
		t.Error("Deleted = true for a push with a new head")
	}
	if got := p.CompareBase(); got != want.Before {
		t.Errorf("CompareBase = %q, want before %q", got, want.Before)
	}
}

func TestDecodePushPathsKnown(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(m map[string]any)
		known bool
	}{
		{"every commit listed", func(m map[string]any) { m["total_commits_count"] = 2 }, true},
		{"more commits than listed (GitLab lists at most 20)", func(m map[string]any) { m["total_commits_count"] = 21 }, false},
		{"new branch: before is all zeros", func(m map[string]any) {
			m["total_commits_count"] = 2
			m["before"] = gitlabhook.ZeroSHA
		}, false},
		{"branch reset to an older commit: no commits listed", func(m map[string]any) {
			m["total_commits_count"] = 0
			m["commits"] = []any{}
		}, false},
		{"a commit without file lists", func(m map[string]any) {
			m["total_commits_count"] = 2
			c := m["commits"].([]any)[0].(map[string]any)
			delete(c, "added")
			delete(c, "modified")
			delete(c, "removed")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := load(t, "webhook_push.json")
			tt.edit(m)
			p := decodePush(t, "Push Hook", m)
			if p.PathsKnown != tt.known {
				t.Fatalf("PathsKnown = %v, want %v", p.PathsKnown, tt.known)
			}
		})
	}
}

func TestDecodePushChangedPathsDeduplicated(t *testing.T) {
	m := load(t, "webhook_push.json")
	m["total_commits_count"] = 2
	cs := commits(t, m)
	second := cs[1].(map[string]any)
	second["added"] = []any{"services/core/main.go"}
	second["modified"] = []any{"CHANGELOG", "app/controller/application.rb"}
	second["removed"] = []any{"old/file.txt", "services/core/main.go"}

	p := decodePush(t, "Push Hook", m)
	want := []string{"CHANGELOG", "app/controller/application.rb", "services/core/main.go", "old/file.txt"}
	if !slices.Equal(p.ChangedPaths, want) {
		t.Fatalf("ChangedPaths = %q, want %q", p.ChangedPaths, want)
	}
	if !p.PathsKnown {
		t.Fatal("PathsKnown = false with every commit listed")
	}
}

func TestDecodePushHeadMessage(t *testing.T) {
	t.Run("head found by checkout_sha, whatever the order", func(t *testing.T) {
		m := load(t, "webhook_push.json")
		cs := commits(t, m)
		cs[0], cs[1] = cs[1], cs[0]
		p := decodePush(t, "Push Hook", m)
		if p.HeadMessage != "fixed readme\n" {
			t.Fatalf("HeadMessage = %q, want the message of %s", p.HeadMessage, p.CommitSHA)
		}
	})
	t.Run("head not listed: the last commit", func(t *testing.T) {
		m := load(t, "webhook_push.json")
		cs := commits(t, m)
		cs[0], cs[1] = cs[1], cs[0]
		m["checkout_sha"] = "1111111111111111111111111111111111111111"
		m["after"] = m["checkout_sha"]
		p := decodePush(t, "Push Hook", m)
		if !strings.HasPrefix(p.HeadMessage, "Merge branch 'some-feature'") {
			t.Fatalf("HeadMessage = %q, want the last listed commit's", p.HeadMessage)
		}
	})
	t.Run("no checkout_sha: after is the branch's commit", func(t *testing.T) {
		m := load(t, "webhook_push.json")
		delete(m, "checkout_sha")
		p := decodePush(t, "Push Hook", m)
		if p.CommitSHA != "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" || p.HeadMessage != "fixed readme\n" {
			t.Fatalf("CommitSHA %q HeadMessage %q, want after and its message", p.CommitSHA, p.HeadMessage)
		}
	})
	t.Run("no commits", func(t *testing.T) {
		m := load(t, "webhook_push.json")
		m["commits"] = []any{}
		p := decodePush(t, "Push Hook", m)
		if p.HeadMessage != "" {
			t.Fatalf("HeadMessage = %q, want empty", p.HeadMessage)
		}
	})
}

func TestDecodePushNewAndDeletedBranch(t *testing.T) {
	t.Run("new branch compares with the default branch", func(t *testing.T) {
		m := load(t, "webhook_push.json")
		m["before"] = gitlabhook.ZeroSHA
		m["ref"] = "refs/heads/feature/login"
		p := decodePush(t, "Push Hook", m)
		if got := p.CompareBase(); got != "master" {
			t.Errorf("CompareBase = %q, want the default branch master", got)
		}
		if got := p.RefName(); got != "feature/login" {
			t.Errorf("RefName = %q, want feature/login", got)
		}
		if p.Deleted() {
			t.Error("Deleted = true for a new branch")
		}
	})
	t.Run("deleted branch", func(t *testing.T) {
		// GitLab's payload for a branch deletion: after all zeros, no checkout_sha, no commits.
		m := load(t, "webhook_push.json")
		m["after"] = gitlabhook.ZeroSHA
		m["checkout_sha"] = nil
		m["commits"] = []any{}
		m["total_commits_count"] = 0
		p := decodePush(t, "Push Hook", m)
		if !p.Deleted() {
			t.Fatal("Deleted = false with after all zeros")
		}
		if p.CompareBase() != "95790bf891e76fee5e1747ab589903a6a1f80f22" {
			t.Errorf("CompareBase = %q, want before", p.CompareBase())
		}
	})
}

func TestDecodeTagPush(t *testing.T) {
	m := load(t, "webhook_tag_push.json")
	p := decodePush(t, "Tag Push Hook", m)
	if !p.Tag || p.RefName() != "v1.0.0" || p.Ref != "refs/tags/v1.0.0" {
		t.Fatalf("tag %v ref %q RefName %q, want tag v1.0.0", p.Tag, p.Ref, p.RefName())
	}
	if p.CommitSHA != "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7" || p.ProjectID != 1 || p.Project != "jsmith/example" {
		t.Fatalf("commit %q project %d %q", p.CommitSHA, p.ProjectID, p.Project)
	}
	if p.PathsKnown {
		t.Error("PathsKnown = true for a new tag (before all zeros)")
	}

	t.Run("annotated tag builds checkout_sha, not the tag object", func(t *testing.T) {
		m := load(t, "webhook_tag_push.json")
		const tagObject = "a7d7c2b9b3c5a1a0f9d5e6c4b2a1908f7e6d5c4b"
		m["after"] = tagObject
		p := decodePush(t, "Tag Push Hook", m)
		if p.After != tagObject {
			t.Errorf("After = %q, want the tag object %q", p.After, tagObject)
		}
		if p.CommitSHA != "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7" {
			t.Errorf("CommitSHA = %q, want checkout_sha", p.CommitSHA)
		}
	})
	t.Run("deleted tag", func(t *testing.T) {
		m := load(t, "webhook_tag_push.json")
		m["before"], m["after"], m["checkout_sha"] = m["after"], gitlabhook.ZeroSHA, nil
		m["commits"], m["total_commits_count"] = []any{}, 0
		p := decodePush(t, "Tag Push Hook", m)
		if !p.Deleted() || !p.Tag {
			t.Fatalf("Deleted %v Tag %v, want a deleted tag", p.Deleted(), p.Tag)
		}
		// A deleted tag has no commit; after (the zero SHA) must not stand in for one.
		if p.CommitSHA != "" {
			t.Errorf("CommitSHA = %q, want empty", p.CommitSHA)
		}
	})
}

func TestDecodeSystemHookPush(t *testing.T) {
	m := load(t, "system_push.json")
	p := decodePush(t, "System Hook", m)
	want := gitlabhook.Push{
		ProjectID:     15, // system hooks carry project_id, not project.id
		Project:       "mike/diaspora",
		DefaultBranch: "master",
		Ref:           "refs/heads/master",
		Before:        "95790bf891e76fee5e1747ab589903a6a1f80f22",
		After:         "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
		CommitSHA:     "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
		User:          "John Smith", // no user_username in system hooks
		HeadMessage:   "Add simple search to projects in public area",
		// System hook commits list no files, so the changed paths are unknown even
		// though every commit is listed.
		PathsKnown: false,
	}
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("push\n got %+v\nwant %+v", *p, want)
	}
}

func TestDecodeSystemHookTagPush(t *testing.T) {
	// GitLab's documented system tag push is an annotated tag: after is the tag object.
	m := load(t, "system_tag_push.json")
	p := decodePush(t, "System Hook", m)
	if !p.Tag || p.RefName() != "v1.0.0" {
		t.Fatalf("Tag %v RefName %q, want tag v1.0.0", p.Tag, p.RefName())
	}
	if p.After != "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7" || p.CommitSHA != "5937ac0a7beb003549fc5fd26fc247adbce4a52e" {
		t.Fatalf("after %q commit %q, want the commit to be checkout_sha", p.After, p.CommitSHA)
	}
	if p.ProjectID != 1 || p.Project != "jsmith/example" || p.PathsKnown {
		t.Fatalf("project %d %q PathsKnown %v", p.ProjectID, p.Project, p.PathsKnown)
	}
}

func TestDecodeMergeRequest(t *testing.T) {
	tests := []struct {
		name, file, event, action string
		want                      gitlabhook.MergeRequest
	}{
		{"project hook", "webhook_merge_request.json", "Merge Request Hook", "",
			gitlabhook.MergeRequest{ProjectID: 1, Project: "gitlabhq/gitlab-test", IID: 1, Action: "open"}},
		{"project hook, approved", "webhook_merge_request.json", "Merge Request Hook", "approved",
			gitlabhook.MergeRequest{ProjectID: 1, Project: "gitlabhq/gitlab-test", IID: 1, Action: "approved"}},
		{"project hook, merge", "webhook_merge_request.json", "Merge Request Hook", "merge",
			gitlabhook.MergeRequest{ProjectID: 1, Project: "gitlabhq/gitlab-test", IID: 1, Action: "merge"}},
		// System hooks carry no project.id: the target project's id stands in.
		{"system hook, approval", "system_merge_request.json", "System Hook", "approval",
			gitlabhook.MergeRequest{ProjectID: 14, Project: "jsmith/example", IID: 1, Action: "approval"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := load(t, tt.file)
			if tt.action != "" {
				m["object_attributes"].(map[string]any)["action"] = tt.action
			}
			ev := decode(t, tt.event, m)
			if ev.Kind != gitlabhook.MergeRequestKind || ev.MergeRequest == nil || ev.Push != nil {
				t.Fatalf("kind %v mr %v push %v, want a merge request", ev.Kind, ev.MergeRequest, ev.Push)
			}
			if *ev.MergeRequest != tt.want {
				t.Fatalf("merge request %+v, want %+v", *ev.MergeRequest, tt.want)
			}
		})
	}
}

func TestDecodeOtherEvents(t *testing.T) {
	tests := []struct{ name, file, event string }{
		{"issue hook", "webhook_issue.json", "Issue Hook"},
		{"system hook for a new project", "system_project_create.json", "System Hook"},
		// An event pipegate does not act on is not checked against its body.
		{"pipeline hook with a push body", "webhook_push.json", "Pipeline Hook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := decode(t, tt.event, load(t, tt.file))
			if ev.Kind != gitlabhook.Other || ev.Push != nil || ev.MergeRequest != nil {
				t.Fatalf("kind %v push %v mr %v, want Other", ev.Kind, ev.Push, ev.MergeRequest)
			}
			if ev.Event != tt.event {
				t.Errorf("Event = %q, want %q", ev.Event, tt.event)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	raw := func(s string) func(*testing.T) []byte { return func(*testing.T) []byte { return []byte(s) } }
	file := func(name string, edit func(map[string]any)) func(*testing.T) []byte {
		return func(t *testing.T) []byte {
			m := load(t, name)
			if edit != nil {
				edit(m)
			}
			return encode(t, m)
		}
	}
	tests := []struct {
		name  string
		event string
		body  func(*testing.T) []byte
	}{
		{"not JSON", "Push Hook", raw("ref=refs/heads/main&after=abc")},
		{"empty body", "Push Hook", raw("")},
		{"JSON array", "Push Hook", raw(`[{"object_kind":"push"}]`)},
		{"not JSON, unknown event", "Issue Hook", raw("<html>")},
		{"truncated JSON", "Push Hook", func(t *testing.T) []byte {
			b := encode(t, load(t, "webhook_push.json"))
			return b[:len(b)/2]
		}},
		{"Push Hook with a tag push body", "Push Hook", file("webhook_tag_push.json", nil)},
		{"Tag Push Hook with a push body", "Tag Push Hook", file("webhook_push.json", nil)},
		{"Merge Request Hook with a push body", "Merge Request Hook", file("webhook_push.json", nil)},
		{"Push Hook with a merge request body", "Push Hook", file("webhook_merge_request.json", nil)},
		{"missing X-Gitlab-Event", "", file("webhook_push.json", nil)},
		{"push without ref", "Push Hook", file("webhook_push.json", func(m map[string]any) { delete(m, "ref") })},
		{"push without after", "Push Hook", file("webhook_push.json", func(m map[string]any) { delete(m, "after") })},
		{"push without project", "Push Hook", file("webhook_push.json", func(m map[string]any) {
			delete(m, "project")
			delete(m, "project_id")
		})},
		{"push with a string for total_commits_count", "Push Hook", file("webhook_push.json", func(m map[string]any) {
			m["total_commits_count"] = "many"
		})},
		// A commit that is no commit id could never be started nor given a status.
		{"checkout_sha no commit id", "Push Hook", file("webhook_push.json", func(m map[string]any) {
			m["checkout_sha"] = "main"
		})},
		{"after too short", "Push Hook", file("webhook_push.json", func(m map[string]any) {
			m["after"] = "da1560886d4f"
		})},
		{"before in upper case", "Push Hook", file("webhook_push.json", func(m map[string]any) {
			m["before"] = "95790BF891E76FEE5E1747AB589903A6A1F80F22"
		})},
		{"tag push checkout_sha not hexadecimal", "Tag Push Hook", file("webhook_tag_push.json", func(m map[string]any) {
			m["checkout_sha"] = "zz2b1c4f6e8a0c2e4a6c8e0a2c4e6a8c0e2a4c6e"
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := gitlabhook.Decode(headers(tt.event), tt.body(t))
			if !errors.Is(err, gitlabhook.ErrMalformed) {
				t.Fatalf("Decode: %v, want ErrMalformed", err)
			}
			if ev.Kind != gitlabhook.Other || ev.Push != nil || ev.MergeRequest != nil {
				t.Fatalf("Decode returned kind %v push %v mr %v with its error", ev.Kind, ev.Push, ev.MergeRequest)
			}
		})
	}
}

func TestDecodeDeliveryKey(t *testing.T) {
	body := encode(t, load(t, "webhook_push.json"))
	const (
		idem    = "5ac4a1c5-2f4e-4bd1-a8d0-6c0a5dd1f3a0"
		event   = "13792a34-cac6-4fda-95a8-c58e00a3954e"
		webhook = "8b1c3b7e-5a0f-4c3f-9c1d-2f0e4b6a7d91"
	)
	t.Run("Idempotency-Key first", func(t *testing.T) {
		ev, err := gitlabhook.Decode(headers("Push Hook",
			"Idempotency-Key", idem, "X-Gitlab-Event-UUID", event, "X-Gitlab-Webhook-UUID", webhook), body)
		if err != nil {
			t.Fatal(err)
		}
		want := gitlabhook.Delivery{Event: "Push Hook", Key: idem, EventUUID: event, WebhookUUID: webhook}
		if ev.Delivery != want {
			t.Fatalf("delivery %+v, want %+v", ev.Delivery, want)
		}
	})
	t.Run("then X-Gitlab-Event-UUID", func(t *testing.T) {
		ev, err := gitlabhook.Decode(headers("Push Hook", "x-gitlab-event-uuid", event), body)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Key != event || ev.EventUUID != event {
			t.Fatalf("key %q uuid %q, want %q", ev.Key, ev.EventUUID, event)
		}
	})
	t.Run("then webhook-id, after the GitLab headers", func(t *testing.T) {
		const msg = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
		ev, err := gitlabhook.Decode(headers("Push Hook", "webhook-id", msg), body)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Key != msg {
			t.Fatalf("key %q, want the webhook-id %q", ev.Key, msg)
		}
		ev, err = gitlabhook.Decode(headers("Push Hook", "webhook-id", msg, "X-Gitlab-Event-UUID", event), body)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Key != event {
			t.Fatalf("key %q, want X-Gitlab-Event-UUID %q before webhook-id", ev.Key, event)
		}
	})
	t.Run("a long key stands by its digest", func(t *testing.T) {
		key := func(k string) string {
			t.Helper()
			ev, err := gitlabhook.Decode(headers("Push Hook", "Idempotency-Key", k), body)
			if err != nil {
				t.Fatal(err)
			}
			return ev.Key
		}
		long := strings.Repeat("k", 3000)
		k1, k2, k3 := key(long), key(long), key(long+"x")
		if len(k1) > gitlabhook.MaxKey || k1 != k2 || k1 == k3 || len(k3) > gitlabhook.MaxKey {
			t.Fatalf("keys %q %q %q: want bounded, the same for the same key, another for another", k1, k2, k3)
		}
		exact := strings.Repeat("k", gitlabhook.MaxKey)
		if got := key(exact); got != exact {
			t.Fatalf("a key of %d characters became %q", gitlabhook.MaxKey, got)
		}
	})
	t.Run("then a digest of the body", func(t *testing.T) {
		key := func(event string, body []byte) string {
			t.Helper()
			ev, err := gitlabhook.Decode(headers(event), body)
			if err != nil {
				t.Fatal(err)
			}
			return ev.Key
		}
		k1 := key("Push Hook", body)
		if k1 == "" || k1 == event || k1 == idem {
			t.Fatalf("digest key %q", k1)
		}
		if k2 := key("Push Hook", append([]byte(nil), body...)); k2 != k1 {
			t.Fatalf("the same body gave keys %q and %q", k1, k2)
		}
		m := load(t, "webhook_push.json")
		m["after"] = "1111111111111111111111111111111111111111"
		if k3 := key("Push Hook", encode(t, m)); k3 == k1 {
			t.Fatalf("another body gave the same key %q", k3)
		}
		if k4 := key("System Hook", encode(t, load(t, "system_push.json"))); k4 == k1 {
			t.Fatalf("another event gave the same key %q", k4)
		}
	})
}

// TestRefName is the one rule by which a full ref becomes the name GitLab's status
// API and the logs take: one prefix comes off, the first that fits.
func TestRefName(t *testing.T) {
	for ref, want := range map[string]string{
		"refs/heads/main":         "main",
		"refs/heads/feature/x":    "feature/x",
		"refs/tags/v1.0.0":        "v1.0.0",
		"refs/heads/refs/tags/v1": "refs/tags/v1", // a branch named like a tag stays itself
		"main":                    "main",
		"":                        "",
	} {
		if got := gitlabhook.RefName(ref); got != want {
			t.Errorf("RefName(%q) = %q, want %q", ref, got, want)
		}
		if got := (&gitlabhook.Push{Ref: ref}).RefName(); got != want {
			t.Errorf("Push{Ref: %q}.RefName() = %q, want %q", ref, got, want)
		}
	}
}
