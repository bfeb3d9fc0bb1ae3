// Package testenv starts the local stand-ins that tests need: dynalite, a
// DynamoDB that speaks the real wire protocol (npm package pinned in
// tools/package.json).
//
// One dynalite serves every test of a test binary. It is killed when the
// binary exits: on Linux by the kernel (parent-death signal), elsewhere by
// Main, which test packages call from TestMain.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// readyTimeout bounds the wait for dynalite to accept connections; it is
// ready in about 0.2 s.
const readyTimeout = 15 * time.Second

// dyn is the one dynalite of this test binary.
var dyn struct {
	once     sync.Once
	endpoint string
	err      error
	proc     *process
}

// Dynalite returns the endpoint (http://127.0.0.1:PORT) of this test
// binary's dynalite, starting it on first use. The test fails when dynalite
// is not installed.
func Dynalite(tb testing.TB) (endpoint string) {
	tb.Helper()
	dyn.once.Do(func() {
		dyn.proc, dyn.err = startDynalite()
		if dyn.err == nil {
			dyn.endpoint = "http://" + dyn.proc.addr
		}
	})
	if dyn.err != nil {
		tb.Fatalf("dynalite: %v", dyn.err)
	}
	return dyn.endpoint
}

// Main runs the tests and then stops dynalite if they started it. Use it
// as: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if dyn.proc != nil {
		dyn.proc.stop()
	}
	os.Exit(code)
}

// AWSConfig returns an AWS config whose endpoint is this binary's dynalite,
// with dummy credentials (dynalite wants requests signed, by anyone).
func AWSConfig(tb testing.TB) aws.Config {
	tb.Helper()
	return awsConfig(Dynalite(tb))
}

// DynamoClient returns a real DynamoDB client talking to dynalite.
func DynamoClient(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	return dynamodb.NewFromConfig(AWSConfig(tb))
}

// CreateTable creates a table of its own for the test, with the layout of
// the production table (string hash key pk, string range key sk), and
// returns its name once it is active.
func CreateTable(tb testing.TB, client *dynamodb.Client) string {
	tb.Helper()
	name := "pipegate-test-" + rand.Text()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	if err != nil {
		tb.Fatalf("create table %s: %v", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 5 * time.Millisecond
		o.MaxDelay = 50 * time.Millisecond
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, readyTimeout); err != nil {
		tb.Fatalf("wait for table %s: %v", name, err)
	}
	return name
}

// process is a running dynalite.
type process struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when it has exited; then output is complete
	output bytes.Buffer
}

func (p *process) stop() {
	p.cmd.Process.Kill()
	<-p.exited
}

func startDynalite() (*process, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "tools", "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s is missing: run scripts/test.sh (installs dynalite with npm)", bin)
	}
	// A free port can be taken by someone else before dynalite binds it;
	// then dynalite exits at once and another port is tried.
	for range 3 {
		p, err := startOn(bin)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, errExited) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%s exited at start three times", bin)
}

var errExited = errors.New("exited before accepting connections")

func startOn(bin string) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &process{
		addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		exited: make(chan struct{}),
	}
	p.cmd = exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	p.cmd.Stdout = &p.output
	p.cmd.Stderr = &p.output
	p.cmd.SysProcAttr = dieWithParent()

	// The parent-death signal fires when the thread that started the child
	// ends, not the process: keep that thread alive, locked, while the
	// child runs.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}

	deadline := time.Now().Add(readyTimeout)
	for {
		conn, err := net.DialTimeout("tcp", p.addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not accept connections on %s within %v: %s", bin, p.addr, readyTimeout, p.output.String())
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s on %s %w: %s", bin, p.addr, errExited, p.output.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// repoRoot walks up from the working directory (a test's package
// directory) to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repo root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repo root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// DynamoThrough creates a table of its own for the test in this binary's
// dynalite and returns an SDK config whose DynamoDB requests go through the
// handler front builds around dynalite's endpoint (a fault-injecting proxy, say),
// served on loopback for the test's life.
func DynamoThrough(tb testing.TB, front func(dynalite string) http.Handler) (aws.Config, string) {
	tb.Helper()
	table := CreateTable(tb, DynamoClient(tb))
	srv := httptest.NewServer(front(Dynalite(tb)))
	tb.Cleanup(srv.Close)
	return awsConfig(srv.URL), table
}
