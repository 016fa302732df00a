package chatfly

import "context"

// RelayMessage is what one node asks another to do with connections it owns.
type RelayMessage struct {
	Conns  []string  // connection ids owned by the receiving node
	Frame  []byte    // the frame to send to each of them (nil when Close is set)
	Close  CloseCode // if non-zero: close Conns with this code and Reason instead
	Reason string
}

// Relay carries RelayMessages between the nodes of a cluster (standalone servers that share a
// Storage). At most once: a message may be lost, never duplicated; messages from one publisher to
// one node arrive in publish order. Safe for concurrent use.
//
// A transport whose sockets live in one process each
// (chatfly/transport/wstransport) delivers the frames for its own
// connections itself and publishes one RelayMessage per other node to that
// node's inbox. Implementations: chatfly/relay/memrelay (in one process, for
// tests) and chatfly/relay/redisrelay; chatfly/relay/relaytest is the
// conformance suite they pass. A message given to f belongs to f, which may
// keep it.
type Relay interface {
	// Publish delivers m to node's subscriber. It returns an error wrapping ErrGone when the relay
	// knows that no subscriber of node is alive (e.g. Redis PUBLISH reached 0 receivers).
	Publish(ctx context.Context, node string, m RelayMessage) error
	// Subscribe calls f with every message published to node, one at a time, in order, until stop
	// is called (stop is idempotent and waits until f is no longer running).
	Subscribe(ctx context.Context, node string, f func(RelayMessage)) (stop func() error, err error)
}
