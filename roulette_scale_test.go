package chatfly_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
)

// retryOf is the delay a roulette.waiting reply tells the client to wait
// before asking again.
func retryOf(t *testing.T, r map[string]any) time.Duration {
	t.Helper()
	require.Equal(t, "roulette.waiting", r["type"], "%v", r)
	ms, ok := r["retry"].(float64)
	require.True(t, ok, "waiting without retry: %v", r)
	return time.Duration(ms) * time.Millisecond
}

// A waiter with interests and one without are paired when the fallback
// comes due, by whichever of them asks again when its retry says: the
// other sends nothing.
func TestRouletteRetryPairsOnTime(t *testing.T) {
	for _, asker := range []string{"plain", "tagged"} {
		t.Run(asker+" asks again", func(t *testing.T) {
			th := newTestHub(t, nil)
			ada, _ := th.hello("Ada")
			cy, _ := th.hello("Cy")
			start := th.clock.Now()
			adaRetry := retryOf(t, th.reply(ada, `{"action":"roulette.join","id":1,"interests":["go"]}`))
			assert.Equal(t, 10*time.Second, adaRetry, "Ada may fall back after 10 s")
			th.clock.Advance(3 * time.Second)
			cyRetry := retryOf(t, th.reply(cy, `{"action":"roulette.join","id":1}`))
			assert.Equal(t, 7*time.Second, cyRetry, "Cy could be paired with Ada once her fallback is due")

			conn, other, wait := cy, ada, cyRetry
			if asker == "tagged" {
				conn, other, wait = ada, cy, adaRetry-3*time.Second
			}
			th.clock.Advance(wait)
			r := th.reply(conn, `{"action":"roulette.join","id":2,"interests":`+map[bool]string{true: `["go"]`, false: `[]`}[conn == ada]+`}`)
			require.Equal(t, "roulette.matched", r["type"], "%v", r)
			ev := ofType(th.tr.take(other), "roulette.matched")
			require.Len(t, ev, 1, "the other side is told without asking")
			assert.Equal(t, r["room"], ev[0]["room"])
			assert.LessOrEqual(t, th.clock.Now().Sub(start), 11*time.Second, "paired within fallback + 1 s")
		})
	}
}

// Without any client asking again, Hub.Sweep pairs the two once the
// fallback is due, and not before.
func TestRouletteSweep(t *testing.T) {
	th := newTestHub(t, nil)
	ctx := context.Background()
	ada, _ := th.hello("Ada")
	cy, _ := th.hello("Cy")
	th.reply(ada, `{"action":"roulette.join","id":1,"interests":["go"]}`)
	th.reply(cy, `{"action":"roulette.join","id":1}`)
	th.clock.Advance(9 * time.Second)
	n, err := th.hub.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "paired before Ada's fallback")
	th.clock.Advance(time.Second)
	n, err = th.hub.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	a, c := ofType(th.tr.take(ada), "roulette.matched"), ofType(th.tr.take(cy), "roulette.matched")
	require.Len(t, a, 1)
	require.Len(t, c, 1)
	assert.Equal(t, "Cy", partnerOf(a[0]))
	assert.Equal(t, "Ada", partnerOf(c[0]))
	assert.Equal(t, a[0]["room"], c[0]["room"])
	room := a[0]["room"].(string)
	th.reply(cy, `{"action":"send","id":3,"room":"`+room+`","text":"hi"}`)
	assert.Len(t, ofType(th.tr.take(ada), "message"), 1, "the pair room works")
	n, err = th.hub.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "a pair is made once")
	// Asking again while paired answers the pair.
	r := th.reply(ada, `{"action":"roulette.join","id":4}`)
	assert.Equal(t, "roulette.matched", r["type"])
	assert.Equal(t, room, r["room"])
}

// queueListings counts the listings in the anyone partition of the
// default Matcher (keys.go: rq#<shard>#*), where every waiter is listed.
func queueListings(t *testing.T, s chatfly.Storage) int {
	t.Helper()
	n := 0
	for shard := range 4 {
		items, err := s.Query(context.Background(), chatfly.Query{Partition: "rq#" + strconv.Itoa(shard) + "#*"})
		require.NoError(t, err)
		n += len(items)
	}
	return n
}

// Poisoning: 1,000 scripted waiters from one address (per-address limit
// off), each with an interest nobody else has, wait ahead of two people
// who share one: the two are paired on their first join, and a join costs
// the same number of storage calls (bounded by its tags and the shards,
// not by the queue) with 1,000 waiters ahead as with none.
func TestRouletteQueuePoisoning(t *testing.T) {
	th := newTestHub(t, nil)
	cs := newCountingStore(th.store)
	off := chatfly.AddressLimits{Connections: -1, SessionsPerHour: -1, RouletteWaiting: -1}
	th.hub = chatfly.New(cs.Storage(), th.tr, &chatfly.Options{Now: th.clock.Now, AddressLimits: off})

	// joinCost has two fresh people who share "chess" join, and returns the
	// storage calls of the second join, which must pair them.
	round := 0
	joinCost := func() map[string]int {
		round++
		a, _ := th.helloFrom("198.51.100.1", "Ann"+strconv.Itoa(round))
		b, _ := th.helloFrom("198.51.100.2", "Bob"+strconv.Itoa(round))
		require.Equal(t, "roulette.waiting", th.reply(a, `{"action":"roulette.join","id":1,"interests":["chess"]}`)["type"])
		cs.take()
		r := th.reply(b, `{"action":"roulette.join","id":1,"interests":["music","chess"]}`)
		calls := cs.take()
		require.Equal(t, "roulette.matched", r["type"], "the two who share an interest are paired on the first join: %v", r)
		assert.Equal(t, "Ann"+strconv.Itoa(round), partnerOf(r))
		return calls
	}
	empty := joinCost()

	bots := make([]string, 1000)
	for i := range bots {
		bots[i], _ = th.helloFrom("203.0.113.9", "bot"+strconv.Itoa(i))
		require.Equal(t, "roulette.waiting", th.reply(bots[i], `{"action":"roulette.join","id":1,"interests":["b`+strconv.Itoa(i)+`"]}`)["type"])
	}
	require.Equal(t, 1000, queueListings(t, th.store), "the bots wait")
	th.clock.Advance(5 * time.Second) // the bots have waited longer
	full := joinCost()
	t.Logf("storage calls of a pairing join: empty queue %v, 1,000 waiters ahead %v", empty, full)
	assert.Equal(t, empty["items"], full["items"], "items read: the bots' listings are not read at all")
	assert.LessOrEqual(t, full["Query"], 2*4, "queries: one per shard of each of the joiner's two tags at most")
	assert.LessOrEqual(t, full["Get"]+full["Put"]+full["Delete"]+full["Add"]+full["Query"], 40, "storage calls per join: %v", full)

	// A newcomer without interests reads one page per shard, however long
	// the queue, and is told to ask again when the oldest bot may fall
	// back; then it is paired with the oldest bot.
	cy, _ := th.helloFrom("198.51.100.3", "Cy")
	cs.take()
	wait := retryOf(t, th.reply(cy, `{"action":"roulette.join","id":1}`))
	calls := cs.take()
	t.Logf("storage calls of a waiting join without interests, 1,000 waiters ahead: %v", calls)
	assert.Equal(t, 5*time.Second, wait)
	assert.Equal(t, 4, calls["Query"], "one query per shard: %v", calls)
	assert.LessOrEqual(t, calls["items"], 4*chatfly.MatcherPage, "items read: %v", calls)
	th.clock.Advance(wait)
	r := th.reply(cy, `{"action":"roulette.join","id":2}`)
	assert.Equal(t, "roulette.matched", r["type"])
	assert.Regexp(t, "^bot", partnerOf(r))

	// Bots that leave take their listings with them.
	for _, b := range bots {
		th.do(b, `{"action":"roulette.leave","id":2}`)
	}
	assert.Zero(t, queueListings(t, th.store), "listings left after everyone left")
}

// fifoMatcher is a custom Matcher: first come, first paired, in memory (a
// single-process application's own rule).
type fifoMatcher struct {
	mu    sync.Mutex
	queue []chatfly.Waiter
	done  [][2]string
}

func (f *fifoMatcher) Match(_ context.Context, w chatfly.Waiter) (*chatfly.Match, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case len(f.queue) == 0:
		f.queue = append(f.queue, w)
	case f.queue[0].Session != w.Session:
		o := f.queue[0]
		f.queue = f.queue[1:]
		return &chatfly.Match{A: w, B: o}, time.Time{}, nil
	}
	return nil, time.Time{}, nil // waiting (a join pairs at once, so one waits at most)
}

func (f *fifoMatcher) Remove(_ context.Context, sid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, o := range f.queue {
		if o.Session == sid {
			f.queue = append(f.queue[:i], f.queue[i+1:]...)
			break
		}
	}
	return nil
}

func (f *fifoMatcher) Done(_ context.Context, a, b string) error {
	f.mu.Lock()
	f.done = append(f.done, [2]string{a, b})
	f.mu.Unlock()
	return nil
}

// A custom Matcher plugs in with Options.Matcher: the Hub pairs, tells,
// ends and reports the pair to Done with the two session ids; without
// a retry of its own the client is told to ask again in 20 s; Sweep
// does nothing for a Matcher that is not a Sweeper.
func TestCustomMatcher(t *testing.T) {
	th := newTestHub(t, nil)
	fm := &fifoMatcher{}
	th.hub = chatfly.New(th.store, th.tr, &chatfly.Options{Now: th.clock.Now, Matcher: fm})
	a, wa := th.hello("Ann")
	b, wb := th.hello("Bob")
	assert.Equal(t, 20*time.Second, retryOf(t, th.reply(a, `{"action":"roulette.join","id":1,"interests":["x"]}`)))
	r := th.reply(b, `{"action":"roulette.join","id":1}`)
	require.Equal(t, "roulette.matched", r["type"])
	assert.Equal(t, "Ann", partnerOf(r))
	require.Len(t, ofType(th.tr.take(a), "roulette.matched"), 1)
	n, err := th.hub.Sweep(context.Background())
	assert.NoError(t, err)
	assert.Zero(t, n)
	th.reply(b, `{"action":"roulette.leave","id":2}`)
	assert.Equal(t, [][2]string{{wb["session"].(string), wa["session"].(string)}}, fm.done)
}

// hookStore runs after once, just after the first Delete of key.
type hookStore struct {
	chatfly.Storage
	key   chatfly.Key
	after func()
	done  atomic.Bool
}

func (s *hookStore) Delete(ctx context.Context, k chatfly.Key, c chatfly.Cond) error {
	err := s.Storage.Delete(ctx, k, c)
	if k == s.key && s.done.CompareAndSwap(false, true) {
		s.after()
	}
	return err
}

// Both partners press next at once, and the one who loses finds its pair
// record already gone while the winner is still ending the pair: it is
// queued all the same, not left out of the queue, invisible, until it asks
// again.
func TestRouletteNextRacingPartnersNext(t *testing.T) {
	th := newTestHub(t, nil)
	ann, wa := th.hello("Ann")
	bob, _ := th.hello("Bob")
	th.reply(ann, `{"action":"roulette.join","id":1}`)
	require.Equal(t, "roulette.matched", th.reply(bob, `{"action":"roulette.join","id":1}`)["type"])
	th.tr.take(ann)
	var annNext map[string]any
	hs := &hookStore{Storage: th.store, key: chatfly.Key{Partition: "sess#" + wa["session"].(string), Sort: "pair"}}
	hub := chatfly.New(hs, th.tr, &chatfly.Options{Now: th.clock.Now})
	hs.after = func() { // Bob's next has just deleted Ann's record: Ann presses next
		annNext = ofType(th.do(ann, `{"action":"roulette.next","id":2}`), "roulette.waiting")[0]
	}
	th.hub = hub
	r := th.reply(bob, `{"action":"roulette.next","id":2}`)
	require.NotNil(t, annNext, "Ann's next ran inside Bob's")
	// Ann waits in the queue: Bob, looking again, finds her (nobody else
	// waits), and so would anyone.
	require.Equal(t, "roulette.matched", r["type"], "%v", r)
	assert.Equal(t, "Ann", partnerOf(r))
}
