package client

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// Gap filling: messages from another server of a cluster come over a relay
// that delivers at most once, so a message may be missing from Events. The
// read loop keeps, for each room joined with [Client.Join], the last seq
// seen. A message whose seq is more than last+1 starts a fill: a goroutine
// asks history for the missing ones, while later messages of that room wait;
// then the missing messages and the waiting ones go to Events in seq order.
const (
	// gapFillTimeout bounds the history calls of one fill; past it, what
	// waited is delivered with the gap.
	gapFillTimeout = 10 * time.Second
	// gapFillPages is the most history pages one fill reads (the server
	// gives at most 100 messages a page); older missing ones are left out.
	gapFillPages = 10
	// historyPageMax is the largest history page the protocol allows.
	historyPageMax = 100
)

// gapFiller is the per-room seq state of one Client.
type gapFiller struct {
	mu    sync.Mutex
	rooms map[string]*roomSeq // joined rooms
	dying chan struct{}       // closed when the read loop ends: fills stop delivering
	ended bool                // set under mu before Events is closed
	fills sync.WaitGroup
}

// roomSeq is one joined room's state.
type roomSeq struct {
	last    int64   // the greatest seq delivered
	filling bool    // a fill is running; messages wait in held
	held    []Event // messages that arrived during the fill
}

func (g *gapFiller) init() {
	g.rooms = make(map[string]*roomSeq)
	g.dying = make(chan struct{})
}

// joined starts tracking the room of a "joined" line at its latest seq.
func (g *gapFiller) joined(line []byte) {
	var v struct {
		Room struct {
			ID  string `json:"id"`
			Seq int64  `json:"seq"`
		} `json:"room"`
	}
	if json.Unmarshal(line, &v) != nil || v.Room.ID == "" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if st := g.rooms[v.Room.ID]; st != nil {
		st.last = max(st.last, v.Room.Seq)
		return
	}
	g.rooms[v.Room.ID] = &roomSeq{last: v.Room.Seq}
}

// left stops tracking room.
func (g *gapFiller) left(room string) {
	g.mu.Lock()
	delete(g.rooms, room)
	g.mu.Unlock()
}

// admit reports whether the read loop should deliver message ev now. If
// not, ev waits for a fill (which admit may start) and is delivered by it.
func (g *gapFiller) admit(c *Client, ev Event) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.rooms[ev.Room]
	switch {
	case st == nil || ev.Seq <= st.last && !st.filling:
		return true // not tracked, or seen already (a resent message)
	case st.filling:
		st.held = append(st.held, ev)
		return false
	case ev.Seq == st.last+1:
		st.last = ev.Seq
		return true
	}
	st.filling, st.held = true, []Event{ev}
	g.fills.Add(1)
	go g.fill(c, ev.Room, st.last, ev.Seq)
	return false
}

// fill fetches the messages of room after last and before next, then
// delivers them and those that waited, in seq order.
func (g *gapFiller) fill(c *Client, room string, last, next int64) {
	defer g.fills.Done()
	ctx, cancel := context.WithTimeout(context.Background(), gapFillTimeout)
	var got []Event
	for before, pages := next, 0; before > last+1 && pages < gapFillPages; pages++ {
		msgs, more, err := c.History(ctx, room, before, int(min(before-last-1, historyPageMax)))
		if err != nil || len(msgs) == 0 {
			break // delivered with the gap: better late messages than none
		}
		got = append(got, msgs...)
		if !more {
			break
		}
		before = msgs[0].Seq
	}
	cancel()

	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return
	}
	st := g.rooms[room]
	if st == nil { // left meanwhile
		return
	}
	out := append(got, st.held...)
	slices.SortStableFunc(out, func(a, b Event) int { return cmp.Compare(a.Seq, b.Seq) })
	st.filling, st.held = false, nil
	for _, ev := range out {
		if ev.Seq <= st.last {
			continue
		}
		st.last = ev.Seq
		// The read loop waits on mu for this room's next message, so
		// nothing overtakes these.
		select {
		case c.events <- ev:
		case <-c.closing:
			return
		case <-g.dying:
			return
		}
	}
}

// end stops the fills from delivering; the read loop calls it before it
// closes Events.
func (g *gapFiller) end() {
	close(g.dying)
	g.mu.Lock()
	g.ended = true
	g.mu.Unlock()
}
