package client

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrWriteTimeout is the cause (in a [CloseError] with code 1006) when the
// client closed the connection because writing one frame took longer than
// Options.WriteTimeout.
var ErrWriteTimeout = errors.New("chatfly/client: write timed out: the server is not reading")

// writeGuard runs expire when one frame write takes longer than timeout.
// Writes are serialized, so one reusable timer serves them all without
// allocating.
type writeGuard struct {
	timeout time.Duration
	expire  func()
	expired atomic.Bool

	mu       sync.Mutex
	deadline time.Time // of the write in progress; zero when none
	timer    *time.Timer
}

func (g *writeGuard) init(timeout time.Duration, expire func()) {
	g.timeout, g.expire = timeout, expire
}

// begin arms the guard for a write that starts now.
func (g *writeGuard) begin() {
	if g.timeout <= 0 {
		return
	}
	g.mu.Lock()
	g.deadline = time.Now().Add(g.timeout)
	if g.timer == nil {
		g.timer = time.AfterFunc(g.timeout, g.fire)
	} else {
		g.timer.Reset(g.timeout)
	}
	g.mu.Unlock()
}

// end disarms the guard after the write.
func (g *writeGuard) end() {
	if g.timeout <= 0 {
		return
	}
	g.mu.Lock()
	g.deadline = time.Time{}
	g.timer.Stop()
	g.mu.Unlock()
}

func (g *writeGuard) fire() {
	// A late run for an earlier write sees the next write's deadline (or
	// none) and does nothing.
	g.mu.Lock()
	late := !g.deadline.IsZero() && !time.Now().Before(g.deadline)
	g.mu.Unlock()
	if late && !g.expired.Swap(true) {
		g.expire()
	}
}

// stop stops the timer for good.
func (g *writeGuard) stop() {
	g.mu.Lock()
	g.deadline = time.Time{}
	if g.timer != nil {
		g.timer.Stop()
	}
	g.mu.Unlock()
}
