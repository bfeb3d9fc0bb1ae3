package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

func TestInvokeSampleEvents(t *testing.T) {
	var out, logs bytes.Buffer
	events := []string{"push.json", "push.json", "tag-push.json", "push-unrouted.json", "bad-token.json"}
	for i, e := range events {
		events[i] = "../../events/" + e
	}
	if err := run(context.Background(), append([]string{"invoke"}, events...), sampleWorld, &out, &logs); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		`← 200 {"result":"started"`,
		`← 200 {"result":"duplicate"`,
		`status "core-pipeline" = pending (ref main)`,
		`status "core-pipeline" = pending (ref v1.4.0)`,
		`← 200 {"result":"ignored"`,
		`← 401 {"result":"refused"`,
		"2 pipeline executions started, 2 commit statuses posted",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(logs.String(), localSecret) {
		t.Error("the webhook secret reached the log")
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"invoke"}, {"invoke", "missing.json"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, noEnv, &out, &out); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestInvokeRefusesBrokenRoutingFile(t *testing.T) {
	getenv := func(k string) string {
		if k == "PIPEGATE_CONFIG" {
			return "testdata/broken.yaml"
		}
		return ""
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"invoke", "../../events/push.json"}, getenv, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("error %v, want one naming line 4", err)
	}
}

// The CodePipeline samples follow the push they belong to: the stand-in hands out
// the execution id they name, so GitLab's statuses move on that push's commit.
func TestInvokePipelineEvents(t *testing.T) {
	var out, logs bytes.Buffer
	events := []string{"push.json", "pipeline-started.json", "stage-build-succeeded.json",
		"action-approval-started.json", "pipeline-succeeded.json", "scheduled.json"}
	for i, e := range events {
		events[i] = "../../events/" + e
	}
	if err := run(context.Background(), append([]string{"invoke"}, events...), sampleWorld, &out, &logs); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		`status "core-pipeline" = pending (ref main)`,
		`ic/core@9c1e4b7d status "core-pipeline" = running (ref main): core-pipeline running`,
		`ic/core@9c1e4b7d status "core-pipeline/Build" = success (ref main): Build succeeded`,
		`← {"result":"gate not waiting"`, // the stand-in runs no stages
		`ic/core@9c1e4b7d status "core-pipeline" = success (ref main): core-pipeline succeeded in 28m 52s`,
		`← {"result":"reconciled"}`,
		"1 pipeline executions started, 4 commit statuses posted",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
