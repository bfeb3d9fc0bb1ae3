// Package gitlabhook authenticates and decodes a GitLab webhook delivery into the
// few values pipegate acts on. It does no I/O: the caller hands it headers and body.
//
// Payloads are decoded with client-go's event types, so field names follow GitLab's
// documented payloads; pipegate only adds the checks GitLab's client leaves out (the
// body must be the event the X-Gitlab-Event header names) and folds project,
// system and tag hooks into one Push value.
package gitlabhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// Errors that decide the HTTP answer: ErrUnauthorized is a 401, ErrMalformed a 400.
var (
	ErrUnauthorized = errors.New("missing or wrong X-Gitlab-Token")
	ErrMalformed    = errors.New("malformed delivery")
)

// ZeroSHA is what GitLab sends as `before` for a new ref and as `after` for a deleted one.
const ZeroSHA = "0000000000000000000000000000000000000000"

// MaxKey bounds a delivery key; GitLab's are UUIDs (36 characters).
const MaxKey = 128

// Delivery identifies one webhook delivery.
type Delivery struct {
	Event string // X-Gitlab-Event, e.g. "Push Hook"
	// Key de-duplicates deliveries: Idempotency-Key (kept by GitLab across retries and
	// "Resend request"), else X-Gitlab-Event-UUID, else webhook-id (Standard Webhooks:
	// the same across retries of one message), else a digest of event and body.
	Key         string
	EventUUID   string // X-Gitlab-Event-UUID
	WebhookUUID string // X-Gitlab-Webhook-UUID
}

// Kind says which of the events pipegate acts on a delivery carries.
type Kind int

const (
	Other Kind = iota // authenticated and well formed, but nothing pipegate acts on
	PushKind
	MergeRequestKind
)

// Event is a decoded delivery. Push is set for PushKind, MergeRequest for MergeRequestKind.
type Event struct {
	Delivery
	Kind         Kind
	Push         *Push
	MergeRequest *MergeRequest
}

// Push is a branch or tag push, from a project hook or a system hook.
type Push struct {
	Tag           bool   `json:"tag,omitempty"`
	ProjectID     int64  `json:"project_id"`
	Project       string `json:"project"` // path_with_namespace
	DefaultBranch string `json:"default_branch,omitempty"`
	Ref           string `json:"ref"` // full ref: refs/heads/main, refs/tags/v1.0.0
	Before        string `json:"before"`
	After         string `json:"after"`
	// CommitSHA is the commit to build: checkout_sha. For an annotated tag `after`
	// is the tag object, which CodePipeline cannot check out.
	CommitSHA   string `json:"commit_sha"`
	User        string `json:"user,omitempty"`
	HeadMessage string `json:"head_message,omitempty"`
	// ChangedPaths lists the files the push changed, when PathsKnown. GitLab lists at
	// most 20 commits and system hooks list no files, so it is not always known.
	ChangedPaths []string `json:"changed_paths,omitempty"`
	PathsKnown   bool     `json:"paths_known,omitempty"`
}

// The prefixes of a full ref: a branch's and a tag's.
const (
	BranchRef = "refs/heads/"
	TagRef    = "refs/tags/"
)

// RefName is the branch or tag name without its refs/heads/ or refs/tags/ prefix.
func (p *Push) RefName() string { return RefName(p.Ref) }

// RefName is the branch or tag name of a full ref, as GitLab's status API takes it:
// ref without its refs/heads/ or refs/tags/ prefix (one of them, the first that fits).
func RefName(ref string) string {
	name, ok := strings.CutPrefix(ref, BranchRef)
	if !ok {
		name = strings.TrimPrefix(ref, TagRef)
	}
	return name
}

// Deleted reports whether the push removed the branch or tag.
func (p *Push) Deleted() bool { return p.After == ZeroSHA }

// CompareBase is where the changed paths of the push are counted from: the old head,
// or for a new branch the project's default branch.
func (p *Push) CompareBase() string {
	if p.Before == "" || p.Before == ZeroSHA {
		return p.DefaultBranch
	}
	return p.Before
}

// MergeRequest is a merge request event.
type MergeRequest struct {
	ProjectID int64  `json:"project_id"`
	Project   string `json:"project"`
	IID       int64  `json:"iid"`
	Action    string `json:"action"` // approved, approval, merge, open, update, ...
}

// Authenticate checks the X-Gitlab-Token header against secret in constant time.
// An empty secret refuses everything: pipegate fails closed.
func Authenticate(h http.Header, secret string) error {
	got := h.Get("X-Gitlab-Token")
	if secret == "" || got == "" {
		return ErrUnauthorized
	}
	// Comparing digests keeps the time independent of the token's length too.
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return ErrUnauthorized
	}
	return nil
}

// header names of the events pipegate acts on.
const (
	pushHook         = "Push Hook"
	tagPushHook      = "Tag Push Hook"
	mergeRequestHook = "Merge Request Hook"
	systemHook       = "System Hook"
)

// Decode reads a delivery's headers and body. The body must be JSON and, for the
// events pipegate acts on, the event its X-Gitlab-Event header names.
func Decode(h http.Header, body []byte) (Event, error) {
	ev := Event{Delivery: DeliveryOf(h, body)}
	// Each payload is decoded once, straight into its event type: a push is on the
	// hot path, and encoding/json reads the whole body on every pass.
	switch ev.Event {
	case "":
		return ev, fmt.Errorf("%w: no X-Gitlab-Event header", ErrMalformed)
	case pushHook, tagPushHook:
		tag := ev.Event == tagPushHook
		var e gitlab.PushEvent
		if err := unmarshal(body, &e); err != nil {
			return ev, err
		}
		want := "push"
		if tag {
			want = "tag_push"
		}
		if e.ObjectKind != want {
			return ev, mismatch(ev.Event, e.ObjectKind)
		}
		return pushEvent(ev, &e, tag)
	case mergeRequestHook:
		var m gitlab.MergeEvent
		if err := unmarshal(body, &m); err != nil {
			return ev, err
		}
		if m.ObjectKind != "merge_request" {
			return ev, mismatch(ev.Event, m.ObjectKind)
		}
		return mergeRequestEvent(ev, &m), nil
	case systemHook:
		return decodeSystemHook(ev, body)
	}
	var other struct{}
	if err := unmarshal(body, &other); err != nil {
		return ev, err
	}
	return ev, nil
}

// decodeSystemHook reads a system hook, which names push events in event_name
// and merge requests in object_kind.
func decodeSystemHook(ev Event, body []byte) (Event, error) {
	var kind struct {
		ObjectKind string `json:"object_kind"`
		EventName  string `json:"event_name"`
	}
	if err := unmarshal(body, &kind); err != nil {
		return ev, err
	}
	switch {
	case kind.ObjectKind == "merge_request":
		var m gitlab.MergeEvent
		if err := unmarshal(body, &m); err != nil {
			return ev, err
		}
		return mergeRequestEvent(ev, &m), nil
	case kind.EventName == "push" || kind.EventName == "tag_push":
		var e gitlab.PushEvent
		if err := unmarshal(body, &e); err != nil {
			return ev, err
		}
		return pushEvent(ev, &e, kind.EventName == "tag_push")
	}
	return ev, nil
}

func unmarshal(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: body is not a JSON object of the named event: %v", ErrMalformed, err)
	}
	return nil
}

func mismatch(event, kind string) error {
	return fmt.Errorf("%w: X-Gitlab-Event %q but object_kind %q", ErrMalformed, event, kind)
}

func pushEvent(ev Event, e *gitlab.PushEvent, tag bool) (Event, error) {
	p, err := decodePush(e, tag)
	if err != nil {
		return ev, err
	}
	ev.Kind, ev.Push = PushKind, p
	return ev, nil
}

func mergeRequestEvent(ev Event, m *gitlab.MergeEvent) Event {
	ev.Kind = MergeRequestKind
	ev.MergeRequest = &MergeRequest{
		ProjectID: m.Project.ID,
		Project:   m.Project.PathWithNamespace,
		IID:       m.ObjectAttributes.IID,
		Action:    m.ObjectAttributes.Action,
	}
	// System hooks carry no project.id; the merge request's project is its target.
	if ev.MergeRequest.ProjectID == 0 {
		ev.MergeRequest.ProjectID = m.ObjectAttributes.TargetProjectID
	}
	return ev
}

// decodePush reads a push or tag push. Project hooks and system hooks share these
// field names, so one client-go type serves both.
func decodePush(e *gitlab.PushEvent, tag bool) (*Push, error) {
	if e.Ref == "" || e.After == "" || (e.Project.PathWithNamespace == "" && e.ProjectID == 0) {
		return nil, fmt.Errorf("%w: push event without ref, after or project", ErrMalformed)
	}
	// A commit id that is not one could never be started nor given a status:
	// refuse it now rather than retry it into the dead-letter queue.
	for _, f := range []struct{ name, v string }{{"before", e.Before}, {"after", e.After}, {"checkout_sha", e.CheckoutSHA}} {
		if f.v != "" && !IsCommitID(f.v) {
			return nil, fmt.Errorf("%w: %s %.80q is not a commit id", ErrMalformed, f.name, f.v)
		}
	}
	p := &Push{
		Tag:           tag,
		ProjectID:     e.ProjectID,
		Project:       e.Project.PathWithNamespace,
		DefaultBranch: e.Project.DefaultBranch,
		Ref:           e.Ref,
		Before:        e.Before,
		After:         e.After,
		CommitSHA:     e.CheckoutSHA,
		User:          e.UserUsername,
	}
	if p.User == "" {
		p.User = e.UserName
	}
	if p.ProjectID == 0 {
		p.ProjectID = e.Project.ID
	}
	if p.CommitSHA == "" && !tag {
		p.CommitSHA = e.After
	}
	p.HeadMessage = headMessage(e.Commits, p.CommitSHA)
	p.ChangedPaths, p.PathsKnown = changedPaths(e)
	return p, nil
}

// headMessage is the message of the pushed head commit: the one whose id is sha,
// else the last listed (GitLab lists commits oldest first).
func headMessage(commits []*gitlab.PushEventCommit, sha string) string {
	for _, c := range commits {
		if c != nil && c.ID == sha {
			return c.Message
		}
	}
	if n := len(commits); n > 0 && commits[n-1] != nil {
		return commits[n-1].Message
	}
	return ""
}

// changedPaths collects the files the listed commits touched. They are the whole
// story only when every pushed commit is listed and each lists its files (system
// hooks omit them), and the push has a base to compare with.
func changedPaths(e *gitlab.PushEvent) ([]string, bool) {
	// A push that lists no commits (a branch reset to an older commit) says nothing
	// about files, so it is not taken as "nothing changed".
	known := e.Before != ZeroSHA && len(e.Commits) > 0 && int64(len(e.Commits)) >= e.TotalCommitsCount
	seen := map[string]bool{}
	var paths []string
	for _, c := range e.Commits {
		if c == nil {
			continue
		}
		if c.Added == nil && c.Modified == nil && c.Removed == nil {
			known = false
		}
		for _, list := range [][]string{c.Added, c.Modified, c.Removed} {
			for _, p := range list {
				if !seen[p] {
					seen[p] = true
					paths = append(paths, p)
				}
			}
		}
	}
	return paths, known
}

// DeliveryOf reads the delivery's identity from its headers.
func DeliveryOf(h http.Header, body []byte) Delivery {
	d := Delivery{
		Event:       h.Get("X-Gitlab-Event"),
		Key:         h.Get("Idempotency-Key"),
		EventUUID:   h.Get("X-Gitlab-Event-UUID"),
		WebhookUUID: h.Get("X-Gitlab-Webhook-UUID"),
	}
	if d.Key == "" {
		d.Key = d.EventUUID
	}
	if d.Key == "" {
		d.Key = h.Get("webhook-id")
	}
	if len(d.Key) > MaxKey {
		// The key names table items (DynamoDB allows 1 KB in a range key) and log
		// lines; a longer one stands for itself by its digest.
		sum := sha256.Sum256([]byte(d.Key))
		d.Key = "sha256-" + hex.EncodeToString(sum[:16])
	}
	if d.Key == "" {
		// Old GitLab sends neither header; the same event body is the same delivery.
		sum := sha256.Sum256(append([]byte(d.Event+"\n"), body...))
		d.Key = "sha256-" + hex.EncodeToString(sum[:16])
	}
	return d
}

// IsCommitID reports whether s is a full Git object id: 40 hexadecimal digits
// (SHA-1), or 64 for a SHA-256 repository.
func IsCommitID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
