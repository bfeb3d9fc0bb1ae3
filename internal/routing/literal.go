package routing

import (
	"slices"
	"strings"
)

// Literal reports whether glob names one branch: it has none of doublestar's
// special characters, so it matches exactly the name it spells.
func Literal(glob string) bool { return glob != "" && !strings.ContainsAny(glob, `*?[]{}\`) }

// Watched is a branch the reconciler reads the head of, with the services that
// deploy it.
type Watched struct {
	Project, Branch string // the project as the routing file names it
	Services        []Service
}

// Watched lists each branch that a service's `branches` names literally, once
// per project, in the routing file's order. A glob names no branch to read, and
// a service without `branches` deploys the project's default branch, whose name
// only a delivery tells; neither is watched.
func (c *Config) Watched() []Watched {
	var out []Watched
	for _, s := range c.Services {
		for _, b := range s.Branches {
			if !Literal(b) {
				continue
			}
			i := slices.IndexFunc(out, func(w Watched) bool { return strings.EqualFold(w.Project, s.Project) && w.Branch == b })
			if i < 0 {
				out = append(out, Watched{Project: s.Project, Branch: b})
				i = len(out) - 1
			}
			out[i].Services = append(out[i].Services, s)
		}
	}
	return out
}

// WatchedOf are the watched branches that a push to branch of the project named
// by path (any case) or id is to: one, unless the routing file names the project
// both by path and by id, and then the push is known under each name.
func (c *Config) WatchedOf(path string, id int64, branch string) []Watched {
	var out []Watched
	for _, w := range c.Watched() {
		if w.Branch == branch && w.Services[0].InProject(path, id) {
			out = append(out, w)
		}
	}
	return out
}
