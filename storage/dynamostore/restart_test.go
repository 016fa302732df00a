package dynamostore_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/dynamostore"
	"github.com/chatfly/chatfly/storage/dynamostore/dynamotest"
)

// TestDynaliteStoppedMidRun kills dynalite while writers append messages
// the way the Hub does (Add a sequence number, then Put the message). Every
// writer gets an error wrapping chatfly.ErrUnavailable, promptly; after a
// restart on the same data every acknowledged message is there, every item
// reads back whole, and the counter goes on from where it was.
func TestDynaliteStoppedMidRun(t *testing.T) {
	dir := t.TempDir()
	p := dynamotest.StartDynalite(t, "--path", dir)
	ctx := t.Context()
	const table = "chatfly-restart"
	client := newClient(t, p.Endpoint)
	if err := dynamostore.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	s, err := dynamostore.Open(client, table, fastRetries)
	if err != nil {
		t.Fatal(err)
	}

	const room = "room#restart"
	seqKey := chatfly.Key{Partition: room, Sort: "seq"}
	var (
		mu    sync.Mutex
		acked int // messages stored
		errs  []error
		wg    sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				seq, err := s.Add(ctx, seqKey, 1, time.Time{})
				if err == nil {
					msg := chatfly.Item{Key: chatfly.Key{Partition: room, Sort: fmt.Sprintf("msg#%08d", seq)}, Value: []byte("hi")}
					_, err = s.Put(ctx, msg, chatfly.IfAbsent)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				acked++
				mu.Unlock()
			}
		})
	}
	// Let the writers run a little, then kill the server under them.
	for deadline := time.Now().Add(10 * time.Second); ; {
		mu.Lock()
		n := acked
		mu.Unlock()
		if n >= 40 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("writers still running 30s after dynalite was killed")
	}
	for _, err := range errs {
		if !errors.Is(err, chatfly.ErrUnavailable) {
			t.Errorf("writer error %v, want ErrUnavailable", err)
		}
	}
	t.Logf("%d messages acknowledged before the kill; first error: %v", acked, errs[0])

	// Restart on the same data.
	p2 := dynamotest.StartDynalite(t, "--path", dir)
	s2, err := dynamostore.Open(newClient(t, p2.Endpoint), table, nil)
	if err != nil {
		t.Fatal(err)
	}
	counter, err := s2.Get(ctx, seqKey)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s2.Query(ctx, chatfly.Query{Partition: room, Prefix: "msg#"})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < acked || int64(len(msgs)) > counter.N {
		t.Errorf("after the restart: %d messages and counter %d, with %d acknowledged", len(msgs), counter.N, acked)
	}
	for _, m := range msgs {
		var seq int64
		if _, err := fmt.Sscanf(m.Sort, "msg#%d", &seq); err != nil || seq < 1 || seq > counter.N || string(m.Value) != "hi" || m.N != 0 {
			t.Errorf("after the restart: message %q = %q version %d, counter %d", m.Sort, m.Value, m.Version, counter.N)
		}
	}
	next, err := s2.Add(ctx, seqKey, 1, time.Time{})
	if err != nil || next != counter.N+1 {
		t.Errorf("Add after the restart = %d, %v; want %d", next, err, counter.N+1)
	}
}
