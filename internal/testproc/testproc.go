// Package testproc runs the servers that tests start as child processes
// (dynalite, redis-server): on a free loopback port, retried when another
// process took the port first, polled until they answer, killed with the
// test binary, and skipped or failed by one rule when they are not
// installed. dynamotest and redistest build on it.
package testproc

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Proc is a child process started by [Start]. Its methods are safe for
// concurrent use.
type Proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	log    *bytes.Buffer // its output, if cmd had none; read only after exited
}

// Start starts cmd and returns it as a Proc. Unless cmd already has a
// Stdout or Stderr, its output is kept for the error of [Proc.WaitReady].
// On Linux the kernel kills it if the test binary dies without stopping it
// (a panic, a timeout). done, if not nil, runs once it has exited (to
// remove its working directory, say).
func Start(cmd *exec.Cmd, done func()) (*Proc, error) {
	p := &Proc{cmd: cmd, exited: make(chan struct{})}
	if cmd.Stdout == nil && cmd.Stderr == nil {
		p.log = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = p.log, p.log
	}
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		if done != nil {
			done()
		}
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		if done != nil {
			done()
		}
		close(p.exited)
	}()
	return p, nil
}

// Stop kills the process and waits until it is gone. It is idempotent.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// WaitReady calls ready every interval until it returns nil, and fails if
// the process exits first or d passes; name is the server's name in the
// error. It stops the process when it fails.
func (p *Proc) WaitReady(name string, d, interval time.Duration, ready func() error) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			out := ""
			if p.log != nil {
				out = ": " + p.log.String()
			}
			return fmt.Errorf("%s exited: %v%s", name, p.cmd.ProcessState, out)
		case <-time.After(interval):
		}
		if ready() == nil {
			return nil
		}
	}
	p.Stop()
	return fmt.Errorf("%s did not answer within %v", name, d)
}

// FreePort returns a loopback TCP port that was free a moment ago. Another
// process may take it before the caller listens on it: see [Retry].
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Retry calls start up to five times, until it succeeds: a free port can be
// taken by someone else before the server listens on it.
func Retry[T any](start func() (T, error)) (T, error) {
	var (
		v   T
		err error
	)
	for range 5 {
		if v, err = start(); err == nil {
			return v, nil
		}
	}
	return v, err
}

// SkipOrFail skips t if err wraps missing (the server is not installed),
// unless the environment variable env is "1", and fails t on any other
// error; name is the server's name in the message.
func SkipOrFail(t testing.TB, err, missing error, env, name string) {
	t.Helper()
	if !errors.Is(err, missing) {
		t.Fatalf("starting %s: %v", name, err)
	}
	if os.Getenv(env) == "1" {
		t.Fatalf("%s=1: %v", env, err)
	}
	t.Skip(err)
}

// Main is the shape of a TestMain for packages whose tests share servers:
// it runs the tests, calls every stop (nil ones are skipped), and then, if
// all passed, fails on leaked goroutines (with opts, such as
// goleak.IgnoreAnyFunction).
func Main(m *testing.M, stops []func(), opts ...goleak.Option) {
	code := m.Run()
	for _, stop := range stops {
		if stop != nil {
			stop()
		}
	}
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Shared is a server that all the tests of a binary share: started by the
// first test that asks for it, stopped by TestMain. Its methods are safe for
// concurrent use.
type Shared[S interface{ Stop() }] struct {
	once    sync.Once
	srv     S
	err     error // why it could not start
	started bool
}

// Get returns the server, starting it with start on the first call; a
// failed start is not retried, every call then returns its error.
func (s *Shared[S]) Get(start func() (S, error)) (S, error) {
	s.once.Do(func() {
		s.srv, s.err = start()
		s.started = s.err == nil
	})
	return s.srv, s.err
}

// Stop stops the server if it was started. Call it when no test uses it
// any more: it is not started again.
func (s *Shared[S]) Stop() {
	if s.started {
		s.srv.Stop()
	}
}
