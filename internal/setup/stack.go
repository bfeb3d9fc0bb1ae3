package setup

import (
	"strings"

	"github.com/pipegate/pipegate/internal/routing"
)

// The names template.yaml gives what the set-up commands read of a deployed
// pipegate stack (its Outputs and Parameters).
const (
	DefaultStack         = "pipegate"
	OutputWebhookURL     = "WebhookUrl"
	OutputWebhookSecret  = "WebhookSecretArn"
	OutputGitLabToken    = "GitLabTokenSecretArn"
	ParamPipelineNames   = "PipelineNames"
	ParamGitLabURL       = "GitLabUrl"
	DefaultGitLabURL     = "https://gitlab.com"
	pipelineNamesDivider = ","
)

// Projects are the routed GitLab projects, each once, in the routing file's order.
func Projects(routes *routing.Config) []string { return routes.Projects() }

// GitLabURL is the GitLab the set-up commands call: GITLAB_URL when set, else
// the one the stack's functions call (its GitLabUrl parameter), else gitlab.com.
func GitLabURL(env, stackParam string) string {
	for _, u := range []string{env, stackParam} {
		if u = strings.TrimSuffix(strings.TrimSpace(u), "/"); u != "" {
			return u
		}
	}
	return DefaultGitLabURL
}
