package routing_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/routing"
)

// TestParseApprovers checks production.approvers: unset means nil (every
// approval counts), a service's block replaces the defaults' whole, and the
// lists keep the file's spelling.
func TestParseApprovers(t *testing.T) {
	tests := []struct {
		name              string
		defaults, service string // production blocks, indented
		want              *routing.Approvers
	}{
		{"unset", "", "", nil},
		{"from defaults", "    approvers: {users: [alice], groups: [platform/leads]}\n", "",
			&routing.Approvers{Users: []string{"alice"}, Groups: []string{"platform/leads"}}},
		{"service replaces defaults whole", "    approvers: {users: [alice], groups: [platform/leads]}\n",
			"      approvers:\n        users: [Bob.Smith]\n",
			&routing.Approvers{Users: []string{"Bob.Smith"}, Groups: []string{}}},
		{"service alone, groups only", "", "      approvers:\n        groups: [ic, ic/core-team/leads]\n",
			&routing.Approvers{Users: []string{}, Groups: []string{"ic", "ic/core-team/leads"}}},
		{"service keeps defaults' approvers when it sets other fields", "    approvers: {users: [alice]}\n", "      min_approvals: 2\n",
			&routing.Approvers{Users: []string{"alice"}, Groups: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if tt.defaults != "" {
				b.WriteString("defaults:\n  production:\n" + tt.defaults)
			}
			b.WriteString("services:\n  - name: core\n    project: ic/core\n    pipeline: core-pipeline\n")
			if tt.service != "" {
				b.WriteString("    production:\n" + tt.service)
			}
			cfg, err := routing.Parse([]byte(b.String()))
			if err != nil {
				t.Fatalf("Parse(%q): %v", b.String(), err)
			}
			if got := cfg.Services[0].Production.Approvers; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("approvers\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestParseApproversErrors checks that a wrong approvers block is refused in
// words that name the line and say what to write.
func TestParseApproversErrors(t *testing.T) {
	const core = "services:\n  - name: core\n    project: ic/core\n    pipeline: core-pipeline\n    production:\n"
	tests := []struct{ name, yaml, want string }{
		{"empty lists", core + "      approvers: {users: [], groups: []}\n",
			"routing file: line 2: services[0] (core): production.approvers names no users and no groups: list whose approvals count, or leave approvers out so that every approval counts"},
		{"empty block from defaults", "defaults:\n  production:\n    approvers: {}\n" + strings.TrimSuffix(core, "    production:\n"),
			"routing file: line 5: services[0] (core): production.approvers names no users and no groups: list whose approvals count, or leave approvers out so that every approval counts"},
		{"username with @", core + "      approvers:\n        users: [\"@alice\"]\n",
			`routing file: line 7: users in services[0] (core).production.approvers: "@alice" is written with @: write the username alone, alice`},
		{"group in users", core + "      approvers:\n        users: [platform/leads]\n",
			`routing file: line 7: users in services[0] (core).production.approvers: "platform/leads" is not a username (a group's path goes in groups)`},
		{"group URL", core + "      approvers:\n        groups: [\"https://gitlab.com/platform\"]\n",
			`routing file: line 7: groups in services[0] (core).production.approvers: "https://gitlab.com/platform" is a URL: write the group's full path, as in platform/leads`},
		{"group with trailing slash", core + "      approvers:\n        groups: [platform/]\n",
			`routing file: line 7: groups in services[0] (core).production.approvers: "platform/" is not a GitLab group's full path (segments of letters, digits, _ . and - joined by /, as in platform/leads)`},
		{"users not a list", core + "      approvers:\n        users: alice\n",
			`routing file: line 7: users in services[0] (core).production.approvers must be a list, as in ["alice"], not "alice"`},
		{"a mapping as a user", core + "      approvers:\n        users:\n          - {name: alice}\n",
			`routing file: line 8: users in services[0] (core).production.approvers: each item must be a GitLab username, not a mapping`},
		{"unknown field", core + "      approvers:\n        user: [alice]\n",
			`routing file: line 7: field user not found in services[0] (core).production.approvers; did you mean users?`},
		{"approvers outside production", strings.TrimSuffix(core, "    production:\n") + "    approvers: {users: [alice]}\n",
			`routing file: line 5: field approvers not found in services[0] (core); it belongs in production`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := routing.Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", cfg)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}
