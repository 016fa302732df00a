package client

import (
	"context"
	"sync"
	"time"
)

// pingTimeout is the least time the keepalive waits for a pong.
const pingTimeout = 30 * time.Second

// keepalive sends the ping action every interval, so that the session's
// presence does not expire in the server's storage while the user is idle.
// It runs on a timer, not on a goroutine of its own.
type keepalive struct {
	mu       sync.Mutex
	timer    *time.Timer
	interval time.Duration
	stopped  bool
	running  sync.WaitGroup
}

func (k *keepalive) start(c *Client, interval time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	k.interval = interval
	k.timer = time.AfterFunc(interval, func() { k.tick(c) })
}

func (k *keepalive) tick(c *Client) {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	k.running.Add(1)
	k.mu.Unlock()
	defer k.running.Done()

	// Wait long enough that the pong is not left over as an event.
	ctx, cancel := context.WithTimeout(context.Background(), max(k.interval, pingTimeout))
	_ = c.Ping(ctx) // a dead connection is noticed by the read loop
	cancel()

	k.mu.Lock()
	if !k.stopped {
		k.timer.Reset(k.interval)
	}
	k.mu.Unlock()
}

// halt stops the timer; a ping in progress finishes on its own.
func (k *keepalive) halt() {
	k.mu.Lock()
	k.stopped = true
	if k.timer != nil {
		k.timer.Stop()
	}
	k.mu.Unlock()
}

// stop stops the timer and waits for a ping in progress.
func (k *keepalive) stop() {
	k.halt()
	k.running.Wait()
}
