// Package wire builds pipegate's handlers from the environment docs/environment.md
// describes: the routing file, the secrets, and the adapters over AWS and GitLab.
// The functions (functions/*) and the local tool (cmd/pipegate) both build through
// it; the local tool replaces some parts with its stand-ins (Option). internal/app
// knows none of this: it gets its parts through its interfaces.
package wire

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pipegate/pipegate"
	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/gitlab"
	"github.com/pipegate/pipegate/internal/gitlabhook"
	"github.com/pipegate/pipegate/internal/queue"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/secrets"
	"github.com/pipegate/pipegate/internal/store"
	"github.com/pipegate/pipegate/internal/trace"
)

// NewLogger logs JSON lines to stdout, where Lambda sends them to CloudWatch.
// LOG_LEVEL may be debug, info, warn or error.
func NewLogger(getenv func(string) string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(getenv("LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
}

// Bundled names the routing file embedded in the binaries (pipegate.DefaultRouting).
const Bundled = "bundled pipegate.yaml"

// LoadRouting reads the routing file PIPEGATE_CONFIG names, else the bundled one,
// and says which it read: the path, or Bundled.
func LoadRouting(getenv func(string) string) (cfg *routing.Config, source string, err error) {
	source = getenv("PIPEGATE_CONFIG")
	data := pipegate.DefaultRouting()
	if source != "" {
		b, err := os.ReadFile(source)
		if err != nil {
			return nil, source, fmt.Errorf("read PIPEGATE_CONFIG: %w", err)
		}
		data = b
	} else {
		source = Bundled
	}
	cfg, err = routing.Parse(data)
	if err != nil {
		return nil, source, fmt.Errorf("%s: %w", source, err)
	}
	return cfg, source, nil
}

// ForWebhook builds the webhook function's pipegate from the environment
// docs/environment.md describes. It runs once per cold start: secrets are fetched here,
// not per delivery.
func ForWebhook(ctx context.Context, getenv func(string) string, log *slog.Logger, opts ...Option) (*app.App, error) {
	return fromEnv(ctx, getenv, log, needs{secret: true, queue: true}, opts)
}

// ForRetry builds the retry consumer's pipegate, which needs no webhook secret.
func ForRetry(ctx context.Context, getenv func(string) string, log *slog.Logger, opts ...Option) (*app.App, error) {
	return fromEnv(ctx, getenv, log, needs{}, opts) // it reports failures to SQS instead of queueing
}

// ForPipelineEvents builds the pipeline-events function's pipegate: no webhook
// secret and no retry queue (Lambda's asynchronous retries and its on-failure
// destination play that part).
func ForPipelineEvents(ctx context.Context, getenv func(string) string, log *slog.Logger, opts ...Option) (*app.App, error) {
	return fromEnv(ctx, getenv, log, needs{hooks: true}, opts)
}

// needs says which optional parts a function uses.
type needs struct {
	secret bool // the webhook's secret token
	queue  bool // the retry queue
	hooks  bool // the reconciler's watch of pipegate's webhooks (hookhealth.go)
}

// Option gives a part the local tool supplies (its stand-ins) instead of the one
// the environment would give.
type Option func(*given)

// given are the parts Options supply; nil or false: from the environment.
type given struct {
	routes   *routing.Config
	secret   *string
	aws      *aws.Config
	gitlab   app.GitLab
	inMemory bool
}

// Routes runs r instead of the routing file PIPEGATE_CONFIG names.
func Routes(r *routing.Config) Option { return func(g *given) { g.routes = r } }

// Secret is the webhook's secret token, instead of WEBHOOK_SECRET or WEBHOOK_SECRET_ID.
func Secret(s string) Option { return func(g *given) { g.secret = &s } }

// AWS builds the AWS clients from cfg, as it is (untraced), instead of the default
// configuration.
func AWS(cfg aws.Config) Option { return func(g *given) { g.aws = &cfg } }

// GitLab calls gl instead of the GitLab at GITLAB_URL with GITLAB_TOKEN.
func GitLab(gl app.GitLab) Option { return func(g *given) { g.gitlab = gl } }

// InMemory keeps everything in the in-memory store and queues nothing, whatever
// TABLE_NAME and RETRY_QUEUE_URL say: one process, local use.
func InMemory() Option { return func(g *given) { g.inMemory = true } }

func fromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger, need needs, opts []Option) (*app.App, error) {
	var g given
	for _, o := range opts {
		o(&g)
	}
	routes := g.routes
	if routes == nil {
		var err error
		if routes, _, err = LoadRouting(getenv); err != nil {
			return nil, err
		}
	}
	var awsCfg aws.Config
	if g.aws != nil {
		awsCfg = *g.aws
	} else {
		var err error
		if awsCfg, err = config.LoadDefaultConfig(ctx); err != nil {
			return nil, fmt.Errorf("load AWS config: %w", err)
		}
		trace.AWS(&awsCfg)
	}

	var sm secrets.Getter
	if getenv(webhookSecretIDVar) != "" || getenv(gitlabTokenIDVar) != "" || getenv(signingSecretIDVar) != "" {
		sm = secretsmanager.NewFromConfig(awsCfg)
	}
	var secret, signing string
	switch {
	case g.secret != nil:
		secret = *g.secret
	case need.secret:
		var err error
		secret, err = resolve(ctx, getenv, sm, log, webhookSecretVar, webhookSecretIDVar,
			"every webhook delivery will be refused with 401")
		if err != nil {
			return nil, err
		}
		if signing, err = signingSecret(ctx, getenv, sm, log); err != nil {
			return nil, err
		}
	}
	a := &app.App{
		Routes:        routes,
		Secret:        secret,
		SigningSecret: signing,
		Pipelines:     codepipeline.New(awsCfg),
		GitLab:        g.gitlab,
		Log:           log,
	}
	var gitlabURL string
	if g.gitlab == nil {
		gl, u, err := gitlabFromEnv(ctx, getenv, sm, log)
		if err != nil {
			return nil, err
		}
		a.GitLab, gitlabURL = gl, u
	}
	switch table := getenv("TABLE_NAME"); {
	case g.inMemory:
		a.Store = store.NewMemory()
	case table != "":
		a.Store = store.NewDynamoFromConfig(awsCfg, table)
	default:
		log.Warn("TABLE_NAME not set: using the in-memory store (one process, local use only)")
		a.Store = store.NewMemory()
	}
	switch url := getenv("RETRY_QUEUE_URL"); {
	case g.inMemory || !need.queue:
	case url != "":
		a.Queue = queue.New(awsCfg, url)
	default:
		log.Warn("RETRY_QUEUE_URL not set: work that fails against AWS or GitLab is answered with 503")
	}
	if need.hooks {
		a.HookHealth = hookHealth(getenv, awsCfg, a.GitLab)
	}
	if len(opts) == 0 { // a function's start; the local tool says itself what it runs
		log.Info("pipegate ready", "services", len(routes.Services), "gitlab_url", gitlabURL,
			"region", awsCfg.Region, "store", storeKind(getenv), "retry_queue", a.Queue != nil)
	}
	return a, nil
}

// gitlabFromEnv is the GitLab at GITLAB_URL (default gitlab.com), called with the
// token of GITLAB_TOKEN or GITLAB_TOKEN_SECRET_ID, traced.
func gitlabFromEnv(ctx context.Context, getenv func(string) string, sm secrets.Getter, log *slog.Logger) (*gitlab.Client, string, error) {
	token, err := resolve(ctx, getenv, sm, log, gitlabTokenVar, gitlabTokenIDVar,
		"commit statuses and compare calls will fail and go to the retry queue")
	if err != nil {
		return nil, "", err
	}
	gitlabURL := strings.TrimSuffix(getenv("GITLAB_URL"), "/")
	if gitlabURL == "" {
		gitlabURL = "https://gitlab.com"
	}
	gl, err := gitlab.New(gitlabURL, token, trace.HTTPClient(nil))
	if err != nil {
		return nil, "", fmt.Errorf("GitLab client for %s: %w", gitlabURL, err)
	}
	return gl, gitlabURL, nil
}

// The variables that give each secret: its value (local use) or, in AWS, the id
// of the Secrets Manager secret that holds it. docs/environment.md names them and
// template.yaml sets the ids; internal/e2e's TestAsDeployed fails when the two disagree.
const (
	webhookSecretVar   = "WEBHOOK_SECRET"
	webhookSecretIDVar = "WEBHOOK_SECRET_ID"
	gitlabTokenVar     = "GITLAB_TOKEN"
	gitlabTokenIDVar   = "GITLAB_TOKEN_SECRET_ID"
	signingSecretVar   = "WEBHOOK_SIGNING_SECRET"
	signingSecretIDVar = "WEBHOOK_SIGNING_SECRET_ID"
)

// signingSecret reads the optional signing secret (whsec_<base64>). Unlike the
// token its absence is no fault: deliveries are then not signed. A malformed one
// is kept, so that every delivery is refused (fail closed), and said here once.
func signingSecret(ctx context.Context, getenv func(string) string, sm secrets.Getter, log *slog.Logger) (string, error) {
	v, source, err := secrets.Resolve(ctx, getenv, sm, signingSecretVar, signingSecretIDVar)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", signingSecretVar, err)
	}
	if v == "" {
		return "", nil
	}
	if _, err := gitlabhook.SigningKey(v); err != nil {
		log.Error("secret malformed", "variable", signingSecretVar, "source", source,
			"reason", "want whsec_ followed by base64", "consequence", "every webhook delivery will be refused with 401")
		return v, nil
	}
	log.Info("secret loaded", "variable", signingSecretVar, "source", source, "consequence", "deliveries must be signed")
	return v, nil
}

// resolve reads one secret and says in the log when it is missing, naming both
// variables that could have given it.
func resolve(ctx context.Context, getenv func(string) string, sm secrets.Getter, log *slog.Logger, name, idVar, consequence string) (string, error) {
	v, source, err := secrets.Resolve(ctx, getenv, sm, name, idVar)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	if v == "" {
		log.Error("secret missing", "variable", name, "alternative", idVar, "consequence", consequence)
		return "", nil
	}
	log.Info("secret loaded", "variable", name, "source", source)
	return v, nil
}

func storeKind(getenv func(string) string) string {
	if getenv("TABLE_NAME") != "" {
		return "dynamodb"
	}
	return "memory"
}
