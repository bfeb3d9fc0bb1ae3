package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// awsStandIns serves AWS stand-ins (internal/emulator) behind one loopback
// endpoint, each request to the one its protocol names (X-Amz-Target's prefix,
// else the query protocol's Action), and returns what loadAWS would: a
// configuration whose clients call them, with credentials and a region.
func awsStandIns(t *testing.T, byTarget map[string]http.Handler, query http.Handler) func(context.Context) (aws.Config, error) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if prefix, _, ok := strings.Cut(r.Header.Get("X-Amz-Target"), "."); ok {
			if h := byTarget[prefix]; h != nil {
				h.ServeHTTP(w, r)
				return
			}
		} else if query != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			query.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		t.Errorf("no stand-in for %s %s %q", r.Header.Get("X-Amz-Target"), r.URL, bytes.TrimSpace(body))
		http.Error(w, "no stand-in", http.StatusNotImplemented)
	}))
	t.Cleanup(srv.Close)
	return func(context.Context) (aws.Config, error) {
		return aws.Config{
			Region:       "eu-west-1",
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDPIPEGATETEST", "secret", ""),
			BaseEndpoint: aws.String(srv.URL),
		}, nil
	}
}

// cliWith runs one command line with the AWS configuration loadAWS gives.
func cliWith(t *testing.T, getenv func(string) string, loadAWS func(context.Context) (aws.Config, error), args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	err := runEnv(context.Background(), args, &env{getenv: getenv, stdout: &out, stderr: &errs, loadAWS: loadAWS})
	return exitCode(err, &errs), out.String(), errs.String()
}
