package routing

import (
	"fmt"
	"strings"
)

// Environments are the GitLab environments of one service's deployments
// (docs/environments.md).
type Environments struct {
	Staging    string // the staging stage's deployments
	Production string // the production stage's deployments
}

type rawEnvironments struct {
	Staging    string `yaml:"staging"`
	Production string `yaml:"production"`
}

// The names GitLab gives environments a project has one service for.
const (
	defaultStagingEnvironment    = "staging"
	defaultProductionEnvironment = "production"
)

// Environment is the GitLab environment the deployments of stage go to, and
// whether stage deploys at all (the staging or the production stage of a
// service that Parse named environments for).
func (s Service) Environment(stage string) (string, bool) {
	switch {
	case stage == "":
		return "", false
	case stage == s.StagingStage:
		return s.Environments.Staging, s.Environments.Staging != ""
	case stage == s.Production.Stage:
		return s.Environments.Production, s.Environments.Production != ""
	}
	return "", false
}

// setEnvironments names each service's environments: its own, else "staging"
// and "production" when it is its project's only service, else
// "<service>/staging" and "<service>/production" (a monorepo's services deploy
// side by side, and GitLab groups the environments by the part before "/").
// Two services of one project may not share an environment: their deployments
// would interleave in one history.
func setEnvironments(cfg *Config, raw []rawService, at []block) error {
	perProject := map[string]int{}
	for _, s := range cfg.Services {
		perProject[strings.ToLower(s.Project)]++
	}
	type owner struct {
		service string
		line    int
	}
	taken := map[string]owner{} // project + "\x00" + environment
	for i := range cfg.Services {
		s := &cfg.Services[i]
		var r rawEnvironments
		if raw[i].Environments != nil {
			r = *raw[i].Environments
		}
		prefix := ""
		if perProject[strings.ToLower(s.Project)] > 1 {
			prefix = s.Name + "/"
		}
		s.Environments = Environments{
			Staging:    first(r.Staging, prefix+defaultStagingEnvironment),
			Production: first(r.Production, prefix+defaultProductionEnvironment),
		}
		b := at[i]
		for _, e := range []struct{ field, name string }{
			{"staging", s.Environments.Staging}, {"production", s.Environments.Production},
		} {
			if why := environmentProblem(e.name); why != "" {
				return fmt.Errorf("line %d: %s: environments.%s %q %s", b.line, b.label, e.field, e.name, why)
			}
		}
		if s.Environments.Staging == s.Environments.Production {
			return fmt.Errorf("line %d: %s: environments.staging and environments.production are both %q: GitLab would show staging's deployments as production's",
				b.line, b.label, s.Environments.Staging)
		}
		for _, e := range []string{s.Environments.Staging, s.Environments.Production} {
			k := strings.ToLower(s.Project) + "\x00" + e
			if prev, ok := taken[k]; ok {
				return fmt.Errorf("line %d: %s: environment %q of project %s is already the service %s's (line %d); name another in environments",
					b.line, b.label, e, s.Project, prev.service, prev.line)
			}
			taken[k] = owner{s.Name, b.line}
		}
	}
	return nil
}

// maxEnvironmentName is GitLab's limit on an environment's name.
const maxEnvironmentName = 255

// environmentProblem says why GitLab would refuse name as an environment's
// name, or "": letters, digits, spaces and - _ / $ { } . only, not starting
// or ending with "/" (GitLab's environment name rule).
func environmentProblem(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "is empty"
	case len(name) > maxEnvironmentName:
		return fmt.Sprintf("is longer than GitLab's %d characters", maxEnvironmentName)
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/"):
		return `may not start or end with "/"`
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_/${}. ", r):
		default:
			return fmt.Sprintf("has %q: GitLab allows only letters, digits, spaces and - _ / $ { } . in an environment's name", r)
		}
	}
	return ""
}
