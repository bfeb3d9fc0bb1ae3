// Package setup decides what pipegate's set-up commands do: which routing file
// `pipegate init` writes (from names, or from the account's pipelines), what
// `pipegate hooks` changes in GitLab, and what `pipegate doctor` finds wrong. It
// does no I/O: the commands gather what AWS and GitLab say, call these
// functions, and print or carry out what they return.
package setup

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pipeline is a pipeline's structure, as CodePipeline's GetPipeline declares it.
type Pipeline struct {
	Name   string
	Stages []Stage
}

// Stage is one stage of a Pipeline, its actions in declared order.
type Stage struct {
	Name    string
	Actions []Action
}

// Action is one action of a Stage: its type (actionTypeId) and configuration.
type Action struct {
	Name, Category, Provider string
	RunOrder                 int
	Configuration            map[string]string
}

// The action types pipegate works with. CodeConnections (formerly CodeStar
// Connections) is how CodePipeline reads a GitLab repository; its provider keeps
// the old name.
const (
	ConnectionsProvider = "CodeStarSourceConnection"
	sourceCategory      = "Source"
	deployCategory      = "Deploy"
	approvalCategory    = "Approval"
	manualProvider      = "Manual"
)

// Service is one service of the routing file init writes, and why it is so.
// Empty fields are left to the routing file's defaults.
type Service struct {
	Name, Project, Pipeline string
	SourceAction            string
	Branches                []string
	StagingStage            string
	ProductionStage         string
	ApprovalAction          string
	// Why says what was inferred from what, one line each; the file carries them
	// as the service's comment and init prints them.
	Why []string
}

// Skip is a pipeline init could not map to a service, and why.
type Skip struct {
	Pipeline, Reason string
}

// FromNames is the routing file of services named on the command line: project
// <group>/<service>, pipeline pipelines[i] or <service>-pipeline, branch branch,
// and the names of pipegate's own pipeline template (pipelines/service-pipeline.yaml).
func FromNames(group string, services, pipelines []string, branch string) ([]Service, error) {
	group = strings.Trim(group, "/")
	if group == "" {
		return nil, fmt.Errorf("no group: name the GitLab group (or namespace) the projects are in")
	}
	if len(services) == 0 {
		return nil, fmt.Errorf("no services: name at least one")
	}
	if len(pipelines) > 0 && len(pipelines) != len(services) {
		return nil, fmt.Errorf("%d pipelines for %d services: name one pipeline per service, in the same order, or none", len(pipelines), len(services))
	}
	seen := map[string]bool{}
	var out []Service
	for i, name := range services {
		switch {
		case name == "":
			return nil, fmt.Errorf("service %d has no name", i+1)
		case strings.ContainsAny(name, " \t/"):
			return nil, fmt.Errorf("service %q: a name has no spaces or slashes (it is the GitLab project's name in the group)", name)
		case seen[name]:
			return nil, fmt.Errorf("service %q is named twice", name)
		}
		seen[name] = true
		s := Service{
			Name: name, Project: group + "/" + name, Pipeline: name + "-pipeline",
			SourceAction: "Source", StagingStage: "Staging",
			ProductionStage: "Production", ApprovalAction: "ApproveProduction",
		}
		if branch != "" {
			s.Branches = []string{branch}
		}
		if len(pipelines) > 0 && pipelines[i] != "" {
			s.Pipeline = pipelines[i]
		}
		out = append(out, s)
	}
	return out, nil
}

// FromPipelines maps each pipeline to a service: its CodeConnections source
// action gives the GitLab project (FullRepositoryId) and branch (BranchName); the
// manual approval action before its last deploy gives the production gate; the
// last deploy before that gate, the staging stage. A pipeline it cannot map is
// skipped with the reason; with group set, so is one whose project is outside it.
func FromPipelines(pipelines []Pipeline, group string) ([]Service, []Skip) {
	group = strings.Trim(group, "/")
	var services []Service
	var skipped []Skip
	for _, p := range slices.SortedFunc(slices.Values(pipelines), func(a, b Pipeline) int { return cmp.Compare(a.Name, b.Name) }) {
		s, reason := fromPipeline(p)
		if reason == "" && group != "" && !strings.HasPrefix(strings.ToLower(s.Project), strings.ToLower(group)+"/") {
			reason = fmt.Sprintf("its project %s is outside group %s", s.Project, group)
		}
		if reason != "" {
			skipped = append(skipped, Skip{p.Name, reason})
			continue
		}
		services = append(services, s)
	}
	nameServices(services)
	return services, skipped
}

// placed is an action with where it runs: stages in order, then run order.
type placed struct {
	Action
	stage, index int
}

func (a placed) before(b placed) bool {
	return a.stage < b.stage || (a.stage == b.stage && a.RunOrder < b.RunOrder)
}

func (a placed) where(stages []Stage) string {
	return fmt.Sprintf("%s in stage %s", a.Name, stages[a.stage].Name)
}

func fromPipeline(p Pipeline) (Service, string) {
	var all []placed
	for i, st := range p.Stages {
		for j, a := range st.Actions {
			all = append(all, placed{a, i, j})
		}
	}
	var sources, connections, deploys, approvals []placed
	for _, a := range all {
		switch {
		case a.Category == sourceCategory && a.Provider == ConnectionsProvider:
			connections = append(connections, a)
			sources = append(sources, a)
		case a.Category == sourceCategory:
			sources = append(sources, a)
		case a.Category == deployCategory:
			deploys = append(deploys, a)
		case a.Category == approvalCategory && a.Provider == manualProvider:
			approvals = append(approvals, a)
		}
	}
	switch {
	case len(connections) == 0 && len(sources) == 0:
		return Service{}, "it has no source action"
	case len(connections) == 0:
		var kinds []string
		for _, s := range sources {
			kinds = append(kinds, fmt.Sprintf("%s (%s)", s.Name, s.Provider))
		}
		return Service{}, fmt.Sprintf("no CodeConnections source action (its source: %s); pipegate starts pipelines at a GitLab commit through one", strings.Join(kinds, ", "))
	case len(connections) > 1:
		var repos []string
		for _, s := range connections {
			repos = append(repos, fmt.Sprintf("%s: %s", s.Name, s.Configuration["FullRepositoryId"]))
		}
		return Service{}, fmt.Sprintf("%d CodeConnections source actions (%s); pipegate starts a pipeline at one commit of one project", len(connections), strings.Join(repos, ", "))
	}
	src := connections[0]
	project := src.Configuration["FullRepositoryId"]
	if project == "" {
		return Service{}, fmt.Sprintf("its source action %s names no FullRepositoryId", src.Name)
	}
	if len(deploys) == 0 {
		return Service{}, "it has no deploy action: pipegate gates a pipeline's production deploy"
	}
	last := deploys[0]
	for _, d := range deploys[1:] {
		if last.before(d) {
			last = d
		}
	}
	var gate *placed
	for i, a := range approvals {
		if a.before(last) && (gate == nil || gate.before(a)) {
			gate = &approvals[i]
		}
	}
	if gate == nil {
		return Service{}, fmt.Sprintf("no manual approval action before its last deploy (%s): pipegate's production gate answers one", last.where(p.Stages))
	}

	s := Service{
		Project:         project,
		Pipeline:        p.Name,
		SourceAction:    src.Name,
		ProductionStage: p.Stages[gate.stage].Name,
		ApprovalAction:  gate.Name,
	}
	why := fmt.Sprintf("project %s", project)
	if b := src.Configuration["BranchName"]; b != "" {
		s.Branches = []string{b}
		why += ", branch " + b
	}
	s.Why = append(s.Why,
		fmt.Sprintf("%s: from source action %s (CodeConnections: FullRepositoryId, BranchName)", why, src.Name),
		fmt.Sprintf("production gate: %s, the manual approval before the last deploy (%s)", gate.where(p.Stages), last.where(p.Stages)))
	var staging *placed
	for i, d := range deploys {
		if d.before(*gate) && d.stage != gate.stage && (staging == nil || staging.before(d)) {
			staging = &deploys[i]
		}
	}
	if staging != nil {
		s.StagingStage = p.Stages[staging.stage].Name
		s.Why = append(s.Why, fmt.Sprintf("staging: stage %s, of the last deploy before the gate (%s)", s.StagingStage, staging.Name))
	} else {
		s.Why = append(s.Why, "staging: no deploy before the gate's stage, so the badge shows no staging result")
	}
	if w := changeDetection(src.Action); w != "" {
		s.Why = append(s.Why, "warning: "+w)
	}
	return s, ""
}

// changeDetection says why a CodeConnections source action would start its
// pipeline by itself on every push, besides pipegate's start; "" when it would not.
// CodeConnections detects changes unless DetectChanges is "false".
func changeDetection(a Action) string {
	dc, set := a.Configuration["DetectChanges"]
	switch {
	case strings.EqualFold(dc, "false"):
		return ""
	case !set:
		return fmt.Sprintf("%s's change detection is on (DetectChanges is not set, which means true): CodeConnections starts the pipeline on every push as well as pipegate; set DetectChanges to false", a.Name)
	}
	return fmt.Sprintf("%s's change detection is on (DetectChanges %q): CodeConnections starts the pipeline on every push as well as pipegate; set DetectChanges to false", a.Name, dc)
}

// nameServices names each service after its pipeline, without a "-pipeline"
// suffix; when two would share a name, both keep their pipeline's full name.
func nameServices(services []Service) {
	count := map[string]int{}
	for i := range services {
		services[i].Name = serviceName(services[i].Pipeline)
		count[services[i].Name]++
	}
	for i := range services {
		if count[services[i].Name] > 1 {
			services[i].Name = services[i].Pipeline
		}
	}
}

func serviceName(pipeline string) string {
	for _, suffix := range []string{"-pipeline", "_pipeline", "pipeline"} {
		if len(pipeline) > len(suffix) && strings.EqualFold(pipeline[len(pipeline)-len(suffix):], suffix) {
			return strings.TrimRight(pipeline[:len(pipeline)-len(suffix)], "-_")
		}
	}
	return pipeline
}
