// Package redistest provides Redis servers on loopback for tests, so that
// any package's tests can run on Redis (storage/redisstore, relay/redisrelay):
//
//   - miniredis (github.com/alicebob/miniredis/v2), in-process, always
//     available: each test gets a fresh one ([Miniredis]);
//   - the real redis-server (the Debian package redis-server, or any
//     redis-server on PATH): one process, started on first use on a free
//     loopback port with no persistence, serves every test of the binary
//     ([RedisServer]). When redis-server is not on PATH, the tests that need
//     it skip with "redis-server not found, skipping", unless the environment
//     has CHATFLY_REQUIRE_REDIS=1 (as .ci/run sets), which makes that a
//     failure.
//
// The shared redis-server is shared by every test of the binary: give each
// test keys of its own, for example under [Prefix]. A test that stops or
// restarts its server starts one of its own with [StartServer].
//
// A test binary that may start redis-server stops it from TestMain, with
// [Main] (which also checks for leaked goroutines):
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
// On Linux the kernel also kills redis-server if the test binary dies
// without stopping it (a panic, a timeout).
//
// The clients this package returns have ContextTimeoutEnabled, so a ctx
// deadline bounds every call, and are closed when their test ends.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/chatfly/chatfly/internal/testproc"
)

// RequireRedisEnv is the environment variable that, set to "1", turns a
// missing redis-server from a skip into a failure.
const RequireRedisEnv = "CHATFLY_REQUIRE_REDIS"

// ErrRedisMissing is why redis-server could not start when it is not on
// PATH.
var ErrRedisMissing = errors.New("redis-server not found, skipping")

// Backend is a kind of Redis server.
type Backend struct {
	// Name is "miniredis" or "redis-server", and names the subtests of
	// [ForEach].
	Name string
	// Addr returns the host:port of a server of this kind for t, and skips
	// or fails t if there is none (see the package doc).
	Addr func(t testing.TB) string
}

// Client returns a client of a server of this kind for t (see [NewClient]).
func (b Backend) Client(t testing.TB) *redis.Client {
	t.Helper()
	return NewClient(t, b.Addr(t))
}

// Backends returns the backends: miniredis, then redis-server.
func Backends() []Backend {
	return []Backend{
		{Name: "miniredis", Addr: MiniredisAddr},
		{Name: "redis-server", Addr: RedisServerAddr},
	}
}

// ForEach runs f as a subtest of t per backend, named after it, with a
// client of that backend.
func ForEach(t *testing.T, f func(t *testing.T, client *redis.Client)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { f(t, b.Client(t)) })
	}
}

// Miniredis starts a new in-process miniredis server on a loopback port,
// closed when t ends. Its TTLs advance only with FastForward (or SetTime):
// it never deletes keys by the real clock.
func Miniredis(t testing.TB) *miniredis.Miniredis {
	t.Helper()
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatalf("starting miniredis: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// MiniredisAddr starts a new miniredis server (see [Miniredis]) and
// returns its host:port.
func MiniredisAddr(t testing.TB) string {
	t.Helper()
	return Miniredis(t).Addr()
}

var shared testproc.Shared[*Server] // the server of RedisServerAddr

// RedisServerAddr returns the host:port of the redis-server shared by the
// tests of the binary, starting it on first use; [Stop] stops it. It skips
// or fails t if redis-server is not installed (see the package doc), and
// fails it if redis-server does not start.
func RedisServerAddr(t testing.TB) string {
	t.Helper()
	srv, err := shared.Get(func() (*Server, error) { return startServer(nil) })
	if err != nil {
		skipOrFail(t, err)
	}
	return srv.Addr
}

// Stop stops the shared redis-server, if it was started, and waits until it
// is gone. Call it from TestMain after m.Run, when no test uses it any more:
// it is not started again.
func Stop() { shared.Stop() }

// NewClient returns a client of the server at addr (host:port) with
// ContextTimeoutEnabled, closed when t ends.
func NewClient(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a key prefix unique to t, ending in ':', such as
// "test:1f2e3d4c5b6a:", for tests that share a server.
func Prefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "test:" + hex.EncodeToString(b[:]) + ":"
}

// Server is a redis-server process.
type Server struct {
	Addr string // host:port, on 127.0.0.1

	proc *testproc.Proc
}

// StartServer starts a redis-server of t's own on a free loopback port,
// with extra command-line arguments (such as "--maxmemory", "1mb"), and
// waits until it answers PING. It skips or fails t like [RedisServerAddr].
// The process is stopped when t ends, if it was not before.
func StartServer(t testing.TB, args ...string) *Server {
	t.Helper()
	srv, err := startServer(args)
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// Stop kills the process and waits until it is gone. It is idempotent.
func (s *Server) Stop() { s.proc.Stop() }

// skipOrFail skips t if err says that redis-server is not installed, unless
// CHATFLY_REQUIRE_REDIS=1, and fails t on any other error.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	testproc.SkipOrFail(t, err, ErrRedisMissing, RequireRedisEnv, "redis-server")
}

// startServer starts redis-server on a free loopback port, with extra
// command-line arguments, and waits until it answers.
func startServer(args []string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRedisMissing, err)
	}
	return testproc.Retry(func() (*Server, error) { return tryServer(bin, args) })
}

func tryServer(bin string, args []string) (*Server, error) {
	port, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "chatfly-redis-")
	if err != nil {
		return nil, err
	}
	// No persistence, no config file, its working directory out of the
	// way (a crash may write there), and quiet unless something goes wrong.
	args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning"}, args...)
	proc, err := testproc.Start(exec.Command(bin, args...), func() { os.RemoveAll(dir) })
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), proc: proc}
	probe := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, PoolSize: 1,
		DialTimeout: time.Second, ReadTimeout: time.Second})
	defer probe.Close()
	err = proc.WaitReady("redis-server", 15*time.Second, 20*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return probe.Ping(ctx).Err()
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Main is a TestMain for packages that use these backends: it runs the
// tests, stops the shared redis-server, and then, if all passed, fails on
// leaked goroutines (with opts, such as goleak.IgnoreAnyFunction).
func Main(m *testing.M, opts ...goleak.Option) { MainStopping(m, nil, opts...) }

// MainStopping is [Main] for a package whose tests also start servers of
// another kind: it calls stop (such as dynamotest.Stop), if not nil, after
// the tests, before the leak check.
func MainStopping(m *testing.M, stop func(), opts ...goleak.Option) {
	testproc.Main(m, []func(){Stop, stop}, opts...)
}

// Cluster starts a one-node Redis Cluster of t's own (a redis-server with
// cluster-enabled that owns all 16384 hash slots) and returns a cluster
// client of it, with ContextTimeoutEnabled, closed when t ends. It skips or
// fails t like [RedisServerAddr]. On a cluster a command or script whose
// keys are in different hash slots fails (CROSSSLOT), which single-server
// tests cannot show.
func Cluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	srv := StartServer(t, "--cluster-enabled", "yes")
	node := NewClient(t, srv.Addr)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
	}
	for {
		info, err := node.ClusterInfo(ctx).Result()
		if err != nil {
			t.Fatalf("CLUSTER INFO: %v", err)
		}
		if strings.Contains(info, "cluster_state:ok") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the cluster is not ready: %s", info)
		case <-time.After(20 * time.Millisecond):
		}
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
