// Package validate checks, offline, that the four files a team deploys pipegate
// with agree: the routing file (pipegate.yaml, which sam build bundles into the
// functions), template.yaml, samconfig.toml (the parameter values sam deploy
// passes) and the per-service pipeline template. The routing file is the source
// of truth: package params computes from it the parameters template.yaml needs,
// and each check compares a file with what the routing file makes of it:
//
//   - Params: the routing file makes valid parameters;
//   - Template: template.yaml takes them, grants the functions what they call on
//     every routed pipeline, sends them the events of exactly those pipelines,
//     names none of them literally, and fits AWS's size limits with them;
//   - Samconfig: samconfig.toml passes exactly them, with the capabilities and
//     SAM CLI settings the template needs;
//   - Pipelines: each pipeline template.yaml would create (CreatePipelines) is a
//     routed service's, with its GitLab project as source and its names.
//
// Each problem names the file and line of both sides and the fix. The package
// does no I/O and calls no AWS API: each check takes the files' bytes.
package validate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pipegate/pipegate/internal/params"
	"github.com/pipegate/pipegate/internal/routing"
)

// File is one input: its bytes and the name problems give it.
type File struct {
	Path string
	Data []byte
}

// Routes is a parsed routing file and the name problems give it.
type Routes struct {
	Path   string
	Config *routing.Config
}

// at names a service's place in the routing file.
func (r Routes) at(s routing.Service) string {
	return fmt.Sprintf("%s:%d", r.Path, s.Line)
}

// service is the routed service of a pipeline.
func (r Routes) service(pipeline string) (routing.Service, bool) {
	return r.Config.Service(pipeline)
}

// Problem is one thing wrong, where it is.
type Problem struct {
	File    string
	Line    int // 0: the file as a whole
	Message string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return p.File + ": " + p.Message
}

// Check is one thing checked: ok when it has no Problems, not checked at all
// when Skip says why.
type Check struct {
	Name     string
	Problems []Problem
	Skip     string
}

// OK reports whether the check passed (or was skipped).
func (c Check) OK() bool { return len(c.Problems) == 0 }

func (c *Check) problem(file string, line int, format string, args ...any) {
	c.Problems = append(c.Problems, Problem{file, line, fmt.Sprintf(format, args...)})
}

// The resource names of template.yaml the checks look for.
const (
	pipelineEventsFunction = "PipelineEventsFunction"
	createPipelines        = "CreatePipelines"
)

// fix is what every disagreement about the computed parameters is fixed with.
const fix = "run pipegate params --write"

var lineNumber = regexp.MustCompile(`line (\d+)`)

// Routing parses a routing file. Parse's errors name the line; the problem carries
// it too, so that it prints as file:line.
func Routing(f File) (*routing.Config, Check) {
	c := Check{Name: "routing file parses"}
	cfg, err := routing.Parse(f.Data)
	if err != nil {
		c.problem(f.Path, lineOf(err), "%s", strings.Join(strings.Fields(err.Error()), " "))
		return nil, c
	}
	c.Name = fmt.Sprintf("routing file %s parses: %d services", f.Path, len(cfg.Services))
	return cfg, c
}

// Params computes the template parameters of the routing file (package params):
// the values every other check compares with. Names CloudFormation would refuse
// are the routing file's problems.
func Params(routes Routes) (params.Values, Check) {
	c := Check{Name: "the routing file makes the template's parameters (PipelineNames, ProductionApprovals, PipelineSources)"}
	v, err := params.FromRouting(routes.Config)
	if err != nil {
		c.problem(routes.Path, lineOf(err), "%v", err)
		return params.Values{}, c
	}
	return v, c
}

func lineOf(err error) int {
	if m := lineNumber.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}
