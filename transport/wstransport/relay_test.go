package wstransport_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/relay/memrelay"
	"github.com/chatfly/chatfly/transport/wstransport"
)

// nodeEnv is an env whose Transport is node id of relay r.
func nodeEnv(t *testing.T, id string, r chatfly.Relay, grace time.Duration) *env {
	return newEnv(t, envConfig{opts: &wstransport.Options{NodeID: id, Relay: r, RelayGrace: grace}})
}

// SendMany reaches the connections of other nodes through the relay, one
// message per node; Send and Close of another node's connection are relayed
// too (4001 across nodes).
func TestRelaySendManyAcrossNodes(t *testing.T) {
	r := memrelay.New(nil)
	a, b := nodeEnv(t, "a", r, 0), nodeEnv(t, "b", r, 0)
	ca, ida := a.dial(a.url, nil)
	cb1, idb1 := b.dial(b.url, nil)
	cb2, idb2 := b.dial(b.url, nil)

	gone, err := a.tr.SendMany(bg, []string{idb1, ida, idb2}, []byte("to all"))
	if err != nil || len(gone) != 0 {
		t.Fatalf("SendMany = %q, %v", gone, err)
	}
	for _, c := range []*websocket.Conn{ca, cb1, cb2} {
		if got, _ := readFrames(t, c, 1); got[0] != "to all" {
			t.Errorf("got %q", got)
		}
	}
	if err := b.tr.Send(bg, ida, []byte("from b")); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFrames(t, ca, 1); got[0] != "from b" {
		t.Errorf("a's client got %q", got)
	}
	if err := a.tr.Close(bg, idb1, chatfly.CloseReplaced, "replaced by a new connection"); err != nil {
		t.Fatal(err)
	}
	err = readUntilClose(cb1)
	if websocket.CloseStatus(err) != websocket.StatusCode(chatfly.CloseReplaced) {
		t.Errorf("b's client closed with %v, want 4001", err)
	}
	waitUntil(t, "b's Disconnect", func() bool { return b.hub.disconnectCount(idb1) == 1 })
}

// One relay message per remote node per fan-out, whatever the number of
// connections there.
func TestRelayOneMessagePerNode(t *testing.T) {
	var msgs atomic.Int32
	r := memrelay.New(&memrelay.Options{Drop: func(node string, m chatfly.RelayMessage) bool {
		msgs.Add(1)
		return false
	}})
	a, b, c := nodeEnv(t, "a", r, 0), nodeEnv(t, "b", r, 0), nodeEnv(t, "c", r, 0)
	var ids []string
	var clients []*websocket.Conn
	for _, e := range []*env{b, b, b, c, c, a} {
		cl, id := e.dial(e.url, nil)
		ids, clients = append(ids, id), append(clients, cl)
	}
	if gone, err := a.tr.SendMany(bg, ids, []byte("x")); err != nil || gone != nil {
		t.Fatalf("SendMany = %q, %v", gone, err)
	}
	for _, cl := range clients {
		readFrames(t, cl, 1)
	}
	if n := msgs.Load(); n != 2 {
		t.Errorf("%d relay messages for two remote nodes", n)
	}
}

// A node without subscriber (crashed, or shut down) is gone only after
// RelayGrace: with a grace of an hour its connections are kept, with none
// they are reported gone at once, by Send and SendMany; a Close to it is
// not an error.
func TestRelayNodeGone(t *testing.T) {
	r := memrelay.New(nil)
	patient, eager := nodeEnv(t, "p", r, time.Hour), nodeEnv(t, "e", r, -1)
	b := nodeEnv(t, "b", r, 0)
	_, idb := b.dial(b.url, nil)
	if err := patient.tr.Send(bg, idb, []byte("x")); err != nil {
		t.Fatalf("Send to a live node: %v", err)
	}
	if err := b.tr.Shutdown(bg); err != nil {
		t.Fatal(err)
	}
	dead := []string{idb, "b.other", "nobody.x"}
	for _, e := range []*env{patient, eager} {
		gone, err := e.tr.SendMany(bg, dead, []byte("x"))
		if err != nil {
			t.Errorf("SendMany: %v", err)
		}
		want := []string(nil)
		if e == eager {
			want = dead
		}
		if !slices.Equal(sorted(gone), sorted(want)) {
			t.Errorf("node %s: SendMany to stopped nodes: gone %q, want %q", e.tr.NodeID(), gone, want)
		}
		err = e.tr.Send(bg, idb, []byte("x"))
		if (e == eager) != errors.Is(err, chatfly.ErrGone) {
			t.Errorf("node %s: Send to a stopped node: %v", e.tr.NodeID(), err)
		}
		if err := e.tr.Close(bg, idb, chatfly.CloseReplaced, ""); err != nil {
			t.Errorf("Close on a stopped node: %v", err)
		}
	}
}

// failRelay fails every Publish with an error that is not ErrGone, and its
// first Subscribe.
type failRelay struct {
	*memrelay.Relay
	subscribes atomic.Int32
}

var errRelayDown = errors.New("relay down")

func (f *failRelay) Publish(ctx context.Context, node string, m chatfly.RelayMessage) error {
	return errRelayDown
}

func (f *failRelay) Subscribe(ctx context.Context, node string, fn func(chatfly.RelayMessage)) (func() error, error) {
	if f.subscribes.Add(1) == 1 {
		return nil, errRelayDown
	}
	return f.Relay.Subscribe(ctx, node, fn)
}

// A relay that fails is no sign of a gone node: the error is returned,
// nothing is gone. A failed Subscribe is retried until it works.
func TestRelayErrors(t *testing.T) {
	mem := memrelay.New(nil)
	f := &failRelay{Relay: mem}
	a := nodeEnv(t, "a", f, -1)
	gone, err := a.tr.SendMany(bg, []string{"b.1", "b.2"}, []byte("x"))
	if gone != nil || !errors.Is(err, errRelayDown) {
		t.Errorf("SendMany with a failing relay = %q, %v; want no gone and the relay's error", gone, err)
	}
	if err := a.tr.Send(bg, "b.1", []byte("x")); !errors.Is(err, errRelayDown) || errors.Is(err, chatfly.ErrGone) {
		t.Errorf("Send with a failing relay: %v", err)
	}
	if err := a.tr.Close(bg, "b.1", chatfly.CloseNormal, ""); !errors.Is(err, errRelayDown) {
		t.Errorf("Close with a failing relay: %v", err)
	}
	// a's first Subscribe failed; the retry makes it reachable.
	c, id := a.dial(a.url, nil)
	waitUntil(t, "the retried subscription", func() bool {
		return mem.Publish(bg, "a", chatfly.RelayMessage{Conns: []string{id}, Frame: []byte("relayed")}) == nil
	})
	if got, _ := readFrames(t, c, 1); got[0] != "relayed" {
		t.Errorf("got %q", got)
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// A relayed frame for a connection of this node that does not exist (its
// Disconnect failed, or it is from this node's previous run) makes this
// node disconnect it from its Hub; other nodes' ids are left alone.
func TestRelayDeadConnectionDisconnected(t *testing.T) {
	r := memrelay.New(nil)
	a := nodeEnv(t, "a", r, 0)
	c, live := a.dial(a.url, nil)
	if err := r.Publish(bg, "a", chatfly.RelayMessage{Conns: []string{"a.old", live, "b.x"}, Frame: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFrames(t, c, 1); got[0] != "hi" {
		t.Errorf("live connection got %q", got)
	}
	waitUntil(t, "the dead connection's Disconnect", func() bool { return a.hub.disconnectCount("a.old") == 1 })
	if a.hub.disconnectCount(live) != 0 || a.hub.disconnectCount("b.x") != 0 {
		t.Error("Disconnect of a live connection or of another node's")
	}
}
