// Package dynamotest provides DynamoDB-compatible servers on loopback for
// tests, so that any package's tests can run on [dynamostore]:
//
//   - minidyn (github.com/truora/minidyn), an in-process HTTP server, always
//     available: each test gets a fresh one ([Minidyn]);
//   - dynalite, a Node.js server pinned by the module's package.json and
//     installed with "npm ci" at the module root: one process, started on
//     first use on a free loopback port, serves every test of the binary
//     ([Dynalite]). When node or dynalite is missing, the tests that need it
//     skip with "dynalite not found (npm ci), skipping", unless the
//     environment has CHATFLY_REQUIRE_DYNALITE=1 (as .ci/run sets), which
//     makes that a failure.
//
// A test binary that may start dynalite stops it from TestMain:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		dynamotest.Stop()
//		os.Exit(code)
//	}
//
// On Linux the kernel also kills dynalite if the test binary dies without
// stopping it (a panic, a timeout).
//
// The clients this package returns use placeholder credentials and the
// region us-east-1, and close their idle connections when their test ends,
// so that goroutine leak checks need no exceptions for them.
package dynamotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	miniserver "github.com/truora/minidyn/server"
	"go.uber.org/goleak"

	"github.com/chatfly/chatfly/internal/testproc"
	"github.com/chatfly/chatfly/storage/dynamostore"
)

// RequireDynaliteEnv is the environment variable that, set to "1", turns a
// missing dynalite from a skip into a failure.
const RequireDynaliteEnv = "CHATFLY_REQUIRE_DYNALITE"

// ErrDynaliteMissing is why dynalite could not start when node or
// node_modules/dynalite is not installed.
var ErrDynaliteMissing = errors.New("dynalite not found (npm ci), skipping")

// Backend is a kind of DynamoDB-compatible server.
type Backend struct {
	// Name is "minidyn" or "dynalite", and names the subtests of [ForEach].
	Name string
	// Endpoint returns the base URL of a server of this kind for t, and
	// skips or fails t if there is none (see the package doc).
	Endpoint func(t testing.TB) string
}

// Client returns a client of a server of this kind for t (see [NewClient]).
func (b Backend) Client(t testing.TB, apiOptions ...func(*middleware.Stack) error) *dynamodb.Client {
	t.Helper()
	return NewClient(t, b.Endpoint(t), apiOptions...)
}

// Backends returns the backends: minidyn, then dynalite.
func Backends() []Backend {
	return []Backend{
		{Name: "minidyn", Endpoint: MinidynEndpoint},
		{Name: "dynalite", Endpoint: DynaliteEndpoint},
	}
}

// ForEach runs f as a subtest of t per backend, named after it, with a
// client of that backend.
func ForEach(t *testing.T, f func(t *testing.T, client *dynamodb.Client)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { f(t, b.Client(t)) })
	}
}

// Minidyn returns a client of a new in-process minidyn server, which is
// closed when t ends.
func Minidyn(t testing.TB) *dynamodb.Client {
	t.Helper()
	return NewClient(t, MinidynEndpoint(t))
}

// Dynalite returns a client of the dynalite server shared by the tests of
// the binary, starting it on first use. It skips or fails t if dynalite is
// not installed (see the package doc).
func Dynalite(t testing.TB) *dynamodb.Client {
	t.Helper()
	return NewClient(t, DynaliteEndpoint(t))
}

// MinidynEndpoint starts an in-process minidyn server on a loopback port
// (httptest listens on 127.0.0.1), closed when t ends, and returns its URL.
func MinidynEndpoint(t testing.TB) string {
	srv := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(srv.Close)
	return srv.URL
}

var shared testproc.Shared[*Server] // the server of DynaliteEndpoint

// DynaliteEndpoint returns the URL of the dynalite server shared by the
// tests of the binary, starting it on first use; [Stop] stops it. It skips
// or fails t if dynalite is not installed (see the package doc), and fails
// it if dynalite does not start.
func DynaliteEndpoint(t testing.TB) string {
	t.Helper()
	srv, err := shared.Get(func() (*Server, error) { return startDynalite(nil) })
	if err != nil {
		skipOrFail(t, err)
	}
	return srv.Endpoint
}

// Stop stops the shared dynalite server, if it was started, and waits until
// it is gone. Call it from TestMain after m.Run, when no test uses it any
// more: it is not started again.
func Stop() { shared.Stop() }

// NewClient returns a client of the server at endpoint, with placeholder
// credentials and the region us-east-1; apiOptions are added to every call
// (such as a middleware that counts them). Its idle connections are closed
// when t ends.
func NewClient(t testing.TB, endpoint string, apiOptions ...func(*middleware.Stack) error) *dynamodb.Client {
	// The SDK's default transport settings, in a transport of our own so
	// that its idle keep-alive connections can be closed.
	tr := awshttp.NewBuildableClient().GetTransport()
	t.Cleanup(tr.CloseIdleConnections)
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("chatfly", "test", ""),
		HTTPClient:   &http.Client{Transport: tr},
		APIOptions:   apiOptions,
	})
}

// NewTable creates a table with [dynamostore.CreateTable], with a random
// name, and returns its name. It deletes the table when t ends (best
// effort: the servers are thrown away after the tests anyway).
func NewTable(t testing.TB, client *dynamodb.Client) string {
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
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	return table
}

// Server is a dynalite process.
type Server struct {
	Endpoint string // base URL, on 127.0.0.1

	proc *testproc.Proc
}

// StartDynalite starts a dynalite process of t's own on a free loopback
// port, with extra command-line arguments (such as "--path", dir to keep
// its data on disk), and waits until it answers. It skips or fails t like
// [Dynalite]. The process is stopped when t ends, if it was not before.
func StartDynalite(t testing.TB, args ...string) *Server {
	t.Helper()
	srv, err := startDynalite(args)
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// Stop kills the process and waits until it is gone. It is idempotent.
func (s *Server) Stop() { s.proc.Stop() }

// skipOrFail skips t if err says that dynalite is not installed, unless
// CHATFLY_REQUIRE_DYNALITE=1, and fails t on any other error.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	testproc.SkipOrFail(t, err, ErrDynaliteMissing, RequireDynaliteEnv, "dynalite")
}

// findDynalite returns the paths of node and of node_modules/dynalite/cli.js
// in the current directory (a test's package directory) or a parent, up to
// the module root.
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
			return "", "", ErrDynaliteMissing // the module root
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", ErrDynaliteMissing
		}
		dir = parent
	}
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrDynaliteMissing, err)
	}
	return node, cli, nil
}

// startDynalite starts dynalite on a free loopback port, with extra
// command-line arguments, and waits until it answers.
func startDynalite(args []string) (*Server, error) {
	node, cli, err := findDynalite()
	if err != nil {
		return nil, err
	}
	return testproc.Retry(func() (*Server, error) { return tryDynalite(node, cli, args) })
}

func tryDynalite(node, cli string, args []string) (*Server, error) {
	port, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	args = append([]string{cli, "--host", "127.0.0.1", "--port", fmt.Sprint(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"}, args...)
	cmd := exec.Command(node, args...)
	cmd.Stderr = os.Stderr
	proc, err := testproc.Start(cmd, nil)
	if err != nil {
		return nil, err
	}
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), proc: proc}
	// No keep-alive: the probe leaves no idle connection behind.
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	err = proc.WaitReady("dynalite", 15*time.Second, 50*time.Millisecond, func() error {
		// dynalite answers GET / with "healthy".
		resp, err := probe.Get(s.Endpoint)
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Main is a TestMain for packages that use these backends: it runs the
// tests, stops the shared dynalite process, and then, if all passed, fails
// on leaked goroutines (with opts, such as goleak.IgnoreAnyFunction).
func Main(m *testing.M, opts ...goleak.Option) { testproc.Main(m, []func(){Stop}, opts...) }
