// Package relaytest is the conformance suite for implementations of
// [chatfly.Relay].
//
// Use [Run] from a test of the implementation's package, with a [Harness]
// that makes connected instances of the Relay under test:
//
//	func TestConformance(t *testing.T) {
//		srv := startServer(t)
//		relaytest.Run(t, relaytest.HarnessFunc(
//			func(ctx context.Context, t *testing.T) (chatfly.Relay, error) {
//				return myrelay.New(dial(t, srv)), nil
//			}))
//	}
//
// Every case runs in its own subtest, named after the behaviour it checks
// (for example "Order/ConcurrentPublishers"), and publishes only to nodes
// whose names are unique to the run and the case, so the instances of every
// case may share one server.
//
// The suite expects no loss: on a healthy local backend the at-most-once
// relay delivers everything. Its waits are deadlines against hanging (15 s),
// not timing assertions.
//
// The package imports only the standard library and chatfly.
package relaytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

// Harness makes the Relay instances under test. Every instance it makes is
// connected to the others it makes: a message published with one reaches the
// subscribers of all (as servers that share one Redis do). The suite calls
// MakeRelay once or several times per case, from the goroutine of that
// case's subtest, and subscribes and publishes through different instances.
// Clean-up (closing a client) belongs to the harness, for example with
// t.Cleanup.
type Harness interface {
	MakeRelay(ctx context.Context, t *testing.T) (chatfly.Relay, error)
}

// HarnessFunc adapts a function to the [Harness] interface.
type HarnessFunc func(ctx context.Context, t *testing.T) (chatfly.Relay, error)

// MakeRelay calls f(ctx, t).
func (f HarnessFunc) MakeRelay(ctx context.Context, t *testing.T) (chatfly.Relay, error) {
	return f(ctx, t)
}

// wait bounds every wait of the suite.
const wait = 15 * time.Second

// Run runs the conformance suite against the relays of h.
func Run(t *testing.T, h Harness) {
	var b [4]byte
	rand.Read(b[:])
	run := hex.EncodeToString(b[:])
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
			defer cancel()
			e := &env{t: t, h: h, ctx: ctx, prefix: "rt" + run + "-" + strings.ReplaceAll(c.name, "/", "-") + "-"}
			c.f(t, e)
		})
	}
}

type testCase struct {
	name string
	f    func(t *testing.T, e *env)
}

var cases = []testCase{
	{"Deliver/Frame", deliverFrame},
	{"Deliver/Close", deliverClose},
	{"Deliver/OnlyThatNode", onlyThatNode},
	{"Deliver/LargeFrame", largeFrame},
	{"Deliver/ManyConns", manyConns},
	{"Order/OnePublisher", orderOnePublisher},
	{"Order/ConcurrentPublishers", concurrentPublishers},
	{"Gone/NoSubscriber", goneNoSubscriber},
	{"Gone/AfterStop", goneAfterStop},
	{"Stop/WaitsForF", stopWaitsForF},
	{"Stop/Idempotent", stopIdempotent},
}

// env is one case's view of the harness.
type env struct {
	t      *testing.T
	h      Harness
	ctx    context.Context
	prefix string
}

// relay makes a new connected instance.
func (e *env) relay() chatfly.Relay {
	e.t.Helper()
	r, err := e.h.MakeRelay(e.ctx, e.t)
	if err != nil {
		e.t.Fatalf("MakeRelay: %v", err)
	}
	return r
}

// node returns a node name unique to the run and the case.
func (e *env) node(name string) string { return e.prefix + name }

// inbox collects the messages of one subscription.
type inbox struct {
	mu   sync.Mutex
	msgs []chatfly.RelayMessage
	in   atomic.Int32 // calls of f running
	both atomic.Bool  // two calls of f overlapped
}

func (b *inbox) f(m chatfly.RelayMessage) {
	if b.in.Add(1) > 1 {
		b.both.Store(true)
	}
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
	b.in.Add(-1)
}

func (b *inbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

// subscribe subscribes a new inbox to node on r, stopped at the end of the
// case.
func (e *env) subscribe(r chatfly.Relay, node string) (*inbox, func() error) {
	e.t.Helper()
	b := &inbox{}
	stop, err := r.Subscribe(e.ctx, node, b.f)
	if err != nil {
		e.t.Fatalf("Subscribe(%q): %v", node, err)
	}
	e.t.Cleanup(func() {
		if err := stop(); err != nil {
			e.t.Errorf("stop: %v", err)
		}
	})
	return b, stop
}

// publish publishes m to node and fails the case on an error.
func (e *env) publish(r chatfly.Relay, node string, m chatfly.RelayMessage) {
	e.t.Helper()
	if err := r.Publish(e.ctx, node, m); err != nil {
		e.t.Fatalf("Publish to %q: %v", node, err)
	}
}

// await waits until b holds n messages and returns them; more than n is a
// failure (a duplicate or a stray message).
func (e *env) await(b *inbox, n int) []chatfly.RelayMessage {
	e.t.Helper()
	deadline := time.Now().Add(wait)
	for b.len() < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("got %d messages, want %d", b.len(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.msgs) > n {
		e.t.Fatalf("got %d messages, want %d", len(b.msgs), n)
	}
	if b.both.Load() {
		e.t.Error("f was called concurrently")
	}
	return append([]chatfly.RelayMessage(nil), b.msgs...)
}

// eventually polls cond until it holds (subscriptions of a network relay
// come and go asynchronously).
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ready subscribes to node on sub, then publishes probes through pub until
// one arrives, so that the subscription is known to be live everywhere
// (a network relay's SUBSCRIBE is asynchronous); the probes are then
// forgotten.
func (e *env) ready(sub, pub chatfly.Relay, node string) (*inbox, func() error) {
	e.t.Helper()
	b, stop := e.subscribe(sub, node)
	e.eventually("the subscription to be live", func() bool {
		if b.len() > 0 {
			return true
		}
		err := pub.Publish(e.ctx, node, chatfly.RelayMessage{Conns: []string{"probe"}, Frame: []byte("probe")})
		if err != nil && !errors.Is(err, chatfly.ErrGone) {
			e.t.Fatalf("Publish probe: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
		return b.len() > 0
	})
	// Let stray probes land, then forget them all.
	e.eventually("probes to stop arriving", func() bool {
		n := b.len()
		time.Sleep(20 * time.Millisecond)
		return b.len() == n
	})
	b.mu.Lock()
	b.msgs = nil
	b.mu.Unlock()
	return b, stop
}

func wantMessage(t *testing.T, got, want chatfly.RelayMessage) {
	t.Helper()
	if strings.Join(got.Conns, ",") != strings.Join(want.Conns, ",") || len(got.Conns) != len(want.Conns) {
		t.Errorf("Conns = %q, want %q", got.Conns, want.Conns)
	}
	if string(got.Frame) != string(want.Frame) {
		t.Errorf("Frame = %.80q (%d bytes), want %.80q (%d bytes)", got.Frame, len(got.Frame), want.Frame, len(want.Frame))
	}
	if got.Close != want.Close || got.Reason != want.Reason {
		t.Errorf("Close, Reason = %d, %q; want %d, %q", got.Close, got.Reason, want.Close, want.Reason)
	}
}

func deliverFrame(t *testing.T, e *env) {
	sub, pub := e.relay(), e.relay()
	n := e.node("a")
	b, _ := e.ready(sub, pub, n)
	want := chatfly.RelayMessage{
		Conns: []string{n + ".c1", n + ".c2"},
		Frame: []byte("{\"type\":\"message\",\"text\":\"héllo ✓\"}\n{\"type\":\"typing\"}"),
	}
	e.publish(pub, n, want)
	wantMessage(t, e.await(b, 1)[0], want)
}

func deliverClose(t *testing.T, e *env) {
	sub, pub := e.relay(), e.relay()
	n := e.node("a")
	b, _ := e.ready(sub, pub, n)
	want := chatfly.RelayMessage{Conns: []string{n + ".c1"}, Close: chatfly.CloseReplaced, Reason: "connected elsewhere — ✓"}
	e.publish(pub, n, want)
	got := e.await(b, 1)[0]
	wantMessage(t, got, want)
	if len(got.Frame) != 0 {
		t.Errorf("a close message arrived with a frame of %d bytes", len(got.Frame))
	}
}

func onlyThatNode(t *testing.T, e *env) {
	sub, pub := e.relay(), e.relay()
	na, nb := e.node("a"), e.node("b")
	ba, _ := e.ready(sub, pub, na)
	bb, _ := e.ready(e.relay(), pub, nb)
	for i := range 3 {
		e.publish(pub, na, chatfly.RelayMessage{Conns: []string{"x"}, Frame: fmt.Appendf(nil, "to a %d", i)})
	}
	e.publish(pub, nb, chatfly.RelayMessage{Conns: []string{"y"}, Frame: []byte("to b")})
	e.await(ba, 3)
	if got := e.await(bb, 1); string(got[0].Frame) != "to b" {
		t.Errorf("node b got %q", got[0].Frame)
	}
	for _, m := range e.await(ba, 3) {
		if !strings.HasPrefix(string(m.Frame), "to a") {
			t.Errorf("node a got %q", m.Frame)
		}
	}
}

// A frame as large as API Gateway's largest message (128 KB), all bytes.
func largeFrame(t *testing.T, e *env) {
	sub, pub := e.relay(), e.relay()
	n := e.node("a")
	b, _ := e.ready(sub, pub, n)
	frame := make([]byte, 128<<10)
	for i := range frame {
		frame[i] = byte(i*7 + i/251)
	}
	want := chatfly.RelayMessage{Conns: []string{n + ".c"}, Frame: frame}
	e.publish(pub, n, want)
	wantMessage(t, e.await(b, 1)[0], want)
}

// A fan-out to a big room: 5,000 connection ids in one message.
func manyConns(t *testing.T, e *env) {
	sub, pub := e.relay(), e.relay()
	n := e.node("a")
	b, _ := e.ready(sub, pub, n)
	conns := make([]string, 5000)
	for i := range conns {
		conns[i] = fmt.Sprintf("%s.conn-%06d-xxxxxxxxxxxxxxxx", n, i)
	}
	want := chatfly.RelayMessage{Conns: conns, Frame: []byte(`{"type":"presence"}`)}
	e.publish(pub, n, want)
	wantMessage(t, e.await(b, 1)[0], want)
}

func orderOnePublisher(t *testing.T, e *env) {
	sub, pub := e.relay(), e.relay()
	n := e.node("a")
	b, _ := e.ready(sub, pub, n)
	const count = 300
	for i := range count {
		e.publish(pub, n, chatfly.RelayMessage{Conns: []string{"c"}, Frame: fmt.Appendf(nil, "%d", i)})
	}
	for i, m := range e.await(b, count) {
		if string(m.Frame) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q: out of order, lost or duplicated", i, m.Frame)
		}
	}
}

// Four publishers (each its own instance) publish at once: every message
// arrives once, and each publisher's messages in its order.
func concurrentPublishers(t *testing.T, e *env) {
	sub := e.relay()
	n := e.node("a")
	pubs := make([]chatfly.Relay, 4)
	for i := range pubs {
		pubs[i] = e.relay()
	}
	b, _ := e.ready(sub, pubs[0], n)
	const each = 150
	var wg sync.WaitGroup
	errs := make(chan error, len(pubs))
	for p, pub := range pubs {
		wg.Go(func() {
			for i := range each {
				m := chatfly.RelayMessage{Conns: []string{fmt.Sprint(p)}, Frame: fmt.Appendf(nil, "%d", i)}
				if err := pub.Publish(e.ctx, n, m); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Publish: %v", err)
	}
	next := make(map[string]int)
	for _, m := range e.await(b, len(pubs)*each) {
		p := m.Conns[0]
		if string(m.Frame) != fmt.Sprint(next[p]) {
			t.Fatalf("publisher %s: got message %q, want %d", p, m.Frame, next[p])
		}
		next[p]++
	}
}

func goneNoSubscriber(t *testing.T, e *env) {
	r := e.relay()
	err := r.Publish(e.ctx, e.node("nobody"), chatfly.RelayMessage{Conns: []string{"x"}, Frame: []byte("x")})
	if !errors.Is(err, chatfly.ErrGone) {
		t.Errorf("Publish to a node nobody subscribes to: %v, want ErrGone", err)
	}
}

func goneAfterStop(t *testing.T, e *env) {
	sub, pub := e.relay(), e.relay()
	n := e.node("a")
	b, stop := e.ready(sub, pub, n)
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	before := b.len()
	e.eventually("Publish to a stopped node to return ErrGone", func() bool {
		err := pub.Publish(e.ctx, n, chatfly.RelayMessage{Conns: []string{"x"}, Frame: []byte("x")})
		if err != nil && !errors.Is(err, chatfly.ErrGone) {
			t.Fatalf("Publish: %v", err)
		}
		return err != nil
	})
	if b.len() != before {
		t.Errorf("f was called %d times after stop returned", b.len()-before)
	}
}

// stop waits for a running f, and f is not called once stop has returned.
func stopWaitsForF(t *testing.T, e *env) {
	sub, pub := e.relay(), e.relay()
	n := e.node("a")
	_, _ = e.ready(sub, pub, n) // a subscription known to be live: the one below is too, soon
	entered, release := make(chan struct{}), make(chan struct{})
	var calls, late atomic.Int32
	var stopped atomic.Bool
	stop, err := sub.Subscribe(e.ctx, n, func(m chatfly.RelayMessage) {
		if stopped.Load() {
			late.Add(1)
		}
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// Publish until the new subscription sees a message.
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			_ = pub.Publish(e.ctx, n, chatfly.RelayMessage{Conns: []string{"c"}, Frame: []byte("x")})
			select {
			case <-entered:
				return
			case <-e.ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("f was never called")
	}
	wg.Wait()
	stopDone := make(chan error, 1)
	go func() { stopDone <- stop() }()
	select {
	case err := <-stopDone:
		t.Fatalf("stop returned (%v) while f was running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-stopDone:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("stop did not return after f did")
	}
	stopped.Store(true)
	for range 5 {
		_ = pub.Publish(e.ctx, n, chatfly.RelayMessage{Conns: []string{"c"}, Frame: []byte("late")})
	}
	time.Sleep(20 * time.Millisecond)
	if late.Load() != 0 {
		t.Errorf("f was called %d times after stop returned", late.Load())
	}
}

func stopIdempotent(t *testing.T, e *env) {
	r := e.relay()
	stop, err := r.Subscribe(e.ctx, e.node("a"), func(chatfly.RelayMessage) {})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() { errs <- stop() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("stop: %v", err)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("stop again: %v", err)
	}
}
