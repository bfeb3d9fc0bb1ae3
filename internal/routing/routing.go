// Package routing reads the routing file and decides which services a push starts.
// It does no I/O: Parse takes the file's bytes, Match takes a decoded push.
package routing

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"go.yaml.in/yaml/v3"

	"github.com/pipegate/pipegate/internal/gitlabhook"
)

// Config is a parsed routing file, with defaults merged into every service.
type Config struct {
	Services []Service
}

// Service is one deployable service and the pipeline that deploys it.
type Service struct {
	Name         string
	Project      string // GitLab path_with_namespace, or the numeric id as a string
	Pipeline     string
	SourceAction string
	Branches     []string // globs; empty means the project's default branch
	Tags         []string // globs; empty means tags start nothing
	Paths        []string // globs; empty means any change
	StagingStage string   // the stage whose end the badge shows as the staging result
	Production   Production
	// Environments are the GitLab environments the staging and production
	// stages deploy to (environments.go: the defaults depend on the project's
	// other services).
	Environments Environments
	Line         int // where the service is defined in the routing file
}

// Production names the approval pipegate gates and the policy it applies.
type Production struct {
	Stage            string
	ApprovalAction   string
	MinApprovals     int
	AuthorCanApprove bool   // whether the MR author's own approval counts
	NoMergeRequest   string // "wait" or "reject": what a commit that has no MR gets
	// Approvers, when not nil, are whose approvals count toward MinApprovals
	// (docs/routing.md, "approvers"); nil, every approval does. A pointer
	// keeps Production comparable.
	Approvers *Approvers
}

// Approvers are the users and GitLab groups whose approvals count. A group
// counts its members as GitLab's members/all lists them (inherited and invited
// members included), narrowed as docs/routing.md says.
type Approvers struct {
	Users  []string // GitLab usernames, without @
	Groups []string // GitLab group full paths, e.g. platform/leads
}

// file mirrors the YAML; pointers tell "unset" from "empty" so defaults merge.
type file struct {
	Defaults rawService   `yaml:"defaults"`
	Services []rawService `yaml:"services"`
}

type rawService struct {
	Name         string           `yaml:"name"`
	Project      string           `yaml:"project"`
	Pipeline     string           `yaml:"pipeline"`
	SourceAction string           `yaml:"source_action"`
	Branches     []string         `yaml:"branches"`
	Tags         []string         `yaml:"tags"`
	Paths        []string         `yaml:"paths"`
	StagingStage string           `yaml:"staging_stage"`
	Production   *rawProduction   `yaml:"production"`
	Environments *rawEnvironments `yaml:"environments"`
}

type rawProduction struct {
	Stage            string         `yaml:"stage"`
	ApprovalAction   string         `yaml:"approval_action"`
	MinApprovals     *int           `yaml:"min_approvals"`
	AuthorCanApprove *bool          `yaml:"author_can_approve"`
	NoMergeRequest   noMergeRequest `yaml:"no_merge_request"`
	Approvers        *rawApprovers  `yaml:"approvers"`
}

type rawApprovers struct {
	Users  []username  `yaml:"users"`
	Groups []groupPath `yaml:"groups"`
}

// username and groupPath are the items of approvers' lists, which checkFile
// holds to GitLab's spelling of a username and of a group's full path.
type (
	username  string
	groupPath string
)

// noMergeRequest is no_merge_request's value: one of noMergeRequestChoices, which
// checkFile holds it to.
type noMergeRequest string

// Built-in defaults, the names the shipped pipeline template uses.
const (
	defaultSourceAction   = "Source"
	defaultStagingStage   = "Staging"
	defaultStage          = "Production"
	defaultApprovalAction = "ApproveProduction"
	defaultMinApprovals   = 1
	defaultNoMergeRequest = "wait" // never opens the gate: the safe answer
)

// Parse reads a routing file strictly: unknown fields, values of the wrong kind,
// missing names, bad globs and two services on one pipeline are errors that name
// the line and the block (defaults, or the service), and say what to write.
func Parse(data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(data, err)
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, errors.New("routing file is empty")
	}
	at, err := checkFile(doc.Content[0])
	if err != nil {
		return nil, fmt.Errorf("routing file: %w", err)
	}
	var f file
	if err := doc.Content[0].Decode(&f); err != nil {
		// checkFile has seen every field's kind; whatever is left is YAML's to say.
		return nil, fmt.Errorf("routing file: %s", oneLine(err.Error()))
	}

	cfg := &Config{}
	names := map[string]int{}
	pipelines := map[string]block{}
	for i, raw := range f.Services {
		b := at.services[i]
		s, err := merge(f.Defaults, raw, at.defaults, b)
		if err != nil {
			return nil, fmt.Errorf("routing file: line %d: %s%w", b.line, b.label, err)
		}
		s.Line = b.line
		if prev, ok := names[s.Name]; ok {
			return nil, fmt.Errorf("routing file: line %d: %s: service %q is already defined at line %d", b.line, b.label, s.Name, prev)
		}
		if prev, ok := pipelines[s.Pipeline]; ok {
			return nil, fmt.Errorf("routing file: line %d: %s: pipeline %q is already used by the service at line %d, %s", b.line, b.label, s.Pipeline, prev.line, prev.label)
		}
		names[s.Name], pipelines[s.Pipeline] = b.line, b
		cfg.Services = append(cfg.Services, s)
	}
	if err := setEnvironments(cfg, f.Services, at.services); err != nil {
		return nil, fmt.Errorf("routing file: %w", err)
	}
	return cfg, nil
}

// merge applies defaults to one service and checks the result. Its errors follow
// the service's label: " has no project", ": min_approvals must not be negative".
func merge(d, s rawService, dWhere, sWhere block) (Service, error) {
	out := Service{
		Name:         s.Name,
		Project:      s.Project,
		Pipeline:     s.Pipeline,
		SourceAction: first(s.SourceAction, d.SourceAction, defaultSourceAction),
		Branches:     firstList(s.Branches, d.Branches),
		Tags:         firstList(s.Tags, d.Tags),
		Paths:        s.Paths, // paths are per service: a default would hide the monorepo split
		StagingStage: first(s.StagingStage, d.StagingStage, defaultStagingStage),
		Production: Production{
			Stage:          defaultStage,
			ApprovalAction: defaultApprovalAction,
			MinApprovals:   defaultMinApprovals,
			NoMergeRequest: defaultNoMergeRequest,
		},
	}
	for _, p := range []*rawProduction{d.Production, s.Production} {
		if p == nil {
			continue
		}
		out.Production.Stage = first(p.Stage, out.Production.Stage)
		out.Production.ApprovalAction = first(p.ApprovalAction, out.Production.ApprovalAction)
		if p.MinApprovals != nil {
			out.Production.MinApprovals = *p.MinApprovals
		}
		if p.AuthorCanApprove != nil {
			out.Production.AuthorCanApprove = *p.AuthorCanApprove
		}
		out.Production.NoMergeRequest = first(string(p.NoMergeRequest), out.Production.NoMergeRequest)
		if p.Approvers != nil {
			// A service's approvers replace the defaults' whole: a team that names
			// its own approvers means only them.
			out.Production.Approvers = &Approvers{Users: strs(p.Approvers.Users), Groups: strs(p.Approvers.Groups)}
		}
	}
	if a := out.Production.Approvers; a != nil && len(a.Users)+len(a.Groups) == 0 {
		// An empty list would let nobody open the gate; leaving approvers out lets everyone.
		return out, errors.New(": production.approvers names no users and no groups: list whose approvals count, or leave approvers out so that every approval counts")
	}
	switch {
	case out.Name == "":
		return out, errors.New(" has no name")
	case out.Project == "":
		return out, errors.New(" has no project")
	case out.Pipeline == "":
		return out, errors.New(" has no pipeline")
	case out.Production.MinApprovals < 0:
		return out, errors.New(": min_approvals must not be negative")
	case out.StagingStage == out.Production.Stage:
		// One stage's end cannot be both results on the badge.
		return out, fmt.Errorf(": staging_stage and production stage are both %q", out.StagingStage)
	}
	for _, list := range []struct {
		field string
		globs []string
		own   bool // the service's own list, else the defaults'
	}{
		{"branches", out.Branches, s.Branches != nil},
		{"tags", out.Tags, s.Tags != nil},
		{"paths", out.Paths, true},
	} {
		for i, g := range list.globs {
			if doublestar.ValidatePattern(g) {
				continue
			}
			from, at := "", sWhere.items[list.field]
			if !list.own {
				from, at = " from defaults", dWhere.items[list.field]
			}
			line := ""
			if i < len(at) {
				line = fmt.Sprintf(" (line %d)", at[i])
			}
			why := globProblem(g)
			if why == "" {
				why = "doublestar cannot read it"
			}
			return out, fmt.Errorf(": %s%s%s: bad glob %q: %s", list.field, from, line, g, why)
		}
	}
	return out, nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// strs turns a list of named strings into plain ones.
func strs[S ~string](in []S) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

func firstList(a, b []string) []string {
	if a != nil {
		return a
	}
	return b
}

// Skip says why a service was not started.
type Skip struct {
	Service string `json:"service"`
	Reason  string `json:"reason"`
}

// Result is the routing decision for one push.
type Result struct {
	Targets []Service
	Skipped []Skip
	// Reason is set when the push starts nothing for a reason that is not any one
	// service's (unrouted project, deleted ref, skip marker).
	Reason string
	// NeedPaths is set when a service filters on paths and the push does not say
	// every file it changed: fetch them, set ChangedPaths and PathsKnown, and match again.
	NeedPaths bool
	// PathProjects, with NeedPaths, are the projects (as the routing file names
	// them) of the services waiting for the changed paths: the comparison is read
	// from these, never from a project the payload names.
	PathProjects []string
}

// skipMarkers are GitLab CI's own markers for "do not run a pipeline for this push".
var skipMarkers = [...]string{"[skip ci]", "[ci skip]"}

// Match decides which services a push starts and why each other service of its
// project does not.
func (c *Config) Match(p *gitlabhook.Push) Result {
	var mine []Service
	id := strconv.FormatInt(p.ProjectID, 10)
	for _, s := range c.Services {
		if s.InProject(p.Project, p.ProjectID) {
			mine = append(mine, s)
		}
	}
	var r Result
	if len(mine) == 0 {
		r.Reason = fmt.Sprintf("project %s (id %s) is not routed", p.Project, id)
		return r
	}
	kind, name := "branch", p.RefName()
	if p.Tag {
		kind = "tag"
	}
	if p.Deleted() {
		r.Reason = fmt.Sprintf("%s %s was deleted", kind, name)
		return r
	}
	if p.CommitSHA == "" {
		// GitLab sends checkout_sha null for a tag that points at no commit.
		r.Reason = fmt.Sprintf("%s %s names no commit to build (checkout_sha is null)", kind, name)
		return r
	}
	msg := strings.ToLower(p.HeadMessage)
	for _, m := range skipMarkers {
		if strings.Contains(msg, m) {
			r.Reason = fmt.Sprintf("head commit message has %s", m)
			return r
		}
	}
	for _, s := range mine {
		if why := refMismatch(s, p, kind, name); why != "" {
			r.Skipped = append(r.Skipped, Skip{s.Name, why})
			continue
		}
		// Like GitLab CI's rules:changes, paths do not filter tag pushes: a tag names a
		// release, not a change. Services in one project tell tags apart by `tags` globs.
		if p.Tag || len(s.Paths) == 0 {
			r.Targets = append(r.Targets, s)
			continue
		}
		if !p.PathsKnown {
			r.NeedPaths = true
			if !slices.Contains(r.PathProjects, s.Project) {
				r.PathProjects = append(r.PathProjects, s.Project)
			}
			continue
		}
		if anyMatch(s.Paths, p.ChangedPaths) {
			r.Targets = append(r.Targets, s)
		} else {
			r.Skipped = append(r.Skipped, Skip{s.Name, fmt.Sprintf("no changed file matches paths %v", s.Paths)})
		}
	}
	if r.NeedPaths {
		r.Targets = nil
	}
	return r
}

// refMismatch says why the pushed ref does not start s, or "" when it does.
func refMismatch(s Service, p *gitlabhook.Push, kind, name string) string {
	globs := s.Branches
	if p.Tag {
		globs = s.Tags
	} else if len(globs) == 0 && p.DefaultBranch != "" {
		globs = []string{p.DefaultBranch}
	}
	if MatchesAny(globs, name) {
		return ""
	}
	if len(globs) == 0 {
		plural := "branches"
		if p.Tag {
			plural = "tags"
		}
		return fmt.Sprintf("%s %s: the service starts on no %s", kind, name, plural)
	}
	return fmt.Sprintf("%s %s matches none of %v", kind, name, globs)
}

// MatchesAny reports whether name matches one of globs. It is the routing file's
// one glob rule, for branches, tags and paths alike (doublestar: "*" stays within
// one path segment, "**" crosses them); the production gate uses it too, so that
// a branch that starts a service is a branch whose merge requests count.
func MatchesAny(globs []string, name string) bool {
	return slices.ContainsFunc(globs, func(g string) bool {
		ok, _ := doublestar.Match(g, name)
		return ok
	})
}

// anyMatch reports whether any path matches any glob.
func anyMatch(globs, paths []string) bool {
	return slices.ContainsFunc(paths, func(path string) bool { return MatchesAny(globs, path) })
}

// Named returns the service called name.
func (c *Config) Named(name string) (Service, bool) {
	for _, s := range c.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// InProject reports whether s belongs to the GitLab project named by path
// (path_with_namespace, any case) or by its numeric id.
func (s Service) InProject(path string, id int64) bool {
	return strings.EqualFold(s.Project, path) || s.Project == strconv.FormatInt(id, 10)
}

// Service returns the service that owns pipeline.
func (c *Config) Service(pipeline string) (Service, bool) {
	for _, s := range c.Services {
		if s.Pipeline == pipeline {
			return s, true
		}
	}
	return Service{}, false
}
