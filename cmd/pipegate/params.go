package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/pipegate/pipegate/internal/params"
	"github.com/pipegate/pipegate/internal/routing"
)

func paramsCommand() *command {
	c := newCommand("params", "print (or --write into samconfig.toml) the template parameters the routing file makes")
	c.help = `Prints the parameter_overrides line of samconfig.toml that template.yaml needs
for the routing file: PipelineNames (each routed pipeline), ProductionApprovals
(each service's <pipeline>/<stage>/<approval_action>) and PipelineSources (what
CreatePipelines=true makes each pipeline from). Overrides of other parameters
already in samconfig.toml are kept. With --write, puts it into samconfig.toml's
[default.deploy.parameters], changing nothing else in the file.

The routing file is the one sam build bundles into the functions: pipegate.yaml
next to template.yaml. PIPEGATE_CONFIG is for local runs only and is not read.`
	routingPath := c.flags.String("routing", "pipegate.yaml", "the routing `file` sam build bundles")
	samconfigPath := c.flags.String("samconfig", "samconfig.toml", "the SAM CLI configuration `file`")
	write := c.flags.Bool("write", false, "write the parameters into the samconfig file")
	c.run = func(_ context.Context, e *env, _ []string) error {
		return writeParams(*routingPath, *samconfigPath, *write, e.stdout, e.stderr)
	}
	return c
}

// writeParams computes template.yaml's routing parameters from the routing file.
func writeParams(routingPath, samconfigPath string, write bool, stdout, stderr io.Writer) error {
	values, err := routingParams(routingPath)
	if err != nil {
		return fmt.Errorf("params: %w", err)
	}
	for _, n := range values.Notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}

	old, err := os.ReadFile(samconfigPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("params: read %s: %w", samconfigPath, err)
	}
	updated, err := params.WriteSamconfig(old, values)
	if err != nil {
		return fmt.Errorf("params: %s: %w", samconfigPath, err)
	}
	if !write {
		sc, err := params.ReadSamconfig(updated)
		if err != nil {
			return fmt.Errorf("params: %w", err)
		}
		_, line, _ := sc.ParameterOverrides()
		fmt.Fprintf(stdout, "%s\n", lineOf(updated, line))
		return nil
	}
	if bytes.Equal(old, updated) {
		fmt.Fprintf(stdout, "%s: parameter_overrides already up to date\n", samconfigPath)
		return nil
	}
	if err := os.WriteFile(samconfigPath, updated, 0o644); err != nil {
		return fmt.Errorf("params: write %s: %w", samconfigPath, err)
	}
	fmt.Fprintf(stdout, "%s: parameter_overrides updated\n", samconfigPath)
	return nil
}

// routingParams reads a routing file and computes the parameters.
func routingParams(path string) (params.Values, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return params.Values{}, fmt.Errorf("read %s: %w", path, err)
	}
	cfg, err := routing.Parse(data)
	if err != nil {
		return params.Values{}, fmt.Errorf("%s: %w", path, err)
	}
	v, err := params.FromRouting(cfg)
	if err != nil {
		return params.Values{}, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// lineOf is line n (1-based) of data, without its newline.
func lineOf(data []byte, n int) string {
	lines := bytes.Split(data, []byte("\n"))
	if n < 1 || n > len(lines) {
		return ""
	}
	return string(lines[n-1])
}
