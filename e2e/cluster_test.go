package e2e_test

import (
	"testing"

	"github.com/chatfly/chatfly/storage/memstore"
)

// Two standalone servers over one Storage must not evict each other's
// connections: a fan-out from node A reaches a member on node B, and A's
// transport must not answer that B's connection is gone (it once did, and
// Hub A then deleted Bob's state: Bob was closed with 1001 "session state
// lost" at his next frame).
func TestTwoNodesDoNotEvictEachOther(t *testing.T) {
	store := memstore.New(nil)
	a := startServer(t, serverConfig{store: store})
	b := startServer(t, serverConfig{store: store})
	bob := b.dial("Bob", nil)
	join(t, bob, "lobby")
	alice := a.dial("Alice", nil)
	join(t, alice, "lobby") // a presence fan-out from A to Bob's connection
	if _, err := alice.Send(ctx(t), "lobby", "hi Bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Send(ctx(t), "lobby", "hi Alice"); err != nil {
		t.Fatalf("Bob, on the other node, after Alice joined: %v (close code %d)", err, bob.CloseCode())
	}
	if _, err := alice.Send(ctx(t), "lobby", "still here?"); err != nil {
		t.Fatalf("Alice after Bob's message: %v (close code %d)", err, alice.CloseCode())
	}
	cy := a.dial("Cy", nil)
	j := join(t, cy, "lobby")
	if len(j.Members) != 3 {
		t.Fatalf("Cy sees members %v, want Alice, Bob and Cy", j.Members)
	}
}
