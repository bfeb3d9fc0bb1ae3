// Package params computes, from the routing file, the values of the template.yaml
// parameters that follow from it, so that the routing file is the one place a
// team names its services, projects, pipelines, stages and actions:
//
//   - PipelineNames: each routed pipeline once, in the routing file's order. The
//     functions' CodePipeline grants, the events rule and the optional pipelines
//     are built from it.
//   - ProductionApprovals: <pipeline>/<stage>/<approval_action> of each service,
//     the one approval action each pipeline's PutApprovalResult grant names.
//   - PipelineSources: what pipelines/service-pipeline.yaml needs to create a
//     service's pipeline (CreatePipelines=true), one entry per pipeline (Source).
//
// `pipegate params` prints them and writes them into samconfig.toml;
// `pipegate validate` compares samconfig.toml with them. The package does no I/O.
package params

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pipegate/pipegate/internal/routing"
)

// The parameters of template.yaml this package computes.
const (
	PipelineNames       = "PipelineNames"
	ProductionApprovals = "ProductionApprovals"
	PipelineSources     = "PipelineSources"
)

// Names are the computed parameters, in the order they are written.
var Names = []string{PipelineNames, ProductionApprovals, PipelineSources}

// Values are the computed parameters' values.
type Values struct {
	PipelineNames       []string
	ProductionApprovals []string
	PipelineSources     []string
	// Notes say which services have no PipelineSources entry and why: their
	// pipelines are made elsewhere, or CreatePipelines=true cannot make them.
	Notes []Note
}

// Note is something a team should know about one service of the routing file.
type Note struct {
	Service string
	Line    int // the service's line in the routing file
	Text    string
}

func (n Note) String() string {
	return fmt.Sprintf("service %s (routing file line %d): %s", n.Service, n.Line, n.Text)
}

// The names AWS takes, as template.yaml's AllowedPatterns take them: a
// CodePipeline pipeline, stage or action name (CodePipeline API reference), and
// what pipelines/service-pipeline.yaml takes as ServiceName and GitLabProject.
var (
	awsName     = regexp.MustCompile(`^[A-Za-z0-9.@_-]{1,100}$`)
	serviceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	projectPath = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$`)
	// A branch for a CodeConnections source action: what git allows in a
	// branch name, less the separators of PipelineSources (| ,) and what
	// samconfig.toml's parameter_overrides would need quoted.
	branchName = regexp.MustCompile(`^[A-Za-z0-9._/@+#=-]{1,255}$`)
	allDigits  = regexp.MustCompile(`^[0-9]+$`)
	globChars  = "*?[{\\"
)

// StackID is the logical ID of the nested stack template.yaml creates for a
// pipeline: its name without the characters a logical ID cannot have, as
// Fn::ForEach's &{Name} makes it.
func StackID(pipeline string) string {
	return nonAlphanumeric.ReplaceAllString(pipeline, "") + "Stack"
}

var nonAlphanumeric = regexp.MustCompile(`[^0-9A-Za-z]+`)

// FromRouting computes the values. It refuses names that CloudFormation would
// refuse only while it deploys (a pipeline, stage or action name CodePipeline
// does not take, two pipelines that would be one nested stack), naming the
// service and its line.
func FromRouting(cfg *routing.Config) (Values, error) {
	var v Values
	stacks := map[string]routing.Service{}
	for _, s := range cfg.Services {
		where := fmt.Sprintf("service %s (routing file line %d)", s.Name, s.Line)
		for _, n := range []struct{ what, value string }{
			{"pipeline", s.Pipeline},
			{"source_action", s.SourceAction},
			{"staging_stage", s.StagingStage},
			{"production stage", s.Production.Stage},
			{"production approval_action", s.Production.ApprovalAction},
		} {
			if !awsName.MatchString(n.value) {
				return Values{}, fmt.Errorf("%s: %s %q: CodePipeline takes 1 to 100 letters, digits and . @ _ - only", where, n.what, n.value)
			}
		}
		id := StackID(s.Pipeline)
		if other, dup := stacks[id]; dup {
			return Values{}, fmt.Errorf("%s: pipeline %s and %s (service %s, line %d) would both be the nested stack %s: rename one",
				where, s.Pipeline, other.Pipeline, other.Name, other.Line, id)
		}
		stacks[id] = s
		v.PipelineNames = append(v.PipelineNames, s.Pipeline)
		v.ProductionApprovals = append(v.ProductionApprovals, s.Pipeline+"/"+s.Production.Stage+"/"+s.Production.ApprovalAction)
		src, why := source(s)
		if why != "" {
			v.Notes = append(v.Notes, Note{Service: s.Name, Line: s.Line,
				Text: why + ": template.yaml cannot create its pipeline (CreatePipelines=true would fail on it); make it elsewhere"})
			continue
		}
		v.PipelineSources = append(v.PipelineSources, src.String())
	}
	return v, nil
}

// source is the PipelineSources entry of s, or why it can have none.
func source(s routing.Service) (Source, string) {
	switch {
	case allDigits.MatchString(s.Project):
		return Source{}, fmt.Sprintf("project %s is a numeric id, and a CodeConnections source needs its path (group/project)", s.Project)
	case !projectPath.MatchString(s.Project):
		return Source{}, fmt.Sprintf("project %q is not a GitLab path the pipeline template takes", s.Project)
	case !serviceName.MatchString(s.Name):
		return Source{}, fmt.Sprintf("service name %q is not what the pipeline template takes (lower-case letters, digits and -, at most 40; it names the ECR repository and ECS services)", s.Name)
	}
	branch := ""
	for _, b := range s.Branches {
		if !strings.ContainsAny(b, globChars) {
			branch = b
			break
		}
	}
	if branch == "" {
		return Source{}, "branches names no branch literally (only globs, or none), and the source action needs one"
	}
	if !branchName.MatchString(branch) {
		return Source{}, fmt.Sprintf("branch %q has characters PipelineSources cannot carry", branch)
	}
	return Source{
		Pipeline:        s.Pipeline,
		Service:         s.Name,
		Project:         s.Project,
		Branch:          branch,
		SourceAction:    s.SourceAction,
		StagingStage:    s.StagingStage,
		ProductionStage: s.Production.Stage,
		ApprovalAction:  s.Production.ApprovalAction,
	}, ""
}

// Map gives each parameter its value as CloudFormation takes a
// CommaDelimitedList.
func (v Values) Map() map[string]string {
	return map[string]string{
		PipelineNames:       strings.Join(v.PipelineNames, ","),
		ProductionApprovals: strings.Join(v.ProductionApprovals, ","),
		PipelineSources:     strings.Join(v.PipelineSources, ","),
	}
}

// Overrides is Name=value for each parameter, separated by spaces: the form of
// sam deploy --parameter-overrides and samconfig.toml's parameter_overrides.
// No value has a space or a quote, so none is quoted.
func (v Values) Overrides() string {
	m := v.Map()
	parts := make([]string, 0, len(Names))
	for _, n := range Names {
		parts = append(parts, n+"="+m[n])
	}
	return strings.Join(parts, " ")
}

// Sources parses the PipelineSources entries.
func (v Values) Sources() ([]Source, error) {
	var out []Source
	for _, e := range v.PipelineSources {
		s, err := ParseSource(e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Source is one PipelineSources entry: the pipeline a nested stack of
// pipelines/service-pipeline.yaml creates, the service it deploys, its GitLab
// source and the stage and action names pipegate uses, written as
// <pipeline>|<service>|<project>|<branch>|<source_action>|<staging_stage>|<production_stage>|<approval_action>.
// template.yaml finds a pipeline's entry by its name (the first field).
type Source struct {
	Pipeline, Service, Project, Branch                          string
	SourceAction, StagingStage, ProductionStage, ApprovalAction string
}

// SourceFields is the number of fields of an entry.
const SourceFields = 8

func (s Source) String() string {
	return strings.Join([]string{s.Pipeline, s.Service, s.Project, s.Branch, s.SourceAction, s.StagingStage, s.ProductionStage, s.ApprovalAction}, "|")
}

// ParseSource reads one entry.
func ParseSource(e string) (Source, error) {
	f := strings.Split(e, "|")
	if len(f) != SourceFields {
		return Source{}, fmt.Errorf("PipelineSources entry %q: %d fields, want %d: <pipeline>|<service>|<project>|<branch>|<source_action>|<staging_stage>|<production_stage>|<approval_action>", e, len(f), SourceFields)
	}
	for i, x := range f {
		if x == "" {
			return Source{}, fmt.Errorf("PipelineSources entry %q: field %d is empty", e, i+1)
		}
	}
	return Source{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]}, nil
}
