package emulator

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

func TestSecretsManagerGetSecretValue(t *testing.T) {
	emu := NewSecretsManager(map[string]string{"pipegate/webhook": "s3cret"})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	api := secretsmanager.NewFromConfig(awsTestConfig(srv))
	ctx := context.Background()

	for _, id := range []string{"pipegate/webhook", emu.ARN("pipegate/webhook")} {
		out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.SecretString) != "s3cret" || aws.ToString(out.Name) != "pipegate/webhook" ||
			aws.ToString(out.ARN) != emu.ARN("pipegate/webhook") || out.CreatedDate == nil {
			t.Fatalf("id %s: %+v", id, out)
		}
	}

	_, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || nf.ErrorMessage() != "Secrets Manager can't find the specified secret." {
		t.Fatalf("unknown secret: %v", err)
	}

	emu.FailNext("GetSecretValue", 1, Unavailable)
	_, err = api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("pipegate/webhook")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" {
		t.Fatalf("fault: %v", err)
	}
	if n := emu.Calls("GetSecretValue"); n != 4 {
		t.Fatalf("%d calls, want 4", n)
	}
}

func TestSecretsManagerAddSecret(t *testing.T) {
	emu := NewSecretsManager(nil)
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:GitLabTokenSecret-1A2B3C4D5E6F-xYz123"
	if err := emu.AddSecret(arn, "glpat-x"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"GitLabTokenSecret", "arn:aws:sqs:eu-west-1:123456789012:q", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:noSuffix"} {
		if err := emu.AddSecret(bad, "v"); err == nil {
			t.Errorf("AddSecret(%q): no error", bad)
		}
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	api := secretsmanager.NewFromConfig(awsTestConfig(srv))
	if got := emu.ARN("GitLabTokenSecret-1A2B3C4D5E6F"); got != arn {
		t.Errorf("ARN = %s, want %s", got, arn)
	}
	for _, id := range []string{arn, "GitLabTokenSecret-1A2B3C4D5E6F"} {
		out, err := api.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatalf("id %s: %v", id, err)
		}
		if aws.ToString(out.SecretString) != "glpat-x" || aws.ToString(out.ARN) != arn || aws.ToString(out.Name) != "GitLabTokenSecret-1A2B3C4D5E6F" {
			t.Errorf("id %s: %+v", id, out)
		}
	}
}
