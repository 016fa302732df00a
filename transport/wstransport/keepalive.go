package wstransport

import (
	"time"

	"github.com/coder/websocket"

	"github.com/chatfly/chatfly"
)

// keepalive is the Transport's one background goroutine. It runs while the
// Transport has connections and every tick (a quarter of the shortest of
// WriteTimeout, PingInterval and the hello timeouts) walks them:
//
//   - a write that has taken longer than WriteTimeout aborts its
//     connection;
//   - a connection that has not said hello by its deadline is closed with
//     4002 (chatfly.CloseHelloTimeout);
//   - a connection whose ping is due gets one, sent by its writer; one
//     whose pong (seen by the read loop, hijackWriter.pong) has not come back
//     within PingTimeout is aborted.
//
// So an idle connection holds no timer and no goroutine of its own besides
// its reader, also while a ping is out.
func (t *Transport) keepalive(stop <-chan struct{}) {
	defer t.release()
	tick := t.opts.tick(t.minHello.Load())
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	writeTimeout := int64(t.opts.WriteTimeout)
	pingInterval := int64(t.opts.PingInterval)
	pingTimeout := int64(t.opts.PingTimeout)
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		if d := t.opts.tick(t.minHello.Load()); d != tick {
			tick = d // a Handler with a shorter hello timeout was added
			ticker.Reset(tick)
		}
		now := t.now()
		t.mu.RLock()
		for _, c := range t.conns {
			if ws := c.writeStart.Load(); ws != 0 && now-ws > writeTimeout {
				c.abort("write timeout")
				continue
			}
			if hb := c.helloBy.Load(); hb != 0 && now > hb {
				c.helloBy.Store(0)
				c.requestClose(websocket.StatusCode(chatfly.CloseHelloTimeout), "hello timeout")
				continue
			}
			if ps := c.pingSent.Load(); ps != 0 && now-ps > pingTimeout {
				c.abort("ping timeout")
				continue
			}
			if pingInterval > 0 && now >= c.nextPing.Load() && c.pingSent.Load() == 0 {
				c.nextPing.Store(now + pingInterval)
				c.pingSent.Store(now)
				c.queuePing()
			}
		}
		t.mu.RUnlock()
	}
}
