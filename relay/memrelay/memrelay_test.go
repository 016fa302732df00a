package memrelay_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/relay/memrelay"
	"github.com/chatfly/chatfly/relay/relaytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	r := memrelay.New(nil)
	relaytest.Run(t, relaytest.HarnessFunc(func(context.Context, *testing.T) (chatfly.Relay, error) {
		return r, nil
	}))
}

// Publish copies the message; Options.Drop and a full queue drop messages
// and count them.
func TestCopyAndDrop(t *testing.T) {
	ctx := context.Background()
	block := make(chan struct{})
	r := memrelay.New(&memrelay.Options{
		QueueSize: 2,
		Drop:      func(node string, m chatfly.RelayMessage) bool { return string(m.Frame) == "drop me" },
	})
	got := make(chan chatfly.RelayMessage, 10)
	stop, err := r.Subscribe(ctx, "n", func(m chatfly.RelayMessage) {
		<-block
		got <- m
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	frame, conns := []byte("first"), []string{"n.1"}
	if err := r.Publish(ctx, "n", chatfly.RelayMessage{Conns: conns, Frame: frame}); err != nil {
		t.Fatal(err)
	}
	copy(frame, "XXXXX")
	conns[0] = "changed"
	// f holds "first" (or is about to); the queue takes two more at most.
	for _, f := range []string{"drop me", "2", "3", "4", "5"} {
		if err := r.Publish(ctx, "n", chatfly.RelayMessage{Conns: []string{"n.1"}, Frame: []byte(f)}); err != nil {
			t.Fatal(err)
		}
	}
	d := r.Dropped() // final: every Publish has returned
	close(block)
	first := <-got
	if string(first.Frame) != "first" || first.Conns[0] != "n.1" {
		t.Errorf("first message %q %q: Publish did not copy it", first.Frame, first.Conns)
	}
	var rest []string
	for range 5 - int(d) {
		rest = append(rest, string((<-got).Frame))
	}
	// "drop me" is dropped by Drop; of "2".."5" only what fits the queue
	// of two: "2" beside "first", or "2" and "3" if f took "first" off the
	// queue before the burst.
	if d < 3 || d > 4 || rest[0] != "2" {
		t.Errorf("Dropped() = %d and delivered %q, want 3 or 4 dropped and 2 delivered first", d, rest)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("more messages than not dropped: %d", len(got))
	}
}
