package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// GroupMember is one user's direct membership of a group, as the stand-in
// keeps it.
type GroupMember struct {
	Username    string
	AccessLevel int    // 10 Guest, 20 Reporter, 30 Developer, 40 Maintainer, 50 Owner
	State       string // the user's state: active (default), blocked, deactivated
}

type glGroup struct {
	id       int64
	fullPath string
	members  []GroupMember // direct members only
}

// AddGroup makes a group known by its numeric id and full path ("platform/leads":
// a subgroup of platform, whose members it inherits).
func (g *GitLab) AddGroup(id int64, fullPath string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.groups = append(g.groups, &glGroup{id: id, fullPath: fullPath})
}

// AddGroupMember adds m as a direct member of group (id or full path).
func (g *GitLab) AddGroupMember(group string, m GroupMember) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gr, ok := g.glFindGroup(group)
	if !ok {
		panic("emulator: AddGroupMember on unknown group " + group)
	}
	if m.State == "" {
		m.State = "active"
	}
	gr.members = append(gr.members, m)
}

// glFindGroup looks a group up by numeric id or full path; g.mu must be held.
func (g *GitLab) glFindGroup(idOrPath string) (*glGroup, bool) {
	id, err := strconv.ParseInt(idOrPath, 10, 64)
	for _, gr := range g.groups {
		if (err == nil && gr.id == id) || strings.EqualFold(gr.fullPath, idOrPath) {
			return gr, true
		}
	}
	return nil, false
}

// serveGroups answers under /api/v4/groups/ (rest is the escaped path after it):
// GET /groups/:id/members/all, route "group_members", with the group's full
// path as the Request's Project.
func (g *GitLab) serveGroups(w http.ResponseWriter, r *http.Request, rest string) {
	parts := strings.Split(rest, "/")
	if r.Method != http.MethodGet || len(parts) != 3 || parts[1] != "members" || parts[2] != "all" {
		glError(w, http.StatusNotFound, "404 Not Found")
		return
	}
	gid, perr := url.PathUnescape(parts[0])
	if perr != nil {
		gid = parts[0]
	}
	g.mu.Lock()
	gr, ok := g.glFindGroup(gid)
	named := gid
	if ok {
		named = gr.fullPath
	}
	g.requests = append(g.requests, Request{Route: "group_members", Project: named})
	g.mu.Unlock()
	if f, ok := g.faults.take("group_members"); ok {
		glFault(w, r, f)
		return
	}
	if !g.glAuthorized(r) {
		glError(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	if perr != nil || !ok {
		glError(w, http.StatusNotFound, "404 Group Not Found")
		return
	}
	g.glAllMembers(w, r, gr)
}

// glAllMembers lists the group's members with those of its ancestors, as
// members/all does: a user who is a member at several levels appears once,
// with the highest access level.
func (g *GitLab) glAllMembers(w http.ResponseWriter, r *http.Request, gr *glGroup) {
	q := r.URL.Query()
	g.mu.Lock()
	best := map[string]GroupMember{}
	var order []string
	for _, anc := range g.groups {
		if !strings.EqualFold(anc.fullPath, gr.fullPath) && !strings.HasPrefix(strings.ToLower(gr.fullPath), strings.ToLower(anc.fullPath)+"/") {
			continue
		}
		for _, m := range anc.members {
			prev, seen := best[m.Username]
			if !seen {
				order = append(order, m.Username)
			}
			if !seen || m.AccessLevel > prev.AccessLevel {
				best[m.Username] = m
			}
		}
	}
	g.mu.Unlock()
	slices.Sort(order)
	page, per := glPage(q.Get("page"), 1), min(glPage(q.Get("per_page"), 20), 100)
	total := len(order)
	from := min((page-1)*per, total)
	out := make([]map[string]any, 0, per)
	for _, name := range order[from:min(from+per, total)] {
		m := best[name]
		u := glUser(name)
		u["state"] = m.State
		u["access_level"] = m.AccessLevel
		u["avatar_url"] = fmt.Sprintf("https://gitlab.example/uploads/-/system/user/avatar/%v/avatar.png", u["id"])
		u["web_url"] = "https://gitlab.example/" + name
		u["created_at"] = "2026-11-02T09:00:00.000Z"
		u["expires_at"] = nil
		u["membership_state"] = "active"
		out = append(out, u)
	}
	w.Header().Set("X-Total", strconv.Itoa(total))
	w.Header().Set("X-Page", strconv.Itoa(page))
	w.Header().Set("X-Per-Page", strconv.Itoa(per))
	if from+per < total {
		w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
	}
	glJSON(w, http.StatusOK, out)
}
