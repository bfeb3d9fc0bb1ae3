package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/app"
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
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/webhook", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // what curl --data-binary sends
	for _, h := range headers {
		req.Header.Set(h[1], h[2])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans app.Answer
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || ans.Result != "started" {
		t.Fatalf("the README's curl got %d %+v, want 200 started", resp.StatusCode, ans)
	}
	// The run goes on to the production gate, where it waits: stop there.
	waitFor(t, gateWaits, "the production gate")
}
