package routing

import (
	"testing"

	"github.com/bmatcuk/doublestar/v4"
)

// globProblem gives a reason exactly when doublestar refuses a glob.
func TestGlobProblemAgreesWithDoublestar(t *testing.T) {
	for _, g := range []string{
		"", "main", "release/*", "**/*.go", "v[0-9]*", "[!a]", "[^a]", `\[literal`, `a\`, "[", "[]", "[!]", "[a",
		`[\]]`, `[a\`, "{a,b}", "{a,{b,c}}", "{a", "a}", "{a}}", "}{", `\{`, `\}`, "[{]", "[}]", "x[]y", "{[}]",
	} {
		valid := doublestar.ValidatePattern(g)
		if why := globProblem(g); (why == "") != valid {
			t.Errorf("glob %q: ValidatePattern %v, globProblem %q", g, valid, why)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"name", "project", "pipeline", "source_action", "branches", "tags", "paths", "staging_stage", "production"}
	for _, tc := range []struct{ typed, want string }{
		{"pipline", "pipeline"},
		{"Pipeline", "pipeline"},
		{"branch", "branches"},
		{"tgas", "tags"},
		{"sourceaction", "source_action"},
		{"source-action", "source_action"},
		{"stagingstage", "staging_stage"},
		{"prod", "production"}, // contained in it
		{"tag", "tags"},
		{"url", ""},
		{"colour", ""},
		{"nam", "name"},
		{"stage", "staging_stage"}, // contained in it
	} {
		if got := suggest(tc.typed, known); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.typed, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "ab", 2}, {"tags", "tgas", 1}, {"pipline", "pipeline", 1},
		{"kitten", "sitting", 3}, {"branch", "branches", 2},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
