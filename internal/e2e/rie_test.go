//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/testenv"
)

const (
	// readyTimeout bounds the wait for the emulator to accept connections; it
	// listens within milliseconds of starting.
	readyTimeout = 15 * time.Second
	// invokeTimeout bounds one invocation; the first one includes the INIT phase.
	invokeTimeout = 30 * time.Second
	// stopTimeout is how long the emulator gets to stop its runtime on SIGTERM.
	stopTimeout = 5 * time.Second
)

// binaries are the executables one test run built.
type binaries struct {
	rie            string // the emulator, for this host
	webhook        string // functions/webhook as DIR/webhook/bootstrap
	retry          string // functions/retry as DIR/retry/bootstrap
	pipelineEvents string // functions/pipeline-events as DIR/pipeline-events/bootstrap
}

// buildAll builds the three functions and the emulator in parallel into a
// temporary directory; builds dominate the test's time.
func buildAll(t *testing.T, root string) binaries {
	t.Helper()
	dir := t.TempDir()
	b := binaries{
		rie:            filepath.Join(dir, "aws-lambda-rie"),
		webhook:        filepath.Join(dir, "webhook", "bootstrap"),
		retry:          filepath.Join(dir, "retry", "bootstrap"),
		pipelineEvents: filepath.Join(dir, "pipeline-events", "bootstrap"),
	}
	// GOARCH is the host's so that the Linux bootstrap runs here.
	lambda := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH}
	host := []string{"CGO_ENABLED=0", "GOOS=" + runtime.GOOS, "GOARCH=" + runtime.GOARCH}
	jobs := []struct {
		env  []string
		args []string
	}{
		{lambda, []string{"-tags", "lambda.norpc", "-o", b.webhook, "./functions/webhook"}},
		{lambda, []string{"-tags", "lambda.norpc", "-o", b.retry, "./functions/retry"}},
		{lambda, []string{"-tags", "lambda.norpc", "-o", b.pipelineEvents, "./functions/pipeline-events"}},
		{host, []string{"-o", b.rie, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"}},
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { errs[i] = goBuild(root, j.env, j.args) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return b
}

func goBuild(root string, env, args []string) error {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s (%s): %w\n%s", strings.Join(args, " "), strings.Join(env, " "), err, out)
	}
	return nil
}

// repoRoot walks up from the package directory to the one holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("find repo root: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("find repo root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// function is one Lambda function running under its own emulator.
type function struct {
	name   string
	invoke string // the emulator's invocation URL
	out    *testenv.Buffer
}

// startFunction runs bootstrap under the emulator with exactly env as the
// environment (the emulator passes its own environment on to the function) and
// stops it when the test ends.
func startFunction(t *testing.T, name, rie, bootstrap string, env []string) *function {
	t.Helper()
	// A free port can be taken by someone else before the emulator binds it; it
	// then exits at once, and other ports are tried.
	var errs []error
	for range 3 {
		f, err := tryStart(t, name, rie, bootstrap, env)
		if err == nil {
			return f
		}
		errs = append(errs, err)
		if !errors.Is(err, errExited) {
			break
		}
	}
	t.Fatalf("start %s under the emulator: %v", name, errors.Join(errs...))
	return nil
}

var errExited = errors.New("exited before accepting connections")

func tryStart(t *testing.T, name, rie, bootstrap string, env []string) (*function, error) {
	invokeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	f := &function{
		name:   name,
		invoke: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations",
		out:    &testenv.Buffer{},
	}
	// Both addresses always: without --runtime-api-address the emulator binds
	// 127.0.0.1:9001, and two emulators collide. --log-level keeps the emulator
	// at info whatever the function's LOG_LEVEL is.
	cmd := exec.Command(rie,
		"--log-level", "info",
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", apiAddr,
		"./bootstrap")
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f.out, f.out
	// The function inherits the emulator's output; should it outlive the emulator,
	// Wait still returns.
	cmd.WaitDelay = stopTimeout
	// The kernel kills the emulator if the test binary dies (a timeout panic skips
	// t.Cleanup); the function then exits as its Runtime API connection breaks.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that started the child
		// ends: keep that thread, locked, until the child has exited.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", rie, err)
	}
	stop := func() {
		// SIGTERM lets the emulator stop the function's process too.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	deadline := time.Now().Add(readyTimeout)
	for {
		conn, err := net.DialTimeout("tcp", invokeAddr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("emulator did not accept connections on %s within %v:\n%s", invokeAddr, readyTimeout, f.out)
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("emulator on %s %w:\n%s", invokeAddr, errExited, f.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, f.out)
		}
	})
	return f, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// call invokes the function with event and decodes its return value into out.
func (f *function) call(t *testing.T, event []byte, out any) {
	t.Helper()
	client := &http.Client{Timeout: invokeTimeout}
	resp, err := client.Post(f.invoke, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatalf("invoke %s: %v", f.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("invoke %s: read response: %v", f.name, err)
	}
	// A function error comes back as {"errorMessage":...}, which would decode
	// into out as zero values: refuse it here.
	var fnErr struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	_ = json.Unmarshal(body, &fnErr)
	if resp.StatusCode != http.StatusOK || fnErr.ErrorMessage != "" || fnErr.ErrorType != "" {
		t.Fatalf("invoke %s: emulator answered %s: %s", f.name, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("invoke %s: decode %s: %v", f.name, body, err)
	}
}

// Lines the emulator itself writes, around the function's own output:
// "27 Nov 2026 11:43:25,864 [INFO] (rapid) ..." and the START/END/REPORT lines.
var emulatorLine = regexp.MustCompile(`^\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2},\d{3} \[\w+\] \(rapid\) |^(START|END|REPORT) RequestId: `)

// functionLogs returns the function's log records: every line that is not the
// emulator's. It fails the test for a line that is not a log/slog JSON record.
func (f *function) functionLogs(t *testing.T) []map[string]any {
	t.Helper()
	var records []map[string]any
	for line := range strings.Lines(f.out.String()) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || emulatorLine.MatchString(line) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("%s wrote a line that is not JSON: %q", f.name, line)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if s, _ := rec[k].(string); s == "" {
				t.Errorf("%s log record without %q: %s", f.name, k, line)
			}
		}
		records = append(records, rec)
	}
	return records
}

var (
	// initReport is the emulator's platform.initReport: how long the function's
	// INIT phase (start-up before its first invocation) took.
	initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	// reportInit is the "Init Duration" of the first REPORT line. The emulator
	// measures it around an asynchronous call, so it is not the INIT phase.
	reportInit = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)
)

// initDuration is the INIT duration the emulator reported, in milliseconds.
func (f *function) initDuration() (ms float64, ok bool) {
	m := initReport.FindStringSubmatch(f.out.String())
	if m == nil {
		return 0, false
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	return ms, err == nil
}

// reportInitDuration is the REPORT line's "Init Duration", in milliseconds.
func (f *function) reportInitDuration() (ms float64, ok bool) {
	m := reportInit.FindStringSubmatch(f.out.String())
	if m == nil {
		return 0, false
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	return ms, err == nil
}
