package wstransport

import "time"

// keepalive is the Transport's one background goroutine. It runs while the
// Transport has connections and every tick (a quarter of the shorter of
// WriteTimeout and PingInterval) walks them:
//
//   - a write that has taken longer than WriteTimeout aborts its
//     connection;
//   - a connection whose ping is due gets one, sent by a short-lived
//     goroutine that waits at most PingTimeout for the pong.
//
// So an idle connection holds no timer and no goroutine of its own besides
// its reader.
func (t *Transport) keepalive(stop <-chan struct{}) {
	defer t.release()
	ticker := time.NewTicker(t.opts.tick())
	defer ticker.Stop()
	writeTimeout := int64(t.opts.WriteTimeout)
	pingInterval := int64(t.opts.PingInterval)
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		now := t.now()
		t.mu.RLock()
		for _, c := range t.conns {
			if ws := c.writeStart.Load(); ws != 0 && now-ws > writeTimeout {
				c.abort("write timeout")
				continue
			}
			if pingInterval > 0 && now >= c.nextPing.Load() && !c.pinging.Load() {
				c.nextPing.Store(now + pingInterval)
				c.pinging.Store(true)
				if !c.spawn(c.ping) {
					c.pinging.Store(false)
				}
			}
		}
		t.mu.RUnlock()
	}
}
