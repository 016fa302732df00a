// Package memrelay is a [chatfly.Relay] within one process: the nodes of a
// cluster whose servers all run in one program (tests, mostly) share one
// [Relay].
//
// Use it like this, one Relay for every node:
//
//	r := memrelay.New(nil)
//	a := wstransport.New(&wstransport.Options{NodeID: "a", Relay: r})
//	b := wstransport.New(&wstransport.Options{NodeID: "b", Relay: r})
//
// Publish copies the message and appends it to each subscriber's queue
// without waiting; a goroutine per subscription calls its function. Like a
// network relay, it is at most once: a message for a subscriber whose queue
// is full is dropped (and counted, see [Relay.Dropped]), and
// [Options].Drop can drop chosen messages to test how clients recover.
package memrelay

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/chatfly/chatfly"
)

// DefaultQueueSize is how many messages may wait for one subscriber.
const DefaultQueueSize = 4096

// Options configures a [Relay]. A nil *Options, and every zero field, means
// the documented default.
type Options struct {
	// QueueSize is how many messages may wait for one subscriber's
	// function; a message published to a full queue is dropped. Default
	// DefaultQueueSize.
	QueueSize int
	// Drop, if set, is asked about every message before it is queued for a
	// subscriber of node; true drops it (as a network relay may). It is
	// called from Publish, concurrently for concurrent publishers.
	Drop func(node string, m chatfly.RelayMessage) bool
}

// Relay is an in-process [chatfly.Relay]. Its zero value is not usable: call
// [New]. A Relay is safe for concurrent use.
type Relay struct {
	opts    Options
	dropped atomic.Int64

	mu   sync.Mutex
	subs map[string][]*sub // by node
}

var _ chatfly.Relay = (*Relay)(nil)

// New returns a Relay without subscribers.
func New(opts *Options) *Relay {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	return &Relay{opts: o, subs: make(map[string][]*sub)}
}

// Publish queues a copy of m for every subscriber of node and returns
// without waiting for them. It returns an error wrapping chatfly.ErrGone if
// node has no subscriber, and ctx.Err() if ctx is done.
func (r *Relay) Publish(ctx context.Context, node string, m chatfly.RelayMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	subs := r.subs[node]
	if len(subs) == 0 {
		return fmt.Errorf("memrelay: node %q has no subscriber: %w", node, chatfly.ErrGone)
	}
	for _, s := range subs {
		if r.opts.Drop != nil && r.opts.Drop(node, m) || !s.push(clone(m), r.opts.QueueSize) {
			r.dropped.Add(1)
		}
	}
	return nil
}

// Subscribe calls f in a goroutine of its own with every message published
// to node from now on, one at a time, in order, until stop is called. A node
// may have several subscribers; each gets every message. stop removes the
// subscription, drops the messages still queued for it and waits until f
// has returned; it must not be called from f. ctx is only checked: a done
// ctx returns its error.
func (r *Relay) Subscribe(ctx context.Context, node string, f func(chatfly.RelayMessage)) (stop func() error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &sub{f: f, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	r.mu.Lock()
	r.subs[node] = append(r.subs[node], s)
	r.mu.Unlock()
	go s.run()
	var once sync.Once
	return func() error {
		once.Do(func() {
			r.mu.Lock()
			r.subs[node] = slices.DeleteFunc(r.subs[node], func(x *sub) bool { return x == s })
			if len(r.subs[node]) == 0 {
				delete(r.subs, node)
			}
			r.mu.Unlock()
			close(s.quit)
		})
		<-s.done
		return nil
	}, nil
}

// Dropped returns how many messages were dropped: for a full queue, or by
// Options.Drop.
func (r *Relay) Dropped() int64 { return r.dropped.Load() }

// sub is one subscription: its queue and the goroutine that calls f.
type sub struct {
	f    func(chatfly.RelayMessage)
	wake chan struct{} // capacity 1: the queue is not empty
	quit chan struct{} // closed by stop
	done chan struct{} // closed when run has returned

	mu    sync.Mutex
	queue []chatfly.RelayMessage
}

// push queues m unless the queue holds limit messages already.
func (s *sub) push(m chatfly.RelayMessage, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) >= limit {
		return false
	}
	s.queue = append(s.queue, m)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

func (s *sub) run() {
	defer close(s.done)
	for {
		select {
		case <-s.quit:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, m := range batch {
			select {
			case <-s.quit:
				return
			default:
			}
			s.f(m)
		}
	}
}

// clone copies what a network relay would serialize, so that neither side
// shares memory with the other.
func clone(m chatfly.RelayMessage) chatfly.RelayMessage {
	m.Conns = slices.Clone(m.Conns)
	m.Frame = slices.Clone(m.Frame)
	return m
}
