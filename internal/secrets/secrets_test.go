package secrets

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/testenv"
)

func newTest(t *testing.T, secrets map[string]string) (*secretsmanager.Client, *emulator.SecretsManager) {
	t.Helper()
	emu := emulator.NewSecretsManager(secrets)
	cfg := testenv.AWSStandIn(t, emu)
	return secretsmanager.NewFromConfig(cfg), emu
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestResolveFromEnv(t *testing.T) {
	sm, emu := newTest(t, map[string]string{"pipegate/gitlab": "from-sm"})
	getenv := env(map[string]string{"GITLAB_TOKEN": "from-env", "GITLAB_TOKEN_SECRET_ID": "pipegate/gitlab"})
	v, src, err := Resolve(context.Background(), getenv, sm, "GITLAB_TOKEN", "GITLAB_TOKEN_SECRET_ID")
	if err != nil || v != "from-env" || src != "env:GITLAB_TOKEN" {
		t.Fatalf("got %q, %q, %v", v, src, err)
	}
	if n := emu.Calls("GetSecretValue"); n != 0 {
		t.Fatalf("%d calls to Secrets Manager, want 0", n)
	}
}

func TestResolveFromSecretsManager(t *testing.T) {
	sm, emu := newTest(t, map[string]string{"pipegate/gitlab": "glpat-abc\n"})
	for _, id := range []string{"pipegate/gitlab", emu.ARN("pipegate/gitlab")} {
		v, src, err := Resolve(context.Background(), env(map[string]string{"GITLAB_TOKEN_SECRET_ID": id}), sm, "GITLAB_TOKEN", "GITLAB_TOKEN_SECRET_ID")
		if err != nil || v != "glpat-abc" || src != "secretsmanager:"+id {
			t.Fatalf("id %s: got %q, %q, %v", id, v, src, err)
		}
	}
}

func TestResolveNothingSet(t *testing.T) {
	v, src, err := Resolve(context.Background(), env(nil), nil, "WEBHOOK_SECRET", "WEBHOOK_SECRET_ID")
	if err != nil || v != "" || src != "" {
		t.Fatalf("got %q, %q, %v; want empty and no error", v, src, err)
	}
}

func TestResolveUnknownSecret(t *testing.T) {
	sm, _ := newTest(t, nil)
	_, _, err := Resolve(context.Background(), env(map[string]string{"WEBHOOK_SECRET_ID": "missing"}), sm, "WEBHOOK_SECRET", "WEBHOOK_SECRET_ID")
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "WEBHOOK_SECRET") {
		t.Fatalf("err %v, want ResourceNotFoundException naming WEBHOOK_SECRET", err)
	}
}

func TestResolveFailure(t *testing.T) {
	sm, emu := newTest(t, map[string]string{"s": "v"})
	emu.FailNext("GetSecretValue", 5, emulator.ServerError)
	_, _, err := Resolve(context.Background(), env(map[string]string{"WEBHOOK_SECRET_ID": "s"}), sm, "WEBHOOK_SECRET", "WEBHOOK_SECRET_ID")
	if err == nil {
		t.Fatal("no error while Secrets Manager fails")
	}
}

func TestResolveNoClient(t *testing.T) {
	_, _, err := Resolve(context.Background(), env(map[string]string{"WEBHOOK_SECRET_ID": "s"}), nil, "WEBHOOK_SECRET", "WEBHOOK_SECRET_ID")
	if err == nil {
		t.Fatal("no error without a client")
	}
}

// TestResolveHangIsBounded: a Secrets Manager that never answers costs the
// cold start CallTimeout, not the whole INIT phase.
func TestResolveHangIsBounded(t *testing.T) {
	sm, emu := newTest(t, map[string]string{"s": "v"})
	emu.FailNext("GetSecretValue", 5, emulator.Hang)
	_, _, err := Resolve(context.Background(), env(map[string]string{"WEBHOOK_SECRET_ID": "s"}), sm, "WEBHOOK_SECRET", "WEBHOOK_SECRET_ID")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the read's own deadline exceeded", err)
	}
}

// Read tells an empty secret from one it cannot read.
func TestReadEmpty(t *testing.T) {
	sm, emu := newTest(t, map[string]string{"blank": " \n", "set": "v"})
	if _, err := Read(context.Background(), sm, emu.ARN("blank")); !errors.Is(err, ErrEmpty) {
		t.Errorf("a blank secret: %v, want ErrEmpty", err)
	}
	if v, err := Read(context.Background(), sm, "set"); err != nil || v != "v" {
		t.Errorf("got %q, %v", v, err)
	}
	_, err := Read(context.Background(), sm, "missing")
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || errors.Is(err, ErrEmpty) {
		t.Errorf("a missing secret: %v", err)
	}
}
