package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipegate/pipegate/internal/validate"
)

func validateCommand() *command {
	c := newCommand("validate", "check that the routing file, template.yaml, samconfig.toml and the pipeline template agree")
	c.help = validateHelp
	flags := c.flags
	tplPath := flags.String("template", "template.yaml", "the SAM template `file` that deploys pipegate")
	routingPath := flags.String("routing", "", "the routing `file` (default: pipegate.yaml next to the template)")
	samconfigPath := flags.String("samconfig", "", "the SAM CLI configuration `file` (default: samconfig.toml next to the template)")
	pipelinesPath := flags.String("pipelines", "", "the pipeline template `file` the nested stacks create pipelines from\n(default: their TemplateURL, next to the template: pipelines/service-pipeline.yaml)")
	c.run = func(_ context.Context, e *env, _ []string) error {
		return validateFiles(*tplPath, *routingPath, *samconfigPath, *pipelinesPath, e.stdout)
	}
	return c
}

const validateHelp = `Checks, offline, that the files pipegate deploys with agree with the routing
file: template.yaml takes the parameters the routing file makes, grants and
routes what it needs and names no project or pipeline itself; samconfig.toml
passes exactly those parameters (pipegate params --write), with the capabilities
the template needs; each pipeline the template would create (CreatePipelines)
is a routed service's, from its GitLab project, with its stage and action names.
Every problem names the file and line of both sides and the fix; it exits 1 on
any problem.

The routing file is the one sam build bundles: pipegate.yaml next to the
template (PIPEGATE_CONFIG is for local runs only and is not read); samconfig.toml
is next to the template too, and the pipeline template is the nested stacks'
TemplateURL, relative to the template.`

// validateFiles checks, offline, that the routing file, the SAM template,
// samconfig.toml and the pipeline template agree. It prints one line per check
// and per problem, and fails on any problem.
func validateFiles(tplPath, routingPath, samconfigPath, pipelinesPath string, stdout io.Writer) error {
	dir := filepath.Dir(tplPath)
	if routingPath == "" {
		routingPath = filepath.Join(dir, "pipegate.yaml")
	}
	if samconfigPath == "" {
		samconfigPath = filepath.Join(dir, "samconfig.toml")
	}

	problems := 0
	report := func(checks ...validate.Check) {
		for _, c := range checks {
			switch {
			case c.Skip != "":
				fmt.Fprintf(stdout, "skip     %s: %s\n", c.Name, c.Skip)
			case c.OK():
				fmt.Fprintf(stdout, "ok       %s\n", c.Name)
			}
			for _, p := range c.Problems {
				fmt.Fprintf(stdout, "problem  %s\n", p)
				problems++
			}
		}
	}
	failed := func() error { return fmt.Errorf("validate: %d problem(s)", problems) }

	routingFile, err := readValidateFile(routingPath)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	cfg, check := validate.Routing(routingFile)
	report(check)
	if cfg == nil {
		return failed()
	}
	routes := validate.Routes{Path: routingFile.Path, Config: cfg}
	values, check := validate.Params(routes)
	report(check)
	if !check.OK() {
		return failed()
	}

	tpl, err := readValidateFile(tplPath)
	if err != nil {
		report(validate.Check{Name: "template readable", Problems: []validate.Problem{{File: tplPath, Message: err.Error()}}})
		return failed()
	}
	report(validate.Template(routes, values, tpl)...)

	sc, err := readValidateFile(samconfigPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		report(validate.Check{Name: "samconfig readable", Problems: []validate.Problem{{File: samconfigPath, Message: err.Error()}}})
		return failed()
	}
	report(validate.Samconfig(routes, values, tpl, sc)...)

	pipeline := validate.File{Path: pipelinesPath}
	if pipeline.Path == "" {
		if url := validate.PipelineTemplate(tpl.Data); url != "" && !strings.Contains(url, "://") {
			pipeline.Path = filepath.Join(dir, url)
		}
	}
	if pipeline.Path != "" {
		if pipeline, err = readValidateFile(pipeline.Path); err != nil {
			report(validate.Check{Name: "pipeline template readable", Problems: []validate.Problem{{File: pipeline.Path, Message: err.Error()}}})
			return failed()
		}
	}
	report(validate.Pipelines(routes, values, tpl, pipeline)...)
	if problems > 0 {
		return failed()
	}
	fmt.Fprintln(stdout, "validate: no problems")
	return nil
}

// readValidateFile reads a file; a missing one is returned with its path and
// no data, and the error.
func readValidateFile(path string) (validate.File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return validate.File{Path: path}, fmt.Errorf("read %s: %w", path, err)
	}
	return validate.File{Path: path, Data: b}, nil
}
