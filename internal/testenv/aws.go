package testenv

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// AWSStandIn serves an AWS stand-in (internal/emulator) on loopback for the
// test's life and returns an SDK config whose clients call it. Requests are signed
// with dummy credentials, as in AWS.
func AWSStandIn(tb testing.TB, h http.Handler) aws.Config {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return awsConfig(srv.URL)
}

func awsConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDPIPEGATETEST", "secret", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}
