package wstransport_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/transport/wstransport"
)

// Connection ids carry the node id; a default node id is random.
func TestNodeQualifiedIDs(t *testing.T) {
	e := newEnv(t, envConfig{opts: &wstransport.Options{NodeID: "node-1"}})
	_, a := e.dial(e.url, nil)
	_, b := e.dial(e.url, nil)
	for _, id := range []string{a, b} {
		node, rest, ok := strings.Cut(id, ".")
		if !ok || node != "node-1" || rest == "" {
			t.Errorf("connection id %q, want node-1.<random>", id)
		}
	}
	if a == b {
		t.Errorf("two connections share id %q", a)
	}
	x, y := wstransport.New(nil).NodeID(), wstransport.New(nil).NodeID()
	if x == "" || x == y || strings.Contains(x, ".") {
		t.Errorf("default node ids %q and %q: want two different ids without a dot", x, y)
	}
}

// Only the owning node reports a connection gone: Send, SendMany and
// Close of another node's connection (or of an id with no node) are not
// errors, and the node's own unknown connections are gone.
func TestOtherNodesConnectionsAreNotGone(t *testing.T) {
	e := newEnv(t, envConfig{opts: &wstransport.Options{NodeID: "a"}})
	c, live := e.dial(e.url, nil)
	others := []string{"b.x", "ab.x", "a", "x"}
	for _, id := range others {
		if err := e.tr.Send(bg, id, []byte("f")); err != nil {
			t.Errorf("Send(%q) = %v, want nil", id, err)
		}
		if err := e.tr.Close(bg, id, chatfly.CloseReplaced, "replaced"); err != nil {
			t.Errorf("Close(%q) = %v, want nil", id, err)
		}
	}
	gone, err := e.tr.SendMany(bg, append([]string{live, "a.dead"}, others...), []byte("hello"))
	if err != nil || !slices.Equal(gone, []string{"a.dead"}) {
		t.Errorf("SendMany = %q, %v; want only a.dead gone", gone, err)
	}
	if err := e.tr.Send(bg, "a.dead", nil); !errors.Is(err, chatfly.ErrGone) {
		t.Errorf("Send to the node's own unknown connection: %v, want ErrGone", err)
	}
	if got, _ := readFrames(t, c, 1); got[0] != "hello" {
		t.Errorf("live connection got %q", got)
	}
}

func TestBadNodeIDPanics(t *testing.T) {
	for _, id := range []string{"a.b", "a b", "é", strings.Repeat("n", 33)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New with NodeID %q did not panic", id)
				}
			}()
			wstransport.New(&wstransport.Options{NodeID: id})
		}()
	}
}
