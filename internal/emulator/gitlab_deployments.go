package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Deployment is a deployment the stand-in keeps, as GitLab's deployments API
// (POST/PUT/GET /projects/:id/deployments) shows it for a deployment created
// outside GitLab CI (no deployable).
type Deployment struct {
	ID          int64
	IID         int64
	Project     string // path
	Environment string
	SHA, Ref    string
	Tag         bool
	Status      string   // created, running, success, failed, canceled
	History     []string // every status it had, oldest first
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

type glEnvironment struct {
	id        int64
	project   string
	name      string
	createdAt time.Time
}

// Deployments returns the deployments of project (path or id), oldest first.
func (g *GitLab) Deployments(project string) []Deployment {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.glFind(project)
	if !ok {
		return nil
	}
	var out []Deployment
	for _, d := range g.deployments {
		if d.Project == p.path {
			c := *d
			c.History = slices.Clone(d.History)
			out = append(out, c)
		}
	}
	return out
}

// glDeployVerb is the event of GitLab's deployment state machine that reaches
// status, and whether it may fire from status from: run only from created;
// succeed, drop and cancel from any other status than their own.
func glDeployVerb(from, to string) (verb string, ok bool) {
	switch to {
	case "running":
		return "run", from == "created"
	case "success":
		return "succeed", from != "success"
	case "failed":
		return "drop", from != "failed"
	case "canceled":
		return "cancel", from != "canceled"
	}
	return "update", false
}

var glDeployStatuses = []string{"created", "running", "success", "failed", "canceled"}

// glDeploymentRoute names deployments' and environments' routes under /projects/:id/.
func glDeploymentRoute(method string, parts []string) (route, arg string) {
	switch {
	case len(parts) == 2 && parts[1] == "deployments" && method == http.MethodGet:
		return "deployments", ""
	case len(parts) == 2 && parts[1] == "deployments" && method == http.MethodPost:
		return "add_deployment", ""
	case len(parts) == 3 && parts[1] == "deployments" && method == http.MethodGet:
		return "deployment", parts[2]
	case len(parts) == 3 && parts[1] == "deployments" && method == http.MethodPut:
		return "edit_deployment", parts[2]
	case len(parts) == 2 && parts[1] == "environments" && method == http.MethodGet:
		return "environments", ""
	}
	return "", ""
}

func (g *GitLab) serveDeployments(w http.ResponseWriter, r *http.Request, p glProject, route, arg string) {
	switch route {
	case "deployments":
		g.glListDeployments(w, r, p)
	case "add_deployment":
		g.glAddDeployment(w, r, p)
	case "deployment", "edit_deployment":
		id, err := strconv.ParseInt(arg, 10, 64)
		g.mu.Lock()
		var d *Deployment
		for _, x := range g.deployments {
			if err == nil && x.ID == id && x.Project == p.path {
				d = x
			}
		}
		g.mu.Unlock()
		if d == nil {
			glError(w, http.StatusNotFound, "404 Not found")
			return
		}
		if route == "deployment" {
			g.mu.Lock()
			out := g.glDeploymentJSON(p, d)
			g.mu.Unlock()
			glJSON(w, http.StatusOK, out)
			return
		}
		g.glEditDeployment(w, r, p, d)
	case "environments":
		g.mu.Lock()
		out := []map[string]any{}
		for _, e := range g.environments {
			if e.project == p.path {
				out = append(out, glEnvironmentJSON(e))
			}
		}
		g.mu.Unlock()
		glJSON(w, http.StatusOK, out)
	}
}

func (g *GitLab) glAddDeployment(w http.ResponseWriter, r *http.Request, p glProject) {
	var in struct {
		Environment string `json:"environment"`
		SHA         string `json:"sha"`
		Ref         string `json:"ref"`
		Tag         *bool  `json:"tag"`
		Status      string `json:"status"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		glError(w, http.StatusBadRequest, "400 Bad request - body is not JSON")
		return
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"environment", in.Environment}, {"sha", in.SHA}, {"ref", in.Ref}, {"status", in.Status}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if in.Tag == nil {
		missing = append(missing, "tag")
	}
	if len(missing) > 0 {
		glJSON(w, http.StatusBadRequest, map[string]string{"error": strings.Join(missing, ", ") + " is missing"})
		return
	}
	if !slices.Contains(glDeployStatuses, in.Status) {
		glJSON(w, http.StatusBadRequest, map[string]string{"error": "status does not have a valid value"})
		return
	}
	now := time.Now().UTC()
	g.mu.Lock()
	var env *glEnvironment
	for _, e := range g.environments {
		if e.project == p.path && e.name == in.Environment {
			env = e
		}
	}
	if env == nil { // created on first use
		g.nextID++
		env = &glEnvironment{id: g.nextID, project: p.path, name: in.Environment, createdAt: now}
		g.environments = append(g.environments, env)
	}
	g.nextID++
	iid := int64(1)
	for _, d := range g.deployments {
		if d.Project == p.path {
			iid++
		}
	}
	d := &Deployment{ID: g.nextID, IID: iid, Project: p.path, Environment: in.Environment, SHA: in.SHA, Ref: in.Ref,
		Tag: *in.Tag, Status: in.Status, History: []string{in.Status}, CreatedAt: now, UpdatedAt: now}
	g.deployments = append(g.deployments, d)
	out := g.glDeploymentJSON(p, d)
	g.mu.Unlock()
	glJSON(w, http.StatusCreated, out)
}

func (g *GitLab) glEditDeployment(w http.ResponseWriter, r *http.Request, p glProject, d *Deployment) {
	var in struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Status == "" {
		glJSON(w, http.StatusBadRequest, map[string]string{"error": "status is missing"})
		return
	}
	if !slices.Contains(glDeployStatuses, in.Status) {
		glJSON(w, http.StatusBadRequest, map[string]string{"error": "status does not have a valid value"})
		return
	}
	g.mu.Lock()
	verb, ok := glDeployVerb(d.Status, in.Status)
	if !ok {
		from := d.Status
		g.mu.Unlock()
		// GitLab answers a refused transition with the deployment's validation error.
		glJSON(w, http.StatusBadRequest, map[string]any{"message": map[string][]string{
			"status": {fmt.Sprintf("cannot transition via \"%s\" from \"%s\"", verb, from)}}})
		return
	}
	d.Status, d.UpdatedAt = in.Status, time.Now().UTC()
	d.History = append(d.History, in.Status)
	out := g.glDeploymentJSON(p, d)
	g.mu.Unlock()
	glJSON(w, http.StatusOK, out)
}

func (g *GitLab) glListDeployments(w http.ResponseWriter, r *http.Request, p glProject) {
	q := r.URL.Query()
	env, status := q.Get("environment"), q.Get("status")
	if status != "" && !slices.Contains(glDeployStatuses, status) && status != "blocked" {
		glJSON(w, http.StatusBadRequest, map[string]string{"error": "status does not have a valid value"})
		return
	}
	g.mu.Lock()
	var list []*Deployment
	for _, d := range g.deployments {
		if d.Project == p.path && (env == "" || d.Environment == env) && (status == "" || d.Status == status) {
			list = append(list, d)
		}
	}
	if q.Get("sort") == "desc" {
		slices.Reverse(list)
	}
	page, per := glPage(q.Get("page"), 1), glPage(q.Get("per_page"), 20)
	per = min(per, 100)
	total := len(list)
	from := min((page-1)*per, total)
	list = list[from:min(from+per, total)]
	out := make([]map[string]any, 0, len(list))
	for _, d := range list {
		out = append(out, g.glDeploymentJSON(p, d))
	}
	g.mu.Unlock()
	w.Header().Set("X-Total", strconv.Itoa(total))
	w.Header().Set("X-Page", strconv.Itoa(page))
	w.Header().Set("X-Per-Page", strconv.Itoa(per))
	if from+per < total {
		w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
	}
	glJSON(w, http.StatusOK, out)
}

func glPage(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return def
	}
	return n
}

// glDeploymentJSON is a deployment as GitLab's API shows it; g.mu must be held.
func (g *GitLab) glDeploymentJSON(p glProject, d *Deployment) map[string]any {
	var env map[string]any
	for _, e := range g.environments {
		if e.project == p.path && e.name == d.Environment {
			env = glEnvironmentJSON(e)
		}
	}
	return map[string]any{
		"id": d.ID, "iid": d.IID, "ref": d.Ref, "sha": d.SHA, "status": d.Status,
		"created_at": d.CreatedAt, "updated_at": d.UpdatedAt,
		"user": glUser("pipegate"), "environment": env, "deployable": nil,
	}
}

func glEnvironmentJSON(e *glEnvironment) map[string]any {
	slug := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, e.name)
	return map[string]any{
		"id": e.id, "name": e.name, "slug": slug, "external_url": nil, "state": "available",
		"created_at": e.createdAt, "updated_at": e.createdAt,
	}
}
