package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/storage/memstore"
)

// holdJoin is a Storage whose write of the member item of a display name
// waits until the Hub's $disconnect is done: the join lands after the
// disconnect cleaned up, as when API Gateway runs $disconnect while the
// connection's join is still in flight.
type holdJoin struct {
	chatfly.Storage
	name         []byte
	holding      chan struct{} // gets a value when the write waits
	disconnected chan struct{}
}

func (s *holdJoin) Put(ctx context.Context, it chatfly.Item, cond chatfly.Cond) (int64, error) {
	if strings.HasPrefix(it.Key.Sort, "mem#") && bytes.Contains(it.Value, s.name) {
		s.holding <- struct{}{}
		select {
		case <-s.disconnected:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return s.Storage.Put(ctx, it, cond)
}

// disconnectObserver closes a channel once a Disconnect is done.
type disconnectObserver struct {
	once sync.Once
	done chan struct{}
}

func (o *disconnectObserver) Frame(_ context.Context, f chatfly.FrameStats) {
	if f.Action == chatfly.ActionDisconnect {
		o.once.Do(func() { close(o.done) })
	}
}

func (o *disconnectObserver) Failure(context.Context, chatfly.Failure) {}

// A join that $disconnect overtakes (the emulator does not order
// $disconnect after messages in flight, as API Gateway) writes a member for
// a dead connection. The next fan-out to it answers 410 and, though the
// connection's record is gone, removes that member: the others see it
// leave and a newcomer does not count it.
func TestJoinRacingDisconnectLeavesNoMember(t *testing.T) {
	obs := &disconnectObserver{done: make(chan struct{})}
	store := &holdJoin{Storage: memstore.New(nil), name: []byte("\nRacer\n"), holding: make(chan struct{}, 1), disconnected: obs.done}
	s := startStack(t, testConfig{store: store, hub: &chatfly.Options{Observer: obs}})
	ada := dial(t, s, "Ada", nil)
	if _, err := ada.Join(ctxFor(t), "lobby", 0); err != nil {
		t.Fatal(err)
	}
	racer := dial(t, s, "Racer", nil)
	joined := make(chan error, 1)
	go func() {
		_, err := racer.Join(ctxFor(t), "lobby", 0)
		joined <- err
	}()
	<-store.holding // the join's member write waits: close the socket under it
	_ = racer.Close()
	if err := <-joined; err == nil {
		t.Fatal("the racer's join got its reply")
	}
	next(t, ada, "presence", func(ev client.Event) bool { return ev.Event == "join" && ev.Member.Name == "Racer" })

	// Ada's message reaches the dead connection: 410, and the member goes.
	if _, err := ada.Send(ctxFor(t), "lobby", "anyone?"); err != nil {
		t.Fatal(err)
	}
	next(t, ada, "presence", func(ev client.Event) bool { return ev.Event == "leave" && ev.Member.Name == "Racer" })
	bob := dial(t, s, "Bob", nil)
	j, err := bob.Join(ctxFor(t), "lobby", 0)
	if err != nil {
		t.Fatal(err)
	}
	if j.Room.Members != 2 {
		t.Fatalf("Bob joined a lobby of %d members (%+v), want Ada and Bob", j.Room.Members, j.Members)
	}
}
