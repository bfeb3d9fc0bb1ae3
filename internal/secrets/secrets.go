// Package secrets reads a secret from the environment or from AWS Secrets Manager,
// once per cold start.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// CallTimeout bounds one read from Secrets Manager. Secrets are read during a
// function's INIT, which Lambda cuts off after 10 s; two reads that hang must
// leave room for the rest of the start.
const CallTimeout = 3 * time.Second

// Getter is the part of *secretsmanager.Client that Resolve uses.
type Getter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Resolve returns the secret called name: the variable name itself when set (source
// "env:NAME", for local use), else the Secrets Manager secret whose id (name or
// ARN) is in the variable idVar (source "secretsmanager:<id>"), else "" with no
// error, and the caller fails closed. sm is only used when idVar is set, so it may
// be nil otherwise.
func Resolve(ctx context.Context, getenv func(string) string, sm Getter, name, idVar string) (value, source string, err error) {
	if v := getenv(name); v != "" {
		return v, "env:" + name, nil
	}
	id := getenv(idVar)
	if id == "" {
		return "", "", nil
	}
	source = "secretsmanager:" + id
	if sm == nil {
		return "", source, fmt.Errorf("read %s from secret %s: no Secrets Manager client", name, id)
	}
	v, err := Read(ctx, sm, id)
	if err != nil {
		return "", source, fmt.Errorf("read %s from secret %s: %w", name, id, err)
	}
	return v, source, nil
}

// ErrEmpty is wrapped into Read's error for a secret that holds no value.
var ErrEmpty = errors.New("the secret is empty")

// Read returns the value of the Secrets Manager secret id (name or ARN), within
// CallTimeout. A secret without a SecretString, or one of only spaces, is an error.
func Read(ctx context.Context, sm Getter, id string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", err
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("%w: it has no SecretString", ErrEmpty)
	}
	// A secret created from a file (--secret-string file://token) keeps the file's
	// trailing newline; tokens never carry surrounding spaces, so trim them.
	v := strings.TrimSpace(*out.SecretString)
	if v == "" {
		return "", ErrEmpty
	}
	return v, nil
}
