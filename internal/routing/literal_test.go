package routing

import "testing"

func TestLiteral(t *testing.T) {
	for glob, want := range map[string]bool{
		"main": true, "release/1.x": true, "hotfix-2": true, "": false,
		"release/*": false, "v?": false, "[ab]": false, "{a,b}": false, `a\*`: false, "**": false,
	} {
		if got := Literal(glob); got != want {
			t.Errorf("Literal(%q) = %v, want %v", glob, got, want)
		}
	}
}

func TestWatched(t *testing.T) {
	cfg, err := Parse([]byte(`
defaults:
  branches: ["main", "release/*"]
services:
  - {name: billing, project: ic/platform, pipeline: billing-p, paths: ["billing/**"]}
  - {name: search, project: IC/Platform, pipeline: search-p, branches: ["main", "stable"]}
  - {name: core, project: "42", pipeline: core-p, branches: []}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Watched()
	want := []struct {
		project, branch string
		services        []string
	}{
		{"ic/platform", "main", []string{"billing", "search"}},
		{"IC/Platform", "stable", []string{"search"}},
	}
	if len(got) != len(want) {
		t.Fatalf("watched %+v, want %d branches", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		var names []string
		for _, s := range g.Services {
			names = append(names, s.Name)
		}
		if g.Project != w.project || g.Branch != w.branch || len(names) != len(w.services) || names[0] != w.services[0] {
			t.Errorf("watched[%d] = %s %s %v, want %+v", i, g.Project, g.Branch, names, w)
		}
	}
	if w := cfg.WatchedOf("IC/PLATFORM", 44, "main"); len(w) != 1 || w[0].Project != "ic/platform" {
		t.Errorf("WatchedOf main = %+v", w)
	}
	for _, b := range []string{"release/1", "dev"} {
		if w := cfg.WatchedOf("ic/platform", 44, b); len(w) != 0 {
			t.Errorf("%s is watched: %+v", b, w)
		}
	}
}
