package dynamostore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	miniserver "github.com/truora/minidyn/server"
	"go.uber.org/goleak"

	"github.com/chatfly/chatfly/storage/dynamostore"
)

// The tests run against two DynamoDB-compatible servers on loopback:
//
//   - minidyn's HTTP server, in-process (github.com/truora/minidyn/server),
//     on every go test;
//   - dynalite, a Node.js server pinned by the module's package.json and
//     installed with "npm ci" at the module root. Its tests are skipped when
//     node or dynalite is missing, unless CHATFLY_REQUIRE_DYNALITE=1 makes
//     that a failure.

func TestMain(m *testing.M) {
	code := m.Run()
	stopDynalite()
	if code == 0 {
		// The SDK's HTTP clients keep idle keep-alive connections, whose
		// goroutines are not leaks of the Store.
		if err := goleak.Find(
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// backend is a DynamoDB-compatible server for tests.
type backend struct {
	name     string
	endpoint func(t *testing.T) string // skips or fails t if unavailable
}

var backends = []backend{
	{"minidyn", minidynEndpoint},
	{"dynalite", dynaliteEndpoint},
}

// forEachBackend runs f as a subtest per backend, named after it.
func forEachBackend(t *testing.T, f func(t *testing.T, endpoint string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b.endpoint(t)) })
	}
}

// onMinidyn reports whether t runs on minidyn (see the quirks in the tests
// that use it).
func onMinidyn(t *testing.T) bool { return strings.Contains(t.Name(), "/minidyn") }

// newClient returns an SDK client for the server at endpoint, with
// placeholder credentials; apiOptions are added to every call.
func newClient(endpoint string, apiOptions ...func(*middleware.Stack) error) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("chatfly", "test", ""),
		APIOptions:   apiOptions,
	})
}

// newTable creates a table with a name unique to the test and returns it.
func newTable(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	table := "chatfly-test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	t.Cleanup(func() {
		// Best effort: the server is thrown away after the tests anyway.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	return table
}

// minidynEndpoint starts an in-process minidyn server for t on a loopback
// port (httptest listens on 127.0.0.1).
func minidynEndpoint(t *testing.T) string {
	srv := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(srv.Close)
	return srv.URL
}

var dynalite struct {
	once sync.Once
	proc *dynaliteProc
	err  error // why it could not start; wraps errDynaliteMissing if not installed
}

var errDynaliteMissing = errors.New("dynalite not found (npm ci), skipping")

// dynaliteEndpoint returns the endpoint of the dynalite server shared by the
// tests of this binary, starting it on first use. TestMain stops it.
func dynaliteEndpoint(t *testing.T) string {
	t.Helper()
	dynalite.once.Do(func() { dynalite.proc, dynalite.err = startDynalite() })
	if dynalite.err != nil {
		skipOrFailDynalite(t, dynalite.err)
	}
	return dynalite.proc.endpoint
}

// skipOrFailDynalite skips t if dynalite is not installed, unless
// CHATFLY_REQUIRE_DYNALITE=1, and fails it on any other error.
func skipOrFailDynalite(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, errDynaliteMissing) {
		t.Fatalf("starting dynalite: %v", err)
	}
	if os.Getenv("CHATFLY_REQUIRE_DYNALITE") == "1" {
		t.Fatalf("CHATFLY_REQUIRE_DYNALITE=1: %v", err)
	}
	t.Skip(err)
}

// stopDynalite stops the shared dynalite server, if it was started.
func stopDynalite() {
	if dynalite.proc != nil {
		dynalite.proc.stop()
	}
}

// findDynalite returns the paths of node and of node_modules/dynalite/cli.js
// in the package's directory or a parent, up to the module root.
func findDynalite() (node, cli string, err error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	for {
		cli = filepath.Join(dir, "node_modules", "dynalite", "cli.js")
		if _, err := os.Stat(cli); err == nil {
			break
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return "", "", errDynaliteMissing // the module root
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", errDynaliteMissing
		}
		dir = parent
	}
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", errDynaliteMissing, err)
	}
	return node, cli, nil
}

// dynaliteProc is a running dynalite server.
type dynaliteProc struct {
	cmd      *exec.Cmd
	endpoint string
	exited   chan struct{}
}

// startDynalite starts dynalite on a free loopback port, with extra
// command-line arguments, and waits until it answers.
func startDynalite(args ...string) (*dynaliteProc, error) {
	node, cli, err := findDynalite()
	if err != nil {
		return nil, err
	}
	// A free port can be taken by someone else before dynalite listens:
	// try a few.
	for range 5 {
		var p *dynaliteProc
		if p, err = tryDynalite(node, cli, args); err == nil {
			return p, nil
		}
	}
	return nil, err
}

func tryDynalite(node, cli string, args []string) (*dynaliteProc, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args = append([]string{cli, "--host", "127.0.0.1", "--port", fmt.Sprint(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"}, args...)
	cmd := exec.Command(node, args...)
	cmd.Stderr = os.Stderr
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &dynaliteProc{cmd: cmd, endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("dynalite exited: %v", cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		// dynalite answers GET / with "healthy".
		if resp, err := http.Get(p.endpoint); err == nil {
			resp.Body.Close()
			return p, nil
		}
	}
	p.stop()
	return nil, errors.New("dynalite did not answer within 15s")
}

// stop kills the server and waits until it is gone. It is idempotent.
func (p *dynaliteProc) stop() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}
