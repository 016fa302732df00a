package wstransport

// Writing reports whether the writer of connection id is in the middle of
// a write, for tests that need the writer blocked.
func (t *Transport) Writing(id string) bool {
	t.mu.RLock()
	c := t.conns[id]
	t.mu.RUnlock()
	return c != nil && c.writeStart.Load() != 0
}

// PingOutstanding reports whether connection id has a ping without pong.
func (t *Transport) PingOutstanding(id string) bool {
	t.mu.RLock()
	c := t.conns[id]
	t.mu.RUnlock()
	return c != nil && c.pingSent.Load() != 0
}
