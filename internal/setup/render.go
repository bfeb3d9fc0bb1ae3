package setup

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// RoutingFile is what init writes: a header saying where it comes from, the
// services, and the pipelines it left out.
type RoutingFile struct {
	Origin   string // the header's paragraph after the title: where the file comes from
	Services []Service
	Skipped  []Skip
}

// comment is the column inline comments start at, as in the bundled pipegate.yaml.
const comment = 31

// Render writes the routing file in the bundled pipegate.yaml's style: every
// field commented. A value all services share goes into defaults; the rest
// stays with its service. Fields a service leaves empty keep routing's own
// defaults.
func Render(f RoutingFile) []byte {
	var b strings.Builder
	line := func(indent int, text, note string) {
		text = strings.Repeat(" ", indent) + text
		if note != "" {
			text = fmt.Sprintf("%-*s # %s", comment-1, text, note)
		}
		b.WriteString(strings.TrimRight(text, " ") + "\n")
	}
	b.WriteString("# pipegate routing file: which GitLab pushes start which CodePipeline.\n#\n")
	if f.Origin != "" {
		for _, o := range wrap(f.Origin, 88-2) {
			b.WriteString("# " + o + "\n")
		}
	}
	b.WriteString("# Check it with `pipegate validate`, and the account and GitLab with `pipegate doctor`.\n\n")

	sourceAction := shared(f.Services, func(s Service) string { return s.SourceAction })
	branches := shared(f.Services, func(s Service) string { return flow(s.Branches) })
	staging := shared(f.Services, func(s Service) string { return s.StagingStage })
	stage := shared(f.Services, func(s Service) string { return s.ProductionStage })
	approval := shared(f.Services, func(s Service) string { return s.ApprovalAction })

	b.WriteString("defaults:\n")
	if sourceAction != "" {
		line(2, "source_action: "+scalar(sourceAction), "the pipeline's source action; its revision is set to the pushed commit")
	}
	if branches != "" {
		line(2, "branches: "+branches, `pushes to these branches start the pipeline (globs: "release/*")`)
	} else {
		line(2, `# branches: ["main"]`, "pushes to these branches start the pipeline; unset: the project's default branch")
	}
	line(2, `# tags: ["v*"]`, "tag pushes matching these start it too (annotated tags: the tagged commit)")
	if staging != "" {
		line(2, "staging_stage: "+scalar(staging), `the stage whose result the status badge shows as "staging"`)
	}
	b.WriteString(`  # The production gate: when approval_action starts, pipegate approves it once one
  # of the commit's merge requests is merged, GitLab reports no approvals left on it
  # (Premium approval rules), and it has min_approvals approvals; until then the
  # commit status <pipeline>/<stage> says what is missing.
  production:
`)
	if stage != "" {
		line(4, "stage: "+scalar(stage), "the stage whose manual approval pipegate gates")
	}
	if approval != "" {
		line(4, "approval_action: "+scalar(approval), "")
	}
	line(4, "min_approvals: 1", "approvals the commit's merge request needs before production")
	line(4, "author_can_approve: false", "does the MR author's own approval count towards min_approvals")
	line(4, "no_merge_request: wait", "a commit with no merge request: wait (someone approves in")
	line(4, "", "CodePipeline) or reject (\"no direct pushes to production\")")

	b.WriteString("\nservices:\n")
	for i, s := range f.Services {
		if i > 0 {
			b.WriteString("\n")
		}
		for _, w := range s.Why {
			for i, part := range wrap(w, 88-4) {
				if i > 0 {
					part = "  " + part
				}
				line(2, "# "+part, "")
			}
		}
		line(2, "- name: "+scalar(s.Name), "")
		line(4, "project: "+scalar(s.Project), "")
		line(4, "pipeline: "+scalar(s.Pipeline), "")
		if sourceAction == "" && s.SourceAction != "" {
			line(4, "source_action: "+scalar(s.SourceAction), "")
		}
		if branches == "" && len(s.Branches) > 0 {
			line(4, "branches: "+flow(s.Branches), "")
		}
		if staging == "" && s.StagingStage != "" {
			line(4, "staging_stage: "+scalar(s.StagingStage), "")
		}
		ownStage, ownApproval := stage == "" && s.ProductionStage != "", approval == "" && s.ApprovalAction != ""
		if ownStage || ownApproval {
			line(4, "production:", "")
			if ownStage {
				line(6, "stage: "+scalar(s.ProductionStage), "")
			}
			if ownApproval {
				line(6, "approval_action: "+scalar(s.ApprovalAction), "")
			}
		}
	}
	if len(f.Skipped) > 0 {
		b.WriteString("\n  # Pipelines left out, and why:\n")
		for _, s := range f.Skipped {
			for i, part := range wrap(fmt.Sprintf("%s: %s", s.Pipeline, s.Reason), 88-6) {
				if i > 0 {
					part = "  " + part
				}
				line(2, "#   "+part, "")
			}
		}
	}
	return []byte(b.String())
}

// wrap breaks text into lines of at most width characters, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(text) {
		if cur != "" && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur = w
			continue
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	return append(lines, cur)
}

// shared is the value every service has, or "" when they differ or one has none.
func shared(services []Service, field func(Service) string) string {
	if len(services) == 0 {
		return ""
	}
	v := field(services[0])
	if slices.ContainsFunc(services, func(s Service) bool { return field(s) != v }) {
		return ""
	}
	return v
}

// plain is a YAML scalar that needs no quotes: a name, a path, a glob without
// YAML's indicators, and not one YAML would read as a number, a bool or null.
var (
	plain    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._/-]*$`)
	reserved = regexp.MustCompile(`(?i)^(y|n|yes|no|on|off|true|false|null|~)$`)
)

// scalar writes s as a YAML scalar: plain when that reads back as the same
// string, else double-quoted (a JSON string is a YAML one).
func scalar(s string) string {
	if plain.MatchString(s) && !reserved.MatchString(s) {
		return s
	}
	q, _ := json.Marshal(s)
	return string(q)
}

// flow writes a list of strings as a YAML flow sequence: ["main", "release/*"].
func flow(list []string) string {
	if len(list) == 0 {
		return ""
	}
	q, _ := json.Marshal(list)
	return strings.ReplaceAll(string(q), `","`, `", "`)
}
