package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipegate/pipegate"
	"github.com/pipegate/pipegate/internal/validate"
)

func validateCommand() *command {
	c := newCommand("validate", "check the routing file against template.yaml and the pipeline template")
	c.help = `Checks, offline, that the routing file parses (naming the line of a problem) and
that template.yaml and the pipeline template grant and name what it needs. It
prints one line per check and per problem, and exits 1 on any problem.`
	fs := c.flags
	tplPath := fs.String("template", "template.yaml", "the SAM template `file` that deploys pipegate")
	pipelinesPath := fs.String("pipelines", "", "the pipeline template `file` its nested stacks create pipelines from\n(default: their TemplateURL, next to the template: pipelines/service-pipeline.yaml)")
	routingPath := fs.String("routing", "", "the routing `file` (default: PIPEGATE_CONFIG, else the bundled pipegate.yaml)")
	c.run = func(_ context.Context, e *env, _ []string) error {
		return validateFiles(*tplPath, *pipelinesPath, *routingPath, e.getenv, e.stdout)
	}
	return c
}

// validateFiles checks, offline, that the routing file parses and that the SAM
// template and the pipeline template give pipegate what the routing file asks
// of them. It prints one line per check and per problem, and fails on any problem.
func validateFiles(tplPath, pipelinesPath, routingPath string, getenv func(string) string, stdout io.Writer) error {
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

	routingFile, err := readRoutingFile(routingPath, getenv)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	cfg, check := validate.Routing(routingFile)
	report(check)
	if cfg == nil {
		return fmt.Errorf("validate: %d problem(s)", problems)
	}
	routes := validate.Routes{Path: routingFile.Path, Config: cfg}

	tpl, err := readValidateFile(tplPath)
	if err != nil {
		report(validate.Check{Name: "template readable", Problems: []validate.Problem{{File: tplPath, Message: err.Error()}}})
		return fmt.Errorf("validate: %d problem(s)", problems)
	}
	report(validate.Template(routes, tpl)...)

	pipeline := validate.File{Path: pipelinesPath}
	if pipeline.Path == "" {
		pipeline.Path = nestedTemplate(tpl)
	}
	if pipeline.Path != "" {
		if pipeline, err = readValidateFile(pipeline.Path); err != nil {
			report(validate.Check{Name: "pipeline template readable", Problems: []validate.Problem{{File: pipeline.Path, Message: err.Error()}}})
			return fmt.Errorf("validate: %d problem(s)", problems)
		}
	}
	report(validate.Pipelines(routes, tpl, pipeline)...)
	if problems > 0 {
		return fmt.Errorf("validate: %d problem(s)", problems)
	}
	fmt.Fprintln(stdout, "validate: no problems")
	return nil
}

// readRoutingFile reads the routing file the functions would use: the one named,
// else PIPEGATE_CONFIG's, else the bundled one (as app.LoadRoutes does), keeping
// its bytes so that problems can name lines.
func readRoutingFile(path string, getenv func(string) string) (validate.File, error) {
	if path == "" {
		path = getenv("PIPEGATE_CONFIG")
	}
	if path == "" {
		return validate.File{Path: "bundled pipegate.yaml", Data: pipegate.DefaultRouting()}, nil
	}
	return readValidateFile(path)
}

func readValidateFile(path string) (validate.File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return validate.File{Path: path}, fmt.Errorf("read %s: %w", path, err)
	}
	return validate.File{Path: path, Data: b}, nil
}

// nestedTemplate finds the pipeline template the template's nested stacks name:
// before `sam deploy` packages it, TemplateURL is a path relative to the template.
// "" when there is none to read (no nested stack, or a URL).
func nestedTemplate(tpl validate.File) string {
	stacks, err := validate.Stacks(tpl.Data)
	if err != nil {
		return "" // the template's own checks report it
	}
	for _, s := range stacks {
		if s.TemplateURL != "" && !strings.Contains(s.TemplateURL, "://") {
			return filepath.Join(filepath.Dir(tpl.Path), s.TemplateURL)
		}
	}
	return ""
}
