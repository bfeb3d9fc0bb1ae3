package routing

import (
	"slices"
	"strings"
)

// Projects are the routed GitLab projects, each once (GitLab's paths are
// case-insensitive), in the routing file's order.
func (c *Config) Projects() []string {
	var out []string
	for _, s := range c.Services {
		if !slices.ContainsFunc(out, func(p string) bool { return strings.EqualFold(p, s.Project) }) {
			out = append(out, s.Project)
		}
	}
	return out
}
