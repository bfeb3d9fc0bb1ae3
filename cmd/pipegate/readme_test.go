package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeCurlWorksAsPrinted: the README's curl line, sent as curl sends it
// to what `pipegate dev` runs, starts the sample pipeline. The line is read from
// the README, so an edit that breaks it fails here.
func TestReadmeCurlWorksAsPrinted(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^\s*(curl .*/webhook.*)$`).FindSubmatch(readme)
	if line == nil {
		t.Fatal("README.md has no curl line for the webhook")
	}
	curl := string(line[1])
	headers := regexp.MustCompile(`-H '([^:]+): ([^']*)'`).FindAllStringSubmatch(curl, -1)
	data := regexp.MustCompile(`--data-binary @(\S+)`).FindStringSubmatch(curl)
	if len(headers) == 0 || data == nil || !strings.Contains(curl, "http://127.0.0.1:8080/webhook") {
		t.Fatalf("the README's curl line is not one this test reads: %s", curl)
	}
	body, err := os.ReadFile(filepath.Join("../..", data[1]))
	if err != nil {
		t.Fatalf("the README's curl line sends %s: %v", data[1], err)
	}

	s, gateWaits, _ := devStackOf(t, sampleWorld, "")
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}} // what curl --data-binary sends
	for _, kv := range headers {
		h.Set(kv[1], kv[2])
	}
	code, ans := send(t, s, h, string(body))
	if code != http.StatusOK || ans.Result != "started" {
		t.Fatalf("the README's curl got %d %+v, want 200 started", code, ans)
	}
	// The run goes on to the production gate, where it waits: stop there.
	waitFor(t, gateWaits, "the production gate")
}
