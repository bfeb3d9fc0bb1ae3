package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Branch is a branch's head as the stand-in keeps it.
type Branch struct {
	Commit  string // the head commit's id
	Message string // the head commit's message
}

type glBranchKey struct{ project, branch string }

// SetBranch points branch of project (path or numeric id) at commit, with the
// head commit's message: a push GitLab may or may not deliver.
func (g *GitLab) SetBranch(project, branch, commit, message string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.glFind(project)
	if !ok {
		panic("emulator: SetBranch on unknown project " + project)
	}
	if g.branches == nil {
		g.branches = map[glBranchKey]Branch{}
	}
	g.branches[glBranchKey{p.path, branch}] = Branch{Commit: commit, Message: message}
}

// Push moves branch of project to commit, as a git push does, and makes the
// compare API list paths as changed from the old head (when there was one) to
// commit. It returns the old head ("" for a new branch). Whether the push hook
// reaches pipegate is the test's business.
func (g *GitLab) Push(project, branch, commit, message string, paths []string) (before string) {
	g.mu.Lock()
	p, ok := g.glFind(project)
	if ok {
		before = g.branches[glBranchKey{p.path, branch}].Commit
	}
	g.mu.Unlock()
	g.SetBranch(project, branch, commit, message)
	if before != "" {
		g.SetCompare(project, before, commit, paths)
	}
	return before
}

// glBranch answers GET /projects/:id/repository/branches/:branch as GitLab does.
func (g *GitLab) glBranch(w http.ResponseWriter, p glProject, escaped string) {
	name, err := url.PathUnescape(escaped)
	if err != nil {
		name = escaped
	}
	g.mu.Lock()
	b, ok := g.branches[glBranchKey{p.path, name}]
	g.mu.Unlock()
	if !ok {
		glError(w, http.StatusNotFound, "404 Branch Not Found")
		return
	}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).Format(time.RFC3339)
	title := b.Message
	for i, r := range title {
		if r == '\n' {
			title = title[:i]
			break
		}
	}
	glJSON(w, http.StatusOK, map[string]any{
		"name": name,
		"commit": map[string]any{
			"id": b.Commit, "short_id": glShort(b.Commit), "title": title, "message": b.Message,
			"created_at": at, "parent_ids": nil,
			"author_name": "Example User", "author_email": "user@example.com", "authored_date": at,
			"committer_name": "Example User", "committer_email": "user@example.com", "committed_date": at,
			"web_url": fmt.Sprintf("https://gitlab.example/%s/-/commit/%s", p.path, b.Commit),
		},
		"merged": false, "protected": true, "developers_can_push": false, "developers_can_merge": false,
		"can_push": true, "default": name == p.defaultBranch,
		"web_url": fmt.Sprintf("https://gitlab.example/%s/-/tree/%s", p.path, name),
	})
}
