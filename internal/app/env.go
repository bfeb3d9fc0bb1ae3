package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pipegate/pipegate"
	"github.com/pipegate/pipegate/internal/codepipeline"
	"github.com/pipegate/pipegate/internal/gitlab"
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

// LoadRoutes reads the routing file PIPEGATE_CONFIG names, else the bundled one.
func LoadRoutes(getenv func(string) string) (*routing.Config, error) {
	path := getenv("PIPEGATE_CONFIG")
	data := pipegate.DefaultRouting()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read PIPEGATE_CONFIG: %w", err)
		}
		data = b
	} else {
		path = "bundled pipegate.yaml"
	}
	cfg, err := routing.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ForWebhook builds the webhook function's pipegate from the environment
// docs/environment.md describes. It runs once per cold start: secrets are fetched here,
// not per delivery.
func ForWebhook(ctx context.Context, getenv func(string) string, log *slog.Logger) (*App, error) {
	return fromEnv(ctx, getenv, log, needs{secret: true, queue: true})
}

// ForRetry builds the retry consumer's pipegate, which needs no webhook secret.
func ForRetry(ctx context.Context, getenv func(string) string, log *slog.Logger) (*App, error) {
	return fromEnv(ctx, getenv, log, needs{}) // it reports failures to SQS instead of queueing
}

// ForPipelineEvents builds the pipeline-events function's pipegate: no webhook
// secret and no retry queue (Lambda's asynchronous retries and its on-failure
// destination play that part).
func ForPipelineEvents(ctx context.Context, getenv func(string) string, log *slog.Logger) (*App, error) {
	return fromEnv(ctx, getenv, log, needs{})
}

// needs says which optional parts a function uses.
type needs struct {
	secret bool // the webhook's secret token
	queue  bool // the retry queue
}

func fromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger, need needs) (*App, error) {
	routes, err := LoadRoutes(getenv)
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	trace.AWS(&awsCfg)

	var sm secrets.Getter
	if getenv(webhookSecretIDVar) != "" || getenv(gitlabTokenIDVar) != "" {
		sm = secretsmanager.NewFromConfig(awsCfg)
	}
	var secret string
	if need.secret {
		secret, err = resolve(ctx, getenv, sm, log, webhookSecretVar, webhookSecretIDVar,
			"every webhook delivery will be refused with 401")
		if err != nil {
			return nil, err
		}
	}
	token, err := resolve(ctx, getenv, sm, log, gitlabTokenVar, gitlabTokenIDVar,
		"commit statuses and compare calls will fail and go to the retry queue")
	if err != nil {
		return nil, err
	}
	gitlabURL := strings.TrimSuffix(getenv("GITLAB_URL"), "/")
	if gitlabURL == "" {
		gitlabURL = "https://gitlab.com"
	}
	gl, err := gitlab.New(gitlabURL, token, trace.HTTPClient(nil))
	if err != nil {
		return nil, fmt.Errorf("GitLab client for %s: %w", gitlabURL, err)
	}

	a := &App{
		Routes:    routes,
		Secret:    secret,
		Pipelines: codepipeline.New(awsCfg),
		GitLab:    gl,
		Log:       log,
	}
	if table := getenv("TABLE_NAME"); table != "" {
		a.Store = store.NewDynamoFromConfig(awsCfg, table)
	} else {
		log.Warn("TABLE_NAME not set: using the in-memory store (one process, local use only)")
		a.Store = store.NewMemory()
	}
	if url := getenv("RETRY_QUEUE_URL"); url != "" && need.queue {
		a.Queue = queue.New(awsCfg, url)
	} else if need.queue {
		log.Warn("RETRY_QUEUE_URL not set: work that fails against AWS or GitLab is answered with 503")
	}
	log.Info("pipegate ready", "services", len(routes.Services), "gitlab_url", gitlabURL,
		"region", awsCfg.Region, "store", storeKind(getenv), "retry_queue", a.Queue != nil)
	return a, nil
}

// The variables that give each secret: its value (local use) or, in AWS, the id
// of the Secrets Manager secret that holds it. docs/environment.md names them and
// template.yaml sets the ids; internal/e2e's TestAsDeployed fails when the two disagree.
const (
	webhookSecretVar   = "WEBHOOK_SECRET"
	webhookSecretIDVar = "WEBHOOK_SECRET_ID"
	gitlabTokenVar     = "GITLAB_TOKEN"
	gitlabTokenIDVar   = "GITLAB_TOKEN_SECRET_ID"
)

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
