package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A --merge-requests file naming a project the routing file does not route (or a
// numeric project id) must be refused with an error, not crash pipegate dev: the
// embedded GitLab's AddMergeRequest panics on a project it does not know.
func TestDevMergeRequestsOfUnroutedProjectAreRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mrs.yaml")
	if err := os.WriteFile(file, []byte("- project: ic/unrouted\n  iid: 7\n  state: merged\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
				t.Errorf("pipegate dev --merge-requests with an unrouted project panicked instead of returning an error: %v", r)
			}
		}()
		err = dev(ctx, []string{"--listen", "127.0.0.1:0", "--merge-requests", file}, sampleWorld, &out, io.Discard)
	}()
	if err == nil {
		t.Fatalf("dev accepted a merge request of an unknown project; output:\n%s", out.String())
	}
}

// validate must fail when template.yaml no longer grants the webhook
// codepipeline:StartPipelineExecution on the routed pipelines: the README says it
// checks "that template.yaml grants what it needs (every pipeline, ...)", and a
// deployed webhook would get AccessDenied on every push.
func TestValidateFlagsMissingGrants(t *testing.T) {
	for _, tc := range []struct{ name, from, to string }{
		{"StartPipelineExecution", "Action: codepipeline:StartPipelineExecution", "Action: codepipeline:ListPipelines"},
		{"GetPipelineState", "- codepipeline:GetPipelineState", "- codepipeline:ListPipelines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A team's files that agree (validate_test.go), with the grant gone.
			dir := teamCopy(t)
			tpl, err := os.ReadFile(filepath.Join(dir, "template.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(tpl, []byte(tc.from)) {
				t.Fatalf("template.yaml has no %q", tc.from)
			}
			broken := strings.ReplaceAll(string(tpl), tc.from, tc.to)
			if err := os.WriteFile(filepath.Join(dir, "template.yaml"), []byte(broken), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err = validateCmd([]string{"--template", filepath.Join(dir, "template.yaml")}, noEnv, &out, io.Discard)
			if err == nil || !strings.Contains(out.String(), "may not call codepipeline:"+tc.name+" on ") {
				t.Errorf("validate (%v) did not say the template no longer grants %s:\n%s", err, tc.name, out.String())
			}
		})
	}
}
