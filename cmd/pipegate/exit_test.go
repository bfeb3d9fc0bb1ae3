package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// cli runs one command line as main does and returns its exit status and output.
func cli(t *testing.T, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = exitCode(run(context.Background(), args, getenv, &out, &errs), &errs)
	return code, out.String(), errs.String()
}

// oneLineOn checks that stderr is exactly one line saying what it must.
func oneLineOn(t *testing.T, stderr string, want ...string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
}

// Every command prints its usage on stdout and exits 0 for -h, --help and help X.
func TestHelpOfEveryCommand(t *testing.T) {
	for _, c := range commands() {
		for _, args := range [][]string{{c.name, "-h"}, {c.name, "--help"}, {"help", c.name}, {c.name, "--help", "extra"}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				code, out, errs := cli(t, noEnv, args...)
				if code != 0 || errs != "" {
					t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errs)
				}
				if !strings.HasPrefix(out, "usage: pipegate "+c.name) || !strings.Contains(out, "-h, --help") {
					t.Errorf("stdout is not %s's usage:\n%s", c.name, out)
				}
				if len(strings.TrimSpace(c.summary)) == 0 || strings.Contains(c.summary, "\n") {
					t.Errorf("summary %q is not one line", c.summary)
				}
			})
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, out, errs := cli(t, noEnv, args...)
		if code != 0 || errs != "" || !strings.Contains(out, "commands:") {
			t.Errorf("%q: exit %d, stderr %q, stdout:\n%s", args, code, errs, out)
		}
		for _, c := range commands() {
			if !strings.Contains(out, "  "+c.name+" ") {
				t.Errorf("%q lists no %s", args, c.name)
			}
		}
	}
}

// Misuse exits 2 with one line on stderr that says why and where to look.
func TestMisuseExits2(t *testing.T) {
	type tc struct {
		args []string
		want []string // on stderr
	}
	cases := []tc{
		{[]string{"nope"}, []string{`pipegate: unknown command "nope"`, "see 'pipegate help'"}},
		{[]string{"help", "nope"}, []string{`unknown command "nope"`, "see 'pipegate help help'"}},
		{[]string{"help", "dev", "demo"}, []string{`unexpected argument "demo"`}},
		{[]string{"explain"}, []string{"pipegate explain: missing argument EVENT.json", "see 'pipegate help explain'"}},
		{[]string{"explain", "a.json", "b.json"}, []string{`unexpected argument "b.json"`}},
		{[]string{"invoke"}, []string{"pipegate invoke: missing argument EVENT.json..."}},
		{[]string{"dev", "--step", "soon"}, []string{`invalid value "soon" for flag --step`}},
		{[]string{"dev", "--listen"}, []string{"flag needs an argument: --listen"}},
	}
	for _, c := range commands() {
		cases = append(cases, tc{[]string{c.name, "--bogus"}, []string{"pipegate " + c.name + ": unknown flag --bogus", "see 'pipegate help " + c.name + "'"}})
		if c.maxArgs == 0 {
			cases = append(cases, tc{[]string{c.name, "extra"}, []string{"pipegate " + c.name + `: unexpected argument "extra"`}})
		}
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := cli(t, noEnv, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			oneLineOn(t, errs, tc.want...)
		})
	}
	// No command at all: the overview on stderr, and the line.
	code, _, errs := cli(t, noEnv)
	if code != 2 || !strings.Contains(errs, "commands:") || !strings.HasSuffix(errs, "pipegate: name a command (see 'pipegate help')\n") {
		t.Errorf("no command: exit %d, stderr:\n%s", code, errs)
	}
}

// Whatever PIPEGATE_CONFIG names, no command panics: a missing or broken file is
// one error line and exit 1; another team's file is theirs to use.
func TestNoCommandPanicsWhateverPipegateConfig(t *testing.T) {
	for _, c := range commands() {
		switch c.name {
		case "version", "init":
			continue // they read no routing file
		case "validate", "params":
			continue // they read the pipegate.yaml sam build bundles, never PIPEGATE_CONFIG
		}
		for _, config := range []string{"testdata/none.yaml", "testdata/broken.yaml"} {
			t.Run(c.name+" "+config, func(t *testing.T) {
				args := []string{c.name}
				switch c.name {
				case "explain", "invoke":
					args = append(args, "../../events/push.json")
				case "dev":
					args = append(args, "--listen", "127.0.0.1:0")
				}
				code, out, errs := cli(t, envOf("PIPEGATE_CONFIG", config), args...)
				if code != 1 {
					t.Errorf("exit %d, want 1", code)
				}
				oneLineOn(t, errs, "pipegate: ")
				if !strings.Contains(out+errs, config) {
					t.Errorf("neither stdout nor stderr names %s:\n%s%s", config, out, errs)
				}
			})
		}
	}
	// With a routing file of group acme the demo tells its story on acme's world.
	if code, out, errs := cli(t, envOf("PIPEGATE_CONFIG", "testdata/acme.yaml"), "demo"); code != 0 {
		t.Errorf("demo with acme's routing file: exit %d, want 0\n%s%s", code, out, errs)
	}
	for _, args := range [][]string{{"explain", "../../events/push.json"}, {"invoke", "../../events/push.json"}} {
		if code, out, errs := cli(t, envOf("PIPEGATE_CONFIG", "testdata/acme.yaml"), args...); code != 0 {
			t.Errorf("%q with acme's routing file: exit %d\n%s%s", args, code, out, errs)
		}
	}
}

// binary builds pipegate once per test run, with its VCS information when the
// checkout has it.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pipegate-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pipegate")
	out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (b *buildError) Error() string { return b.err.Error() + "\n" + b.out }

func pipegateBinary(t *testing.T) string {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatalf("build pipegate: %v", err)
	}
	return bin
}

// The built program exits as the table says, and version names the commit it
// was built from.
func TestExitStatusOfTheProgram(t *testing.T) {
	bin := pipegateBinary(t)
	for _, tc := range []struct {
		args []string
		env  []string
		code int
	}{
		{[]string{"help"}, nil, 0},
		{[]string{"validate", "-h"}, nil, 0},
		{[]string{"version"}, nil, 0},
		{[]string{"--version"}, nil, 0},
		{[]string{"nope"}, nil, 2},
		{[]string{"explain", "--bogus"}, nil, 2},
		{[]string{"explain", "../../events/push.json"}, []string{"PIPEGATE_CONFIG=testdata/none.yaml"}, 1},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, tc.env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d\n%s%s", tc.args, code, tc.code, stdout.String(), stderr.String())
		}
		if strings.Contains(stderr.String(), "goroutine ") {
			t.Errorf("%q panicked:\n%s", tc.args, stderr.String())
		}
	}

	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	// What the toolchain itself reads from the binary: go build stamps the commit
	// in a clone, not in a git worktree or with -buildvcs=false.
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "commit unknown"
	for _, line := range strings.Split(string(info), "\n") {
		if rev, ok := strings.CutPrefix(strings.TrimSpace(line), "build\tvcs.revision="); ok {
			want = "commit " + rev
		}
	}
	// The module version is "(devel)", or in a clone the pseudo-version go build
	// derives from the commit.
	if !strings.HasPrefix(string(out), "pipegate ") || !strings.Contains(string(out), want) {
		t.Errorf("version printed %q, want one with %q", out, want)
	}
}

// dev --aws without AWS credentials fails at start, saying what to set, within
// the credential deadline even when the instance metadata service never answers.
func TestDevAWSWithoutCredentials(t *testing.T) {
	bin := pipegateBinary(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close) // not defer: the parallel subtests run after this function returns
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + refused.Addr().String()
	refused.Close()
	for name, imds := range map[string]string{"no metadata service": closed, "a metadata service that hangs": hang.URL} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			// Without the check dev would serve until Ctrl-C: the deadline ends it.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "dev", "--aws", "--listen", "127.0.0.1:0")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "AWS_REGION=eu-west-1",
				"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
				"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Fatalf("dev --aws: %v, want exit 1\n%s%s", err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), "pipegate: pipegate dev --aws needs AWS credentials") || !strings.Contains(stderr.String(), "AWS_PROFILE") {
				t.Errorf("stderr does not say what to set:\n%s", stderr.String())
			}
			if strings.Contains(stdout.String(), "webhook on") {
				t.Errorf("dev started before it found no credentials:\n%s", stdout.String())
			}
		})
	}
}
