package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chatfly/chatfly"
)

// Roulette is the reply to [Client.RouletteJoin] and [Client.RouletteNext].
type Roulette struct {
	// Matched reports whether the session is paired; Room, Partner and
	// Shared then describe the pair: Room is the private pair room both
	// are in (Send, History and Typing work there as in any room).
	Matched bool
	Room    string
	Partner chatfly.Member
	Shared  []string
	// Interests are the interests the session waits with, as the server
	// normalised them (while waiting).
	Interests []string
	// Retry is when the client asks again by itself (while waiting).
	Retry time.Duration
}

// defaultRetry is how long the client waits before asking again when a
// roulette.waiting has no retry (a server older than the field).
const defaultRetry = 20 * time.Second

// RouletteJoin queues the session for the chat roulette, with optional
// interests (at most 5 tags, see PROTOCOL.md), or returns its current pair.
//
// While the session waits, the client asks again by itself when the
// server's retry says (when a fallback comes due, and at least every 20
// seconds to keep its place), until it is paired or leaves: no refresh is
// needed. The pair is announced on [Client.Events] as a "roulette.matched"
// event, whether the server pushed it or it answered the client's own
// request; a reply to the client's own request that repeats the pair it
// already announced, or that says it is still waiting, is not put on
// Events. An error answering such a request is put on Events as an
// "error" event without ID (too_many: the session is then out of the
// queue and the client stops asking).
func (c *Client) RouletteJoin(ctx context.Context, interests ...string) (Roulette, error) {
	return c.roulette(ctx, "roulette.join", interests)
}

// RouletteNext ends the current pair (the partner gets "roulette.ended")
// and queues the session again, like [Client.RouletteJoin].
func (c *Client) RouletteNext(ctx context.Context, interests ...string) (Roulette, error) {
	return c.roulette(ctx, "roulette.next", interests)
}

// RouletteLeave ends the current pair, if any, and leaves the queue; the
// client stops asking again.
func (c *Client) RouletteLeave(ctx context.Context) error {
	c.rl.quiet()
	f, id := c.frame("roulette.leave")
	_, err := c.call(ctx, id, f, "roulette.left")
	return err
}

func (c *Client) roulette(ctx context.Context, action string, interests []string) (Roulette, error) {
	f, id := c.frame(action)
	if len(interests) > 0 {
		f.members(interestsField(interests))
	}
	ev, err := c.roundTrip(ctx, id, f)
	if err != nil {
		return Roulette{}, err
	}
	var v rouletteFrame
	if err := json.Unmarshal(ev.Raw, &v); err != nil || (ev.Type != "roulette.matched" && ev.Type != "roulette.waiting") {
		return Roulette{}, fmt.Errorf("chatfly/client: bad %s reply %q: %v", action, ev.Type, err)
	}
	r := Roulette{Matched: ev.Type == "roulette.matched", Room: v.Room, Shared: v.Shared, Interests: v.Interests, Retry: v.retry()}
	if v.Partner != nil {
		r.Partner = *v.Partner
	}
	return r, nil
}

func interestsField(interests []string) []byte {
	b, _ := json.Marshal(struct {
		Interests []string `json:"interests"`
	}{interests})
	return b
}

// rouletteFrame holds the fields of the roulette.* frames.
type rouletteFrame struct {
	Room      string          `json:"room"`
	Partner   *chatfly.Member `json:"partner"`
	Shared    []string        `json:"shared"`
	Interests []string        `json:"interests"`
	Retry     int64           `json:"retry"`
}

func (v *rouletteFrame) retry() time.Duration {
	if v.Retry <= 0 {
		return defaultRetry
	}
	return time.Duration(v.Retry) * time.Millisecond
}

// asker asks the roulette again while the session waits. It watches every
// roulette frame the read loop decodes (replies and events alike), so it
// also follows actions sent with Do. It runs on a timer, not on a
// goroutine of its own.
type asker struct {
	mu        sync.Mutex
	timer     *time.Timer
	gen       int      // bumped whenever a scheduled ask becomes void
	ask       int64    // id of the client's own request in flight
	room      string   // the pair announced last
	interests []string // of the latest wait
	stopped   bool     // the connection ended
	running   sync.WaitGroup
}

// observe looks at a roulette frame (or an error answering the client's own
// request) before it is routed. It reports whether to drop it; for a
// reply to the client's own request it clears m.id, so that what it lets
// through is routed as an event.
func (a *asker) observe(c *Client, m *lineMeta, ev *Event) (drop bool) {
	if !strings.HasPrefix(ev.Type, "roulette.") && ev.Type != "error" {
		return false
	}
	id, _ := parseID(m.id)
	a.mu.Lock()
	defer a.mu.Unlock()
	own := id != 0 && id == a.ask
	if ev.Type == "error" && !own {
		return false
	}
	if own {
		a.ask, m.id = 0, nil
	}
	var v rouletteFrame
	_ = json.Unmarshal(ev.Raw, &v)
	switch ev.Type {
	case "roulette.waiting":
		a.interests = v.Interests
		a.schedule(c, v.retry())
		return own
	case "roulette.matched":
		a.gen++
		if own && v.Room == a.room {
			return true // the pair already announced
		}
		a.room = v.Room
	case "roulette.ended":
		if v.Room == a.room {
			a.room = ""
		}
	case "roulette.left":
		a.gen++
		a.room = ""
	case "error":
		a.gen++
		if m.code == "rate_limited" || m.code == "unavailable" {
			a.schedule(c, defaultRetry/4) // a passing refusal: try again
		}
	}
	return false
}

// schedule asks again after d, replacing any ask scheduled before. a.mu is
// held.
func (a *asker) schedule(c *Client, d time.Duration) {
	if a.stopped {
		return
	}
	a.gen++
	gen := a.gen
	if a.timer != nil {
		a.timer.Stop()
	}
	a.timer = time.AfterFunc(d, func() { a.fire(c, gen) })
}

func (a *asker) fire(c *Client, gen int) {
	a.mu.Lock()
	if a.stopped || gen != a.gen {
		a.mu.Unlock()
		return
	}
	f, id := c.frame("roulette.join")
	if len(a.interests) > 0 {
		f.members(interestsField(a.interests))
	}
	a.ask = id
	a.running.Add(1)
	a.mu.Unlock()
	defer a.running.Done()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultWriteTimeout)
	_ = c.write(ctx, f.bytes()) // a dead connection is noticed by the read loop
	cancel()
	f.release()
}

// quiet voids any scheduled ask and waits for one being written, so that
// no ask follows a frame the caller writes next.
func (a *asker) quiet() {
	a.mu.Lock()
	a.gen++
	a.mu.Unlock()
	a.running.Wait()
}

// halt stops asking for good; stop also waits for an ask being written.
func (a *asker) halt() {
	a.mu.Lock()
	a.stopped = true
	if a.timer != nil {
		a.timer.Stop()
	}
	a.mu.Unlock()
}

func (a *asker) stop() {
	a.halt()
	a.running.Wait()
}
