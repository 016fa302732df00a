package chatfly

import (
	"context"
	"sync"
)

// Room ordering within one Hub, without holding a lock across storage
// calls. Members observe two orders: messages arrive in seq order, and a
// join's snapshot (its history and member list) has no message falling
// between it and the live events that follow. Posts to one room run their
// storage calls concurrently; a post whose seq is assigned waits, before
// its fan-out, for the posts of this Hub that may hold a lower seq (those
// in flight when its seq was assigned) to deliver or fail. A join takes
// the room alone: it waits for the posts in flight to finish, and posts
// that start meanwhile wait for it. Across Hubs, clients order by seq and
// fill gaps from history.
//
// A roomGate is a queue, not room data: it exists while a post or join of
// its room is in progress on this Hub, and is freed when the room is idle.

// roomGate is the in-process order of one room; Hub.gateMu guards it.
type roomGate struct {
	refs    int         // posts and joins holding or waiting for it
	posts   []*postTurn // posts in flight, in ticket order
	tickets int64       // tickets handed out so far
	waiting int         // joins waiting for the posts in flight
	joining bool        // a join holds the room
	wake    chan struct{}
}

// postTurn is one post's place in its room's order.
type postTurn struct {
	h      *Hub
	rid    string
	g      *roomGate
	ticket int64
	// seq is the post's seq once assigned (0 before); horizon is the
	// number of tickets handed out when it was: only posts with a lower
	// ticket can hold a lower seq.
	seq, horizon int64
}

// gate returns rid's gate, creating it, and holds a reference. h.gateMu
// must be held.
func (h *Hub) gate(rid string) *roomGate {
	g := h.gates[rid]
	if g == nil {
		if h.gates == nil {
			h.gates = map[string]*roomGate{}
		}
		g = &roomGate{wake: make(chan struct{})}
		h.gates[rid] = g
	}
	g.refs++
	return g
}

// unref drops a reference to rid's gate, freeing it when unused, and
// wakes its waiters. h.gateMu must be held.
func (h *Hub) unref(rid string, g *roomGate) {
	g.refs--
	if g.refs == 0 {
		delete(h.gates, rid)
	}
	g.broadcast()
}

// broadcast wakes everyone waiting on g. h.gateMu must be held.
func (g *roomGate) broadcast() {
	close(g.wake)
	g.wake = make(chan struct{})
}

// await waits until ready holds, checking it under h.gateMu, and returns
// with h.gateMu held; on ctx's end it returns ctx's error without it.
func (h *Hub) await(ctx context.Context, g *roomGate, ready func() bool) error {
	for {
		h.gateMu.Lock()
		if ready() {
			return nil
		}
		wake := g.wake
		h.gateMu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// beginPost enters a post to rid in the room's order: it waits while a
// join holds the room or waits for it. The caller must call end.
func (h *Hub) beginPost(ctx context.Context, rid string) (*postTurn, error) {
	h.gateMu.Lock()
	g := h.gate(rid)
	h.gateMu.Unlock()
	if err := h.await(ctx, g, func() bool { return !g.joining && g.waiting == 0 }); err != nil {
		h.gateMu.Lock()
		h.unref(rid, g)
		h.gateMu.Unlock()
		return nil, err
	}
	p := &postTurn{h: h, rid: rid, g: g, ticket: g.tickets}
	g.tickets++
	g.posts = append(g.posts, p)
	h.gateMu.Unlock()
	return p, nil
}

// assigned records the post's seq.
func (p *postTurn) assigned(seq int64) {
	p.h.gateMu.Lock()
	p.seq, p.horizon = seq, p.g.tickets
	p.g.broadcast()
	p.h.gateMu.Unlock()
}

// turn waits until every post of this Hub that may hold a lower seq has
// delivered or failed.
func (p *postTurn) turn(ctx context.Context) error {
	err := p.h.await(ctx, p.g, func() bool {
		for _, q := range p.g.posts {
			if q != p && q.ticket < p.horizon && (q.seq == 0 || q.seq < p.seq) {
				return false
			}
		}
		return true
	})
	if err == nil {
		p.h.gateMu.Unlock()
	}
	return err
}

// end takes the post out of the order, delivered or failed. Calls after
// the first do nothing.
func (p *postTurn) end() {
	p.h.gateMu.Lock()
	defer p.h.gateMu.Unlock()
	g := p.g
	if g == nil {
		return
	}
	p.g = nil
	for i, q := range g.posts {
		if q == p {
			g.posts = append(g.posts[:i], g.posts[i+1:]...)
			break
		}
	}
	p.h.unref(p.rid, g)
}

// holdRoom takes rid's room alone (for a join, or an event that must not
// overtake the messages in flight), once the posts in flight have
// finished; new posts wait meanwhile. The caller must call the
// returned function to let the room go.
func (h *Hub) holdRoom(ctx context.Context, rid string) (func(), error) {
	h.gateMu.Lock()
	g := h.gate(rid)
	g.waiting++
	h.gateMu.Unlock()
	err := h.await(ctx, g, func() bool { return !g.joining && len(g.posts) == 0 })
	if err != nil {
		h.gateMu.Lock()
	}
	g.waiting--
	if err != nil {
		h.unref(rid, g)
		h.gateMu.Unlock()
		return nil, err
	}
	g.joining = true
	h.gateMu.Unlock()
	return func() {
		h.gateMu.Lock()
		g.joining = false
		h.unref(rid, g)
		h.gateMu.Unlock()
	}, nil
}

// atOnce runs the non-nil fs at once and returns the first non-nil
// error in argument order. It is how the Hub issues independent storage
// calls in one round trip.
func atOnce(fs ...func() error) error {
	errs := make([]error, len(fs))
	var wg sync.WaitGroup
	first := -1
	for i, f := range fs {
		switch {
		case f == nil:
		case first < 0:
			first = i
		default:
			wg.Go(func() { errs[i] = f() })
		}
	}
	if first >= 0 {
		errs[first] = fs[first]()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
