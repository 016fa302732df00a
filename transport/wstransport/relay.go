package wstransport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/chatfly/chatfly"
)

// A cluster of standalone servers: every connection id names its node
// ("<node>.<random>", see Options.NodeID), each node subscribes to its own
// inbox on the Relay, and frames and closes for other nodes' connections are
// published to their inboxes, one message per node per fan-out.
//
// Node liveness comes from the relay itself: a Publish that finds no
// subscriber (ErrGone, e.g. Redis PUBLISH reaching 0 receivers) means the
// node is not there. Its connections are reported gone to the Hub, which
// then removes their members, only once the node has been missing for
// Options.RelayGrace: a node whose subscription drops for a moment (a Redis
// restart or failover, a network blip, during which go-redis resubscribes)
// loses the messages published meanwhile (clients fill such gaps from
// history by seq) but keeps its members. Any other relay error (Redis
// unreachable from the publisher) is logged and reports nothing gone: a
// publisher cut off from the relay cannot tell who is alive.
//
// A node that restarts with the same NodeID has a subscriber again before
// the grace ends; the connections of its previous run are then named in
// relay messages it receives, and it disconnects them itself (deliver,
// reap): only the owning node reports its own dead connections. No storage
// item and no extra storage call is needed for liveness.

// relaySubscribeRetry is the pause between two attempts to subscribe to the
// node's inbox when Subscribe fails.
const relaySubscribeRetry = time.Second

// maxMissing bounds the nodes remembered without subscriber.
const maxMissing = 1024

// relaySubscribeTimeout bounds one attempt to subscribe.
const relaySubscribeTimeout = 10 * time.Second

// nodeOf returns the node of connection id ("" if it names none).
func nodeOf(id string) string {
	node, _, _ := strings.Cut(id, ".")
	if node == id {
		return ""
	}
	return node
}

// subscribe subscribes the Transport to its inbox, in the background again
// and again until it works or Shutdown begins if the first attempt fails.
func (t *Transport) subscribe() {
	if t.trySubscribe() {
		return
	}
	t.mu.Lock()
	t.active++ // the retrying goroutine; Shutdown waits for it
	t.mu.Unlock()
	go func() {
		defer t.release()
		for {
			select {
			case <-t.quit:
				return
			case <-time.After(relaySubscribeRetry):
			}
			if t.trySubscribe() {
				return
			}
		}
	}()
}

// trySubscribe makes one attempt to subscribe; it reports whether the
// Transport needs no more attempts (subscribed, or shutting down).
func (t *Transport) trySubscribe() bool {
	ctx, cancel := context.WithTimeout(context.Background(), relaySubscribeTimeout)
	defer cancel()
	stop, err := t.opts.Relay.Subscribe(ctx, t.opts.NodeID, t.deliver)
	if err != nil {
		t.log.Error("wstransport: subscribing to the relay failed; frames from other nodes are lost until it works", "node", t.opts.NodeID, "err", err)
		return false
	}
	t.mu.Lock()
	if t.shutdown {
		t.mu.Unlock()
		t.stopRelay(stop)
		return true
	}
	t.unsubscribe = stop
	t.mu.Unlock()
	return true
}

func (t *Transport) stopRelay(stop func() error) {
	if err := stop(); err != nil {
		t.log.Warn("wstransport: stopping the relay subscription", "node", t.opts.NodeID, "err", err)
	}
}

// deliver is the subscriber of the node's inbox: it queues a relayed frame
// for, or closes, the connections it names. A connection of this node that
// does not exist is dead, though another node still sends to it: its
// Disconnect failed, or it belonged to this node's previous run (a restart
// with the same NodeID). Only this node can tell, so it disconnects it from
// its Hubs (see reap), as a local Send reporting ErrGone would have.
func (t *Transport) deliver(m chatfly.RelayMessage) {
	reason := truncateReason(m.Reason)
	var dead []string
	t.mu.RLock()
	for _, id := range m.Conns {
		c := t.conns[id]
		switch {
		case c == nil:
			if t.owns(id) {
				dead = append(dead, id)
			}
		case m.Close != 0:
			c.requestClose(websocket.StatusCode(m.Close), reason)
		default:
			c.enqueue(m.Frame)
		}
	}
	t.mu.RUnlock()
	if dead != nil {
		t.reap(dead)
	}
}

// maxDead bounds the dead connections waiting to be disconnected; more are
// dropped (the next fan-out names them again).
const maxDead = 4096

// addHub records a Hub to tell of dead connections (once per Handler).
func (t *Transport) addHub(h Hub) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hubs = append(t.hubs, h) // Hubs need not be comparable: no dedup
}

// reap disconnects dead connections from every Hub of the Transport, in one
// goroutine at a time, so that the relay's subscriber does not wait for
// storage.
func (t *Transport) reap(ids []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shutdown || len(t.hubs) == 0 {
		return
	}
	for _, id := range ids {
		if len(t.dead) < maxDead && t.conns[id] == nil {
			t.dead[id] = true
		}
	}
	if t.reaping || len(t.dead) == 0 {
		return
	}
	t.reaping = true
	t.active++
	go t.reapLoop()
}

func (t *Transport) reapLoop() {
	defer t.release()
	for {
		t.mu.Lock()
		var id string
		for id = range t.dead {
			break
		}
		delete(t.dead, id)
		hubs := t.hubs
		if id == "" || t.shutdown {
			t.reaping = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		for _, h := range hubs {
			ctx, cancel := context.WithTimeout(context.Background(), disconnectTimeout)
			if err := h.Disconnect(ctx, id); err != nil {
				t.log.Warn("wstransport: disconnecting a dead connection named by another node", "conn", id, "err", err)
			}
			cancel()
		}
	}
}

// publish sends m to node's inbox. gone reports that node's connections
// gone: the relay has had no subscriber for node for longer than
// RelayGrace. Without a Relay, the frame is dropped.
func (t *Transport) publish(ctx context.Context, node string, m chatfly.RelayMessage) (gone bool, err error) {
	if t.opts.Relay == nil || node == "" {
		t.dropRemote()
		return false, nil
	}
	err = t.opts.Relay.Publish(ctx, node, m)
	if !errors.Is(err, chatfly.ErrGone) {
		t.mu.Lock()
		delete(t.missing, node)
		t.mu.Unlock()
		if err != nil {
			return false, fmt.Errorf("wstransport: relay to node %q: %w", node, err)
		}
		return false, nil
	}
	if t.opts.RelayGrace < 0 {
		return true, nil
	}
	now := time.Now()
	t.mu.Lock()
	since, ok := t.missing[node]
	if !ok {
		if len(t.missing) >= maxMissing {
			clear(t.missing) // nodes gone for good; the grace restarts
		}
		since = now
		t.missing[node] = now
	}
	t.mu.Unlock()
	if now.Sub(since) < t.opts.RelayGrace {
		t.log.Debug("wstransport: relay: node has no subscriber, within the grace period", "node", node, "since", since)
		return false, nil
	}
	return true, nil
}

// sendRemote relays frame to connection id of another node.
func (t *Transport) sendRemote(ctx context.Context, id string, frame []byte) error {
	gone, err := t.publish(ctx, nodeOf(id), chatfly.RelayMessage{Conns: []string{id}, Frame: frame})
	if gone {
		return fmt.Errorf("wstransport: node of connection %q is gone: %w", id, chatfly.ErrGone)
	}
	return err
}

// sendRemoteMany relays frame to the connections of other nodes, one
// message per node, and returns the connections of nodes that are gone.
// The messages to several nodes are published at once, so that a fan-out
// waits for one relay round trip, not one per node.
func (t *Transport) sendRemoteMany(ctx context.Context, byNode map[string][]string, frame []byte) (gone []string, err error) {
	type result struct {
		ids  []string
		gone bool
		err  error
	}
	results := make(chan result, len(byNode))
	for node, ids := range byNode {
		pub := func() {
			g, err := t.publish(ctx, node, chatfly.RelayMessage{Conns: ids, Frame: frame})
			results <- result{ids, g, err}
		}
		if len(byNode) == 1 {
			pub()
		} else {
			go pub()
		}
	}
	var errs []error
	for range byNode {
		r := <-results
		if r.gone {
			gone = append(gone, r.ids...)
		}
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return gone, errors.Join(errs...)
}

// closeRemote relays a close of connection id of another node. A node that
// is gone took its connection with it: that is not an error.
func (t *Transport) closeRemote(ctx context.Context, id string, code chatfly.CloseCode, reason string) error {
	_, err := t.publish(ctx, nodeOf(id), chatfly.RelayMessage{Conns: []string{id}, Close: code, Reason: truncateReason(reason)})
	return err
}
