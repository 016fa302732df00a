package main

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/transport/apigw"
	"github.com/chatfly/chatfly/transport/apigw/apigwlocal"
)

// A member whose connection keeps answering 429 (API Gateway's client side
// buffer is full: it stopped reading) does not hold up the room on the
// Lambda stack: the member who reads gets every message within the same
// latency as without it (measured, logged; never the slow one's retry
// budget), and the stalled one, once it reads again, gets the close frame
// with 4000 (too slow).
func TestSlowConsumer(t *testing.T) {
	var (
		mu      sync.Mutex
		stalled string // its posts answer 429
	)
	fault := func(op apigwlocal.Op, id string) *apigwlocal.Fault {
		mu.Lock()
		defer mu.Unlock()
		if op == apigwlocal.OpPost && id == stalled {
			return &apigwlocal.Fault{Status: 429, ErrorType: "LimitExceededException"}
		}
		return nil
	}
	s := startStack(t, testConfig{emu: &apigwlocal.Options{Fault: fault}, hub: &chatfly.Options{RateLimit: chatfly.RateLimit{Count: 1000, Window: time.Minute}}})
	sender, reader := dial(t, s, "Sender", nil), dial(t, s, "Reader", nil)
	for _, c := range []*client.Client{sender, reader} {
		if _, err := c.Join(ctxFor(t), "lobby", 0); err != nil {
			t.Fatal(err)
		}
	}
	// p99 sends n messages and returns the 99th percentile of the time
	// each took to reach the reader.
	const n = 50
	p99 := func(round string) time.Duration {
		start := time.Now()
		defer func() { t.Logf("round %s: the sender's %d sends took %v", round, n, time.Since(start)) }()
		sent := make([]time.Time, n)
		lat := make([]time.Duration, 0, n)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for len(lat) < n {
				ev := next(t, reader, "message", func(ev client.Event) bool { return ev.From.Name == "Sender" })
				if i, err := strconv.Atoi(ev.Text[len(round):]); err == nil && ev.Text[:len(round)] == round {
					lat = append(lat, time.Since(sent[i]))
				}
			}
		}()
		for i := range n {
			sent[i] = time.Now()
			if _, err := sender.Send(ctxFor(t), "lobby", round+strconv.Itoa(i)); err != nil {
				t.Fatal(err)
			}
		}
		<-done
		slices.Sort(lat)
		return lat[len(lat)*99/100]
	}
	alone := p99("a")

	slow := dial(t, s, "Slow", &client.Options{Name: "Slow", HTTPHeader: http.Header{"X-Who": {"slow"}}})
	if _, err := slow.Join(ctxFor(t), "lobby", 0); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	stalled = connOf(t, s, "slow")
	mu.Unlock()
	withSlow := p99("b")
	t.Logf("reader's p99 over %d messages: %v alone, %v beside a member answering 429", n, alone, withSlow)
	if withSlow >= apigw.DefaultRetryBudget {
		t.Fatalf("the reader waited for the slow member's retries: p99 %v", withSlow)
	}

	mu.Lock()
	stalled = "" // it reads again
	mu.Unlock()
	select {
	case <-slow.Done():
	case <-time.After(2 * apigw.DefaultSlowCloseGrace):
		t.Fatal("the slow member is still connected")
	}
	if code := slow.CloseCode(); code != int(chatfly.CloseSlowConsumer) {
		t.Fatalf("the slow member was closed with %d (%v), want 4000", code, slow.Err())
	}
}
