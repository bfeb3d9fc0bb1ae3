package emulator

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// GitLab is a stand-in for the parts of the GitLab REST API v4 that pipegate uses:
// commit statuses, compare, the merge requests of a commit and their approvals;
// and for its set-up commands: projects, project webhooks and the token's scopes.
// It answers under /api/v4 as GitLab does, so client-go talks to it unchanged.
type GitLab struct {
	// OnStatus, if set, is called with each status the stand-in accepts, before it
	// answers and without its lock held, so it may call the stand-in; `pipegate dev`
	// prints them. Set it before the stand-in serves.
	OnStatus func(CommitStatus)

	token  string
	faults faults

	mu       sync.Mutex
	projects []glProject
	requests []Request
	statuses []CommitStatus
	// current is the state of each sha/name/ref, so that a long `pipegate dev`
	// session checks a repeated state without scanning every status.
	current  map[glStatusKey]string
	compares map[glCompareKey][]string
	mrs      map[string][]MergeRequest // by project path
	nextID   int64

	hooks      map[string][]*Hook // by project path
	nextHookID int64
	scopes     []string // the token's, as personal_access_tokens/self says; nil: api

	branches map[glBranchKey]Branch // gitlab_branches.go

	deployments  []*Deployment    // gitlab_deployments.go
	environments []*glEnvironment // created by a project's first deployment to each

	groups []*glGroup // gitlab_members.go

	freezes map[string][]FreezePeriod // gitlab_freeze.go, by project path
}

// CommitStatus is a commit status the stand-in accepted.
type CommitStatus struct {
	Project     string // the project's path, e.g. "ic/core"
	SHA         string
	State       string
	Name        string
	Ref         string
	TargetURL   string
	Description string
}

// Request is one API request the stand-in received: its route ("statuses",
// "compare", "merge_requests", "approvals", "project", "hooks", "hook",
// "add_hook", "edit_hook", "token_self", "branch", "deployments", "deployment",
// "add_deployment", "edit_deployment", "environments", "group_members") and the project (for
// group_members, the group) it named, by path when
// the stand-in knows that project, else as the request spelled it. Tests read them
// to check that pipegate never calls a project it should not.
type Request struct {
	Route, Project string
}

// MergeRequest is a merge request as far as pipegate looks at one.
type MergeRequest struct {
	IID             int64
	Title           string
	WebURL          string // default: derived from the project path and IID
	State           string // opened (default), merged, closed
	SourceBranch    string
	TargetBranch    string // default: the project's default branch, as GitLab proposes
	SHA             string // head commit of the source branch
	MergeCommitSHA  string
	SquashCommitSHA string
	Author          string   // username
	ApprovedBy      []string // usernames
	// ApprovalsRequired and ApprovalsLeft are what GitLab Premium reports; on Free
	// both are 0.
	ApprovalsRequired int64
	ApprovalsLeft     int64
}

// Merged reports whether the merge request is merged.
func (mr MergeRequest) Merged() bool { return mr.State == "merged" }

type glProject struct {
	id            int64
	path          string
	defaultBranch string
}

type glStatusKey struct{ project, sha, name, ref string }

type glCompareKey struct{ project, from, to string }

// NewGitLab returns a stand-in that accepts only requests carrying token.
func NewGitLab(token string) *GitLab {
	return &GitLab{
		token:    token,
		compares: map[glCompareKey][]string{},
		mrs:      map[string][]MergeRequest{},
	}
}

// AddProject makes a project known by its numeric id and its path.
func (g *GitLab) AddProject(id int64, path, defaultBranch string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.projects = append(g.projects, glProject{id: id, path: path, defaultBranch: defaultBranch})
}

// SetCompare sets the paths that the compare API reports changed between from and to.
// project is the project's path or its numeric id.
func (g *GitLab) SetCompare(project, from, to string, paths []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.glFind(project)
	if !ok {
		panic("emulator: SetCompare on unknown project " + project)
	}
	g.compares[glCompareKey{p.path, from, to}] = append([]string(nil), paths...)
}

// AddMergeRequest adds mr to project (path or numeric id), or replaces the one with
// the same IID: that is how a test approves or merges it later.
func (g *GitLab) AddMergeRequest(project string, mr MergeRequest) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.glFind(project)
	if !ok {
		panic("emulator: AddMergeRequest on unknown project " + project)
	}
	if mr.State == "" {
		mr.State = "opened"
	}
	if mr.TargetBranch == "" {
		mr.TargetBranch = p.defaultBranch
	}
	if mr.WebURL == "" {
		mr.WebURL = fmt.Sprintf("https://gitlab.example/%s/-/merge_requests/%d", p.path, mr.IID)
	}
	mr.ApprovedBy = append([]string(nil), mr.ApprovedBy...)
	list := g.mrs[p.path]
	for i := range list {
		if list[i].IID == mr.IID {
			list[i] = mr
			return
		}
	}
	g.mrs[p.path] = append(list, mr)
}

// FailNext makes the next n calls of route answer with f instead. Routes:
// "statuses", "compare", "merge_requests", "approvals", "project", "hooks",
// "hook", "add_hook", "edit_hook", "token_self".
func (g *GitLab) FailNext(route string, n int, f Fault) { g.faults.add(route, n, f) }

// Recover drops the faults still queued for route.
func (g *GitLab) Recover(route string) { g.faults.clear(route) }

// Calls is how many requests route received, faulted and refused ones included.
func (g *GitLab) Calls(route string) int { return g.faults.count(route) }

// Requests returns the API requests received so far, oldest first, faulted and
// refused ones included.
func (g *GitLab) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Request(nil), g.requests...)
}

// Statuses returns the accepted commit statuses, oldest first.
func (g *GitLab) Statuses() []CommitStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]CommitStatus(nil), g.statuses...)
}

// Latest returns the last accepted status named name on sha in project (path or id).
func (g *GitLab) Latest(project, sha, name string) (CommitStatus, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.glFind(project)
	if !ok {
		return CommitStatus{}, false
	}
	for i := len(g.statuses) - 1; i >= 0; i-- {
		s := g.statuses[i]
		if s.Project == p.path && s.SHA == sha && s.Name == name {
			return s, true
		}
	}
	return CommitStatus{}, false
}

// glFind looks a project up by numeric id or path; g.mu must be held.
func (g *GitLab) glFind(idOrPath string) (glProject, bool) {
	id, err := strconv.ParseInt(idOrPath, 10, 64)
	for _, p := range g.projects {
		if (err == nil && p.id == id) || strings.EqualFold(p.path, idOrPath) {
			return p, true
		}
	}
	return glProject{}, false
}

func (g *GitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/api/v4/personal_access_tokens/self" {
		g.mu.Lock()
		g.requests = append(g.requests, Request{Route: "token_self"})
		g.mu.Unlock()
		switch f, faulted := g.faults.take("token_self"); {
		case faulted:
			glFault(w, r, f)
		case !g.glAuthorized(r):
			glError(w, http.StatusUnauthorized, "401 Unauthorized")
		default:
			g.glTokenSelf(w)
		}
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/v4/groups/"); ok {
		g.serveGroups(w, r, rest)
		return
	}
	// The project id may be a URL-escaped path ("ic%2Fcore"): split the escaped
	// path, or the decoded slash would look like a path separator.
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/v4/projects/")
	if !ok {
		glError(w, http.StatusNotFound, "404 Not Found")
		return
	}
	parts := strings.Split(rest, "/")
	route, arg := glRoute(r.Method, parts)
	if route == "" {
		glError(w, http.StatusNotFound, "404 Not Found")
		return
	}
	pid, perr := url.PathUnescape(parts[0])
	if perr != nil {
		pid = parts[0]
	}
	g.mu.Lock()
	p, ok := g.glFind(pid)
	named := pid
	if ok {
		named = p.path
	}
	g.requests = append(g.requests, Request{Route: route, Project: named})
	g.mu.Unlock()
	if f, ok := g.faults.take(route); ok {
		glFault(w, r, f)
		return
	}
	if !g.glAuthorized(r) {
		glError(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	if perr != nil || !ok {
		glError(w, http.StatusNotFound, "404 Project Not Found")
		return
	}
	switch route {
	case "statuses":
		g.glSetStatus(w, r, p, arg)
	case "commit_statuses":
		g.glListStatuses(w, r, p, arg)
	case "compare":
		g.glCompare(w, r, p)
	case "merge_requests":
		g.glCommitMergeRequests(w, p, arg)
	case "approvals":
		g.glApprovals(w, p, arg)
	case "project":
		g.glProjectJSON(w, p)
	case "hooks":
		g.glListHooks(w, p)
	case "hook":
		g.glGetHook(w, p, arg)
	case "add_hook":
		g.glAddHook(w, r, p)
	case "edit_hook":
		g.glEditHook(w, r, p, arg)
	case "branch":
		g.glBranch(w, p, arg)
	case "freeze_periods":
		g.glFreezePeriods(w, p)
	default:
		g.serveDeployments(w, r, p, route, arg)
	}
}

// glRoute names the route of a request under /projects/ and returns its
// variable part (a sha or an MR iid).
func glRoute(method string, parts []string) (route, arg string) {
	switch {
	case method == http.MethodPost && len(parts) == 3 && parts[1] == "statuses":
		return "statuses", parts[2]
	case method == http.MethodGet && len(parts) == 3 && parts[1] == "repository" && parts[2] == "compare":
		return "compare", ""
	case method == http.MethodGet && len(parts) == 5 && parts[1] == "repository" && parts[2] == "commits" && parts[4] == "statuses":
		return "commit_statuses", parts[3]
	case method == http.MethodGet && len(parts) == 5 && parts[1] == "repository" && parts[2] == "commits" && parts[4] == "merge_requests":
		return "merge_requests", parts[3]
	case method == http.MethodGet && len(parts) == 4 && parts[1] == "merge_requests" && parts[3] == "approvals":
		return "approvals", parts[2]
	case method == http.MethodGet && len(parts) == 4 && parts[1] == "repository" && parts[2] == "branches":
		return "branch", parts[3]
	case method == http.MethodGet && len(parts) == 2 && parts[1] == "freeze_periods":
		return "freeze_periods", ""
	case method == http.MethodGet && len(parts) == 1:
		return "project", ""
	case len(parts) == 2 && parts[1] == "hooks":
		switch method {
		case http.MethodGet:
			return "hooks", ""
		case http.MethodPost:
			return "add_hook", ""
		}
	case len(parts) == 3 && parts[1] == "hooks":
		switch method {
		case http.MethodGet:
			return "hook", parts[2]
		case http.MethodPut:
			return "edit_hook", parts[2]
		}
	}
	return glDeploymentRoute(method, parts)
}

func (g *GitLab) glAuthorized(r *http.Request) bool {
	tok := r.Header.Get("PRIVATE-TOKEN")
	if tok == "" {
		tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	return g.token != "" && tok == g.token
}

// glVerb is the state machine event GitLab fires to reach state; its refusal
// names it.
func glVerb(state string) (string, bool) {
	switch state {
	case "pending":
		return "enqueue", true
	case "running":
		return "run", true
	case "success":
		return "succeed", true
	case "failed":
		return "drop", true
	case "canceled":
		return "cancel", true
	case "skipped":
		return "skip", true
	}
	return "", false
}

func (g *GitLab) glSetStatus(w http.ResponseWriter, r *http.Request, p glProject, sha string) {
	var in struct {
		State       string `json:"state"`
		Ref         string `json:"ref"`
		Name        string `json:"name"`
		Context     string `json:"context"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			glError(w, http.StatusBadRequest, "400 Bad request - body is not JSON")
			return
		}
	} else {
		if err := r.ParseForm(); err != nil {
			glError(w, http.StatusBadRequest, "400 Bad request")
			return
		}
		in.State, in.Ref, in.Name = r.Form.Get("state"), r.Form.Get("ref"), r.Form.Get("name")
		in.Context, in.TargetURL, in.Description = r.Form.Get("context"), r.Form.Get("target_url"), r.Form.Get("description")
	}
	verb, ok := glVerb(in.State)
	if !ok {
		glJSON(w, http.StatusBadRequest, map[string]string{"error": "state does not have a valid value"})
		return
	}
	s := CommitStatus{
		Project: p.path, SHA: sha, State: in.State, Name: in.Name, Ref: in.Ref,
		TargetURL: in.TargetURL, Description: in.Description,
	}
	if s.Name == "" {
		s.Name = in.Context
	}
	if s.Name == "" {
		s.Name = "default"
	}
	if s.Ref == "" {
		s.Ref = p.defaultBranch
	}
	if glTooLong(s.Description, s.Name, s.Ref, s.TargetURL) {
		glError(w, http.StatusBadRequest, "400 Bad request - a field is longer than 255 characters")
		return
	}

	g.mu.Lock()
	key := glStatusKey{s.Project, s.SHA, s.Name, s.Ref}
	// GitLab updates the pending or running status of the name, and opens a new
	// status over a finished one: the same state again over pending or running,
	// or pending over running, is a transition it refuses.
	if prev, ok := g.current[key]; ok && (prev == "pending" || prev == "running") &&
		(prev == s.State || prev == "running" && s.State == "pending") {
		g.mu.Unlock()
		glError(w, http.StatusBadRequest, fmt.Sprintf("Cannot transition status via :%s from :%s", verb, prev))
		return
	}
	if g.current == nil {
		g.current = map[glStatusKey]string{}
	}
	g.current[key] = s.State
	g.statuses = append(g.statuses, s)
	g.nextID++
	id := g.nextID
	g.mu.Unlock()
	if g.OnStatus != nil {
		g.OnStatus(s)
	}

	now := time.Now().UTC()
	out := map[string]any{
		"id": id, "sha": s.SHA, "ref": s.Ref, "status": s.State, "name": s.Name,
		"target_url": glNull(s.TargetURL), "description": glNull(s.Description),
		"created_at": now, "started_at": nil, "finished_at": nil,
		"allow_failure": false, "coverage": nil, "pipeline_id": id,
		"author": glUser("pipegate"),
	}
	switch s.State {
	case "running":
		out["started_at"] = now
	case "success", "failed", "canceled", "skipped":
		out["started_at"], out["finished_at"] = now, now
	}
	glJSON(w, http.StatusCreated, out)
}

// glListStatuses answers GET /projects/:id/repository/commits/:sha/statuses,
// route "commit_statuses": as GitLab without all=true, the latest status of
// each name and ref (a newer one replaces a finished or canceled one), filtered
// by name and ref, in one page.
func (g *GitLab) glListStatuses(w http.ResponseWriter, r *http.Request, p glProject, sha string) {
	name, ref := r.URL.Query().Get("name"), r.URL.Query().Get("ref")
	g.mu.Lock()
	latest := map[glStatusKey]int{}
	var order []glStatusKey
	for i, s := range g.statuses {
		if s.Project != p.path || s.SHA != sha || (name != "" && s.Name != name) || (ref != "" && s.Ref != ref) {
			continue
		}
		k := glStatusKey{s.Project, s.SHA, s.Name, s.Ref}
		if _, ok := latest[k]; !ok {
			order = append(order, k)
		}
		latest[k] = i
	}
	out := make([]map[string]any, 0, len(order))
	for _, k := range order {
		s := g.statuses[latest[k]]
		out = append(out, map[string]any{
			"id": latest[k] + 1, "sha": s.SHA, "ref": s.Ref, "status": s.State, "name": s.Name,
			"target_url": glNull(s.TargetURL), "description": glNull(s.Description),
			"allow_failure": false, "author": glUser("pipegate"),
		})
	}
	g.mu.Unlock()
	glJSON(w, http.StatusOK, out)
}

func (g *GitLab) glCompare(w http.ResponseWriter, r *http.Request, p glProject) {
	from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
	g.mu.Lock()
	paths, ok := g.compares[glCompareKey{p.path, from, to}]
	g.mu.Unlock()
	if !ok {
		glError(w, http.StatusNotFound, "404 Ref Not Found")
		return
	}
	diffs := make([]map[string]any, 0, len(paths))
	for _, path := range paths {
		diffs = append(diffs, map[string]any{
			"old_path": path, "new_path": path, "a_mode": "100644", "b_mode": "100644",
			"new_file": false, "renamed_file": false, "deleted_file": false, "diff": "",
		})
	}
	commit := map[string]any{
		"id": to, "short_id": glShort(to), "title": "commit " + glShort(to),
		"message": "commit " + glShort(to), "parent_ids": []string{from}, "project_id": p.id,
	}
	glJSON(w, http.StatusOK, map[string]any{
		"commit":           commit,
		"commits":          []any{commit},
		"diffs":            diffs,
		"compare_timeout":  false,
		"compare_same_ref": from == to,
		"web_url":          fmt.Sprintf("https://gitlab.example/%s/-/compare/%s...%s", p.path, from, to),
	})
}

// glCommitMergeRequests answers with the merge requests that introduced sha: its
// head, merge or squash commit.
func (g *GitLab) glCommitMergeRequests(w http.ResponseWriter, p glProject, sha string) {
	g.mu.Lock()
	var out []map[string]any
	for _, mr := range g.mrs[p.path] {
		if sha == mr.SHA || sha == mr.MergeCommitSHA || sha == mr.SquashCommitSHA {
			out = append(out, glMergeRequestJSON(p, mr))
		}
	}
	g.mu.Unlock()
	if out == nil {
		out = []map[string]any{}
	}
	glJSON(w, http.StatusOK, out)
}

func (g *GitLab) glApprovals(w http.ResponseWriter, p glProject, arg string) {
	iid, err := strconv.ParseInt(arg, 10, 64)
	g.mu.Lock()
	var mr *MergeRequest
	for _, m := range g.mrs[p.path] {
		if err == nil && m.IID == iid {
			mr = &m
			break
		}
	}
	g.mu.Unlock()
	if mr == nil {
		glError(w, http.StatusNotFound, "404 Not found")
		return
	}
	approvedBy := make([]map[string]any, 0, len(mr.ApprovedBy))
	for _, u := range mr.ApprovedBy {
		approvedBy = append(approvedBy, map[string]any{"user": glUser(u)})
	}
	glJSON(w, http.StatusOK, map[string]any{
		"id": glMergeRequestID(p, mr.IID), "iid": mr.IID, "project_id": p.id,
		"title": mr.Title, "state": mr.State,
		"approved":           mr.ApprovalsLeft == 0 && (mr.ApprovalsRequired > 0 || len(mr.ApprovedBy) > 0),
		"approvals_required": mr.ApprovalsRequired,
		"approvals_left":     mr.ApprovalsLeft,
		"approved_by":        approvedBy,
	})
}

func glMergeRequestJSON(p glProject, mr MergeRequest) map[string]any {
	out := map[string]any{
		"id": glMergeRequestID(p, mr.IID), "iid": mr.IID, "project_id": p.id,
		"title": mr.Title, "state": mr.State, "web_url": mr.WebURL,
		"source_branch": mr.SourceBranch, "target_branch": mr.TargetBranch,
		"source_project_id": p.id, "target_project_id": p.id,
		"sha": mr.SHA, "merge_commit_sha": glNull(mr.MergeCommitSHA),
		"squash_commit_sha": glNull(mr.SquashCommitSHA),
		"author":            glUser(mr.Author), "merged_at": nil,
	}
	if mr.Merged() {
		out["merged_at"] = time.Now().UTC()
	}
	return out
}

func glMergeRequestID(p glProject, iid int64) int64 { return p.id*100000 + iid }

// glUser is a user as GitLab embeds one; the id is stable per username.
func glUser(username string) map[string]any {
	return map[string]any{
		"id": int64(crc32.ChecksumIEEE([]byte(username))), "username": username,
		"name": username, "state": "active",
	}
}

// glTooLong reports whether a field is over GitLab's 255 characters.
func glTooLong(fields ...string) bool {
	for _, f := range fields {
		if utf8.RuneCountInString(f) > 255 {
			return true
		}
	}
	return false
}

func glShort(sha string) string { return sha[:min(8, len(sha))] }

// glNull is GitLab's null for an unset string.
func glNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func glFault(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.Hang {
		// net/http notices the client hanging up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		hang(r)
		return
	}
	f.addHeaders(w)
	msg := f.Message
	if msg == "" {
		msg = fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status))
	}
	glError(w, f.Status, msg)
}

func glError(w http.ResponseWriter, status int, msg string) {
	glJSON(w, status, map[string]string{"message": msg})
}

func glJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
