package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/setup"
)

func initCommand() *command {
	c := newCommand("init", "write a commented routing file, from names or from your pipelines")
	c.help = `Writes a routing file (pipegate.yaml) in the bundled file's style, every field
commented, to edit and check with 'pipegate validate':

  pipegate init --group acme --services api,web,worker
      one service per name: project <group>/<service>, pipeline <service>-pipeline
      (or the names --pipelines gives, in the same order), pipegate's own pipeline
      template's stage and action names.

  pipegate init --from-aws [--group acme]
      reads the pipelines of your AWS account and region (ListPipelines,
      GetPipeline): a CodeConnections source action gives the GitLab project
      (FullRepositoryId) and branch (BranchName); the manual approval action before
      the last deploy gives the production gate (its stage and action); the last
      deploy before that, the staging stage. It prints what it inferred and why,
      per pipeline, and which pipelines it left out and why (with --group, also
      those whose project is outside the group).

It refuses to overwrite a file unless --force. With -o - the file goes to stdout
and what init says goes to stderr.`
	fs := c.flags
	group := fs.String("group", "", "the GitLab `group` of the projects (with --from-aws: only projects in it)")
	services := fs.String("services", "", "the `services`, comma-separated: api,web,worker")
	pipelines := fs.String("pipelines", "", "their `pipelines`, comma-separated, in the same order (default <service>-pipeline)")
	branch := fs.String("branch", "main", "the `branch` whose pushes start the pipelines (with --services)")
	fromAWS := fs.Bool("from-aws", false, "read the services from the account's pipelines, with your AWS credentials")
	output := fs.String("output", "pipegate.yaml", "the `file` to write; - for stdout")
	fs.StringVar(output, "o", "pipegate.yaml", "the `file` to write (short for --output)")
	force := fs.Bool("force", false, "overwrite the file if it exists")
	c.run = func(ctx context.Context, e *env, _ []string) error {
		var plan initPlan
		switch {
		case *fromAWS && (*services != "" || *pipelines != ""):
			return &usageError{cmd: "init", msg: "--from-aws reads the services from AWS: leave out --services and --pipelines"}
		case *fromAWS:
			var err error
			if plan, err = initFromAWS(ctx, e, *group); err != nil {
				return err
			}
		case *services == "":
			return &usageError{cmd: "init", msg: "name the services (--group G --services a,b) or read them from your pipelines (--from-aws)"}
		case *group == "":
			return &usageError{cmd: "init", msg: "--services needs --group, the GitLab group of their projects"}
		default:
			list, err := setup.FromNames(*group, splitList(*services), splitList(*pipelines), *branch)
			if err != nil {
				return &usageError{cmd: "init", msg: err.Error()}
			}
			cmdline := fmt.Sprintf("pipegate init --group %s --services %s", *group, strings.Join(splitList(*services), ","))
			if *pipelines != "" {
				cmdline += " --pipelines " + strings.Join(splitList(*pipelines), ",")
			}
			plan.file = setup.RoutingFile{
				Origin: fmt.Sprintf("Written by `%s`: one service per GitLab project of group %s, "+
					"each deployed by its own pipeline with the stage and action names of pipegate's pipeline "+
					"template (pipelines/service-pipeline.yaml). Edit the names to yours.", cmdline, *group),
				Services: list,
			}
		}
		return writeInit(e, plan, *output, *force)
	}
	return c
}

// initPlan is what init writes and what it says of it.
type initPlan struct {
	file  setup.RoutingFile
	notes []string // what was read, for the person at the terminal
}

func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// initFromAWS reads every pipeline of the account and region, and maps them.
func initFromAWS(ctx context.Context, e *env, group string) (initPlan, error) {
	var plan initPlan
	cfg, err := e.awsConfig(ctx, "pipegate init --from-aws")
	if err != nil {
		return plan, err
	}
	cp := codepipeline.New(cfg)
	names, err := bounded(ctx, cp.PipelineNames)
	if err != nil {
		return plan, fmt.Errorf("init --from-aws: %w", err)
	}
	var declared []setup.Pipeline
	var unreadable []setup.Skip
	for _, name := range names {
		d, err := bounded(ctx, func(ctx context.Context) (codepipeline.Declaration, error) { return cp.Declaration(ctx, name) })
		if err != nil {
			unreadable = append(unreadable, setup.Skip{Pipeline: name, Reason: "cannot read it: " + err.Error()})
			continue
		}
		declared = append(declared, pipelineOf(d))
	}
	services, skipped := setup.FromPipelines(declared, group)
	skipped = append(skipped, unreadable...)
	scope := ""
	if group != "" {
		scope = " of group " + group
	}
	plan.file = setup.RoutingFile{
		Origin: fmt.Sprintf("Written by `pipegate init --from-aws` from the %d pipelines of %s: each pipeline "+
			"whose source is a GitLab project%s through CodeConnections and whose last deploy waits for a "+
			"manual approval. What was inferred from what is noted per service.", len(names), cfg.Region, scope),
		Services: services,
		Skipped:  skipped,
	}
	plan.notes = append(plan.notes, fmt.Sprintf("read %d pipelines in %s", len(names), cfg.Region))
	for _, s := range services {
		plan.notes = append(plan.notes, fmt.Sprintf("%s → service %s", s.Pipeline, s.Name))
		for _, w := range s.Why {
			plan.notes = append(plan.notes, "    "+w)
		}
	}
	for _, s := range skipped {
		plan.notes = append(plan.notes, fmt.Sprintf("%s: left out: %s", s.Pipeline, s.Reason))
	}
	if len(services) == 0 {
		for _, n := range plan.notes {
			fmt.Fprintln(e.stderr, n)
		}
		return plan, errors.New("init --from-aws: no pipeline could be mapped to a service (why: above); try pipegate init --group G --services a,b")
	}
	return plan, nil
}

// pipelineOf is the declaration as the set-up decisions read it.
func pipelineOf(d codepipeline.Declaration) setup.Pipeline {
	p := setup.Pipeline{Name: d.Name}
	for _, s := range d.Stages {
		st := setup.Stage{Name: s.Name}
		for _, a := range s.Actions {
			st.Actions = append(st.Actions, setup.Action{Name: a.Name, Category: a.Category, Provider: a.Provider, RunOrder: a.RunOrder, Configuration: a.Configuration})
		}
		p.Stages = append(p.Stages, st)
	}
	return p
}

// writeInit renders the file, makes sure the functions would read it, and
// writes it where -o says, never over an existing file without force.
func writeInit(e *env, plan initPlan, output string, force bool) error {
	data := setup.Render(plan.file)
	cfg, err := routing.Parse(data)
	if err != nil {
		// A name the routing file refuses (two services on one pipeline, say): say so rather than write it.
		return fmt.Errorf("init: the routing file would not parse, so it is not written: %w", err)
	}
	say := e.stdout
	if output == "-" {
		say = e.stderr
	}
	for _, n := range plan.notes {
		fmt.Fprintln(say, n)
	}
	if output == "-" {
		_, err := e.stdout.Write(data)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(output, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("init: %s exists: pass --force to overwrite it, or -o another file", output)
	}
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("init: write %s: %w", output, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("init: write %s: %w", output, err)
	}
	fmt.Fprintf(say, "wrote %s: %d services. Next: pipegate validate --routing %s, deploy, then pipegate hooks and pipegate doctor.\n", output, len(cfg.Services), output)
	return nil
}
