package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
)

// A fleet is a set of connected clients, each in one room, that phases of
// traffic run on. Every member has a consumer goroutine that reads its
// events and accounts deliveries, and (unless idle) a sender goroutine that
// sends a message whenever the phase's scheduler hands it a token.
type fleet struct {
	urls    []string // members dial them in turn (the nodes of a cluster)
	prefix  string
	dialers *dialers
	idle    bool // no senders (S4)

	mu      sync.Mutex
	members []*member
	rooms   [][]int // member indexes per room

	cur         atomic.Pointer[phase]
	closing     atomic.Bool
	disconnects atomic.Int64
	stale       atomic.Int64 // messages of earlier phases, or not the tool's
	wg          sync.WaitGroup
}

type member struct {
	idx    int
	room   string
	others int // members of its room besides itself
	c      *client.Client
	tokens chan token
}

// token tells a sender to send one message scheduled at sched (Unix ns).
type token struct {
	ph    *phase
	sched int64
}

// phase is one stretch of traffic with its own accounting.
type phase struct {
	id          int
	measureFrom int64 // Unix ns: messages scheduled from then on are measured
	sends       []*sendLedger
	recvs       []*recvLedger

	pending  atomic.Int64 // tokens handed out whose send has not returned
	skipped  atomic.Int64 // tokens dropped: the sender was still busy
	expected atomic.Int64 // confirmed messages × other members
	received atomic.Int64 // first deliveries to other members

	errMu  sync.Mutex
	errors map[string]int64
}

var phaseIDs atomic.Int64

func newFleet(urls []string, prefix string, d *dialers, idle bool) *fleet {
	return &fleet{urls: urls, prefix: prefix, dialers: d, idle: idle}
}

// add connects perRoom more clients to each of rooms rooms (room ids
// prefix+0 ... prefix+rooms-1), dial concurrency at most parallel.
func (f *fleet) add(ctx context.Context, rooms, perRoom, parallel int) error {
	f.mu.Lock()
	base := len(f.members)
	for len(f.rooms) < rooms {
		f.rooms = append(f.rooms, nil)
	}
	f.mu.Unlock()
	n := rooms * perRoom
	newMembers := make([]*member, n)
	errc := make(chan error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errc <- ctx.Err()
				return
			}
			defer func() { <-sem }()
			m, err := f.dial(ctx, base+i, roomName(f.prefix, i%rooms))
			if err != nil {
				errc <- err
				return
			}
			newMembers[i] = m
		})
	}
	wg.Wait()
	close(errc)
	var first error
	for err := range errc {
		first = err
		break
	}
	f.mu.Lock()
	for i, m := range newMembers {
		if m == nil {
			continue
		}
		f.members = append(f.members, m)
		m.idx = len(f.members) - 1
		f.rooms[i%rooms] = append(f.rooms[i%rooms], m.idx)
	}
	for _, idxs := range f.rooms {
		for _, i := range idxs {
			f.members[i].others = len(idxs) - 1
		}
	}
	f.mu.Unlock()
	for _, m := range newMembers {
		if m != nil {
			f.start(m)
		}
	}
	return first
}

func (f *fleet) dial(ctx context.Context, idx int, room string) (*member, error) {
	opts := &client.Options{
		Name:         "c" + strconv.Itoa(idx),
		HTTPClient:   f.dialers.client(),
		PingInterval: -1,
		EventBuffer:  256,
		NoGapFill:    true, // a lost message is counted lost, not fetched
	}
	if f.idle {
		opts.EventBuffer = 16
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := client.Dial(dctx, f.urls[idx%len(f.urls)], opts)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if _, err := c.Join(dctx, room, 0); err != nil {
		c.Close()
		if errors.Is(err, chatfly.ErrNotFound) {
			return nil, fmt.Errorf("join %s: %w (the server must have the benchmark rooms; serve-chatfly creates them)", room, err)
		}
		return nil, fmt.Errorf("join %s: %w", room, err)
	}
	m := &member{idx: idx, room: room, c: c}
	if !f.idle {
		m.tokens = make(chan token, 16)
	}
	return m, nil
}

func (f *fleet) start(m *member) {
	f.wg.Go(func() { f.consume(m) })
	if m.tokens != nil {
		f.wg.Go(func() { f.sendLoop(m) })
	}
}

// consume reads a member's events and accounts the benchmark messages.
func (f *fleet) consume(m *member) {
	for ev := range m.c.Events() {
		if ev.Type != "message" {
			continue
		}
		now := time.Now().UnixNano()
		p := f.cur.Load()
		id, sender, seq, sched, ok := parseText(ev.Text)
		if !ok || p == nil || id != p.id || sender >= len(p.recvs) {
			f.stale.Add(1)
			continue
		}
		if sender == m.idx {
			continue // its own message
		}
		if p.recvs[m.idx].record(sender, seq, sched >= p.measureFrom, time.Duration(now-sched)) {
			p.received.Add(1)
		}
	}
	if !f.closing.Load() {
		f.disconnects.Add(1)
	}
}

// sendLoop sends one message per token, and waits for the server's "sent".
func (f *fleet) sendLoop(m *member) {
	var buf []byte
	for tk := range m.tokens {
		p := tk.ph
		l := p.sends[m.idx]
		seq := l.nextSeq()
		buf = appendText(buf[:0], p.id, m.idx, seq, tk.sched)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		_, err := m.c.Send(ctx, m.room, string(buf))
		cancel()
		l.done(seq, err == nil, tk.sched >= p.measureFrom)
		if err == nil {
			p.expected.Add(int64(m.others))
		} else {
			p.failed(err)
		}
		p.pending.Add(-1)
	}
}

func (p *phase) failed(err error) {
	code := "other"
	var ce *chatfly.Error
	var cl *client.CloseError
	switch {
	case errors.As(err, &ce):
		code = ce.Code
	case errors.As(err, &cl):
		code = "closed " + strconv.Itoa(cl.Code)
	case errors.Is(err, context.DeadlineExceeded):
		code = "timeout"
	}
	p.errMu.Lock()
	if p.errors == nil {
		p.errors = make(map[string]int64)
	}
	p.errors[code]++
	p.errMu.Unlock()
}

// appendText appends the text of benchmark message seq of sender in phase
// id, scheduled at sched (Unix ns).
func appendText(b []byte, id, sender int, seq, sched int64) []byte {
	b = append(b, "bench "...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(sender), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ' ')
	return strconv.AppendInt(b, sched, 10)
}

// parseText parses what appendText wrote.
func parseText(s string) (id, sender int, seq, sched int64, ok bool) {
	rest, ok := strings.CutPrefix(s, "bench ")
	if !ok {
		return
	}
	var f [4]int64
	for i := range f {
		var tok string
		if i < 3 {
			tok, rest, ok = strings.Cut(rest, " ")
			if !ok {
				return 0, 0, 0, 0, false
			}
		} else {
			tok = rest
		}
		v, err := strconv.ParseInt(tok, 10, 64)
		if err != nil || v < 0 {
			return 0, 0, 0, 0, false
		}
		f[i] = v
	}
	return int(f[0]), int(f[1]), f[2], f[3], true
}

// load describes the traffic of a phase: either every member sends
// perClient messages per second, evenly spaced, or random members send
// total messages per second in all.
type load struct {
	perClient float64
	total     float64
	warmup    time.Duration
	duration  time.Duration
	drain     time.Duration // longest wait for late deliveries
}

// phaseResult is what a phase measured.
type phaseResult struct {
	Clients          int              `json:"clients"`
	Rooms            int              `json:"rooms"`
	RatePerClient    float64          `json:"rate_per_client,omitempty"`
	TotalRate        float64          `json:"total_rate"`
	Seconds          float64          `json:"seconds"`
	Messages         int64            `json:"messages"`
	Deliveries       int64            `json:"deliveries"`
	DeliveriesPerSec float64          `json:"deliveries_per_sec"`
	P50ms            float64          `json:"p50_ms"`
	P90ms            float64          `json:"p90_ms"`
	P99ms            float64          `json:"p99_ms"`
	MaxMs            float64          `json:"max_ms"`
	MeanMs           float64          `json:"mean_ms"`
	Expected         int64            `json:"expected"`
	Lost             int64            `json:"lost"`
	Duplicated       int64            `json:"duplicated"`
	Reordered        int64            `json:"reordered"`
	Unconfirmed      int64            `json:"unconfirmed"`
	SendFailed       int64            `json:"send_failed"`
	SendErrors       map[string]int64 `json:"send_errors,omitempty"`
	Skipped          int64            `json:"skipped"`
	Disconnects      int64            `json:"disconnects"`
	Stale            int64            `json:"stale"`
	ServerCPUSec     float64          `json:"server_cpu_sec"`
	CPUPerDelivUs    float64          `json:"server_cpu_per_delivery_us"`
	LoadgenCPUSec    float64          `json:"loadgen_cpu_sec"`
	ServerRSSMiB     float64          `json:"server_rss_mib"`
	Drained          bool             `json:"drained"`

	hist histogram
}

// run runs one phase of traffic on the fleet; pids are the server's
// processes for CPU readings (none: not measured).
func (f *fleet) run(ctx context.Context, ld load, pids procs) *phaseResult {
	f.mu.Lock()
	members, rooms := f.members, f.rooms
	f.mu.Unlock()
	n := len(members)
	p := &phase{id: int(phaseIDs.Add(1)), sends: make([]*sendLedger, n), recvs: make([]*recvLedger, n)}
	for i := range n {
		p.sends[i], p.recvs[i] = &sendLedger{}, &recvLedger{}
	}
	total := ld.total
	if total == 0 {
		total = ld.perClient * float64(n)
	}
	start := time.Now().Add(20 * time.Millisecond)
	p.measureFrom = start.Add(ld.warmup).UnixNano()
	end := start.Add(ld.warmup + ld.duration)
	f.cur.Store(p)
	disc0 := f.disconnects.Load()
	stale0 := f.stale.Load()

	order := rand.Perm(n)
	pick := func(k int64) int { return order[k%int64(n)] }
	if ld.total > 0 {
		pick = func(int64) int { return rand.IntN(n) }
	}
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		schedule(ctx, p, members, start, end, total, pick)
	}()

	sleepUntil(ctx, time.Unix(0, p.measureFrom))
	cpu0, self0 := pids.cpu(), procCPU(selfPID)
	sleepUntil(ctx, end)
	cpu1, self1 := pids.cpu(), procCPU(selfPID)
	rss := pids.rss()
	<-schedDone

	// Wait for the sends to be answered, then for the deliveries.
	deadline := time.Now().Add(15 * time.Second)
	for p.pending.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	deadline = time.Now().Add(ld.drain)
	drained := false
	for ctx.Err() == nil {
		if p.received.Load() >= p.expected.Load() && p.pending.Load() == 0 {
			drained = true
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t := account(rooms, p.sends, p.recvs)
	var msgs int64
	for _, s := range p.sends {
		s.mu.Lock()
		msgs += s.measured
		s.mu.Unlock()
	}
	secs := ld.duration.Seconds()
	r := &phaseResult{
		Clients: n, Rooms: len(rooms), RatePerClient: ld.perClient, TotalRate: total, Seconds: secs,
		Messages: msgs, Deliveries: t.Measured, DeliveriesPerSec: float64(t.Measured) / secs,
		P50ms: ms(t.lat.quantile(0.50)), P90ms: ms(t.lat.quantile(0.90)), P99ms: ms(t.lat.quantile(0.99)),
		MaxMs: ms(time.Duration(t.lat.max)), MeanMs: ms(t.lat.mean()),
		Expected: t.Expected, Lost: t.Lost, Duplicated: t.Duplicated, Reordered: t.Reordered,
		Unconfirmed: t.Unconfirmed, SendFailed: t.SendFailed, Skipped: p.skipped.Load(),
		Disconnects: f.disconnects.Load() - disc0, Stale: f.stale.Load() - stale0,
		ServerCPUSec: -1, CPUPerDelivUs: -1, LoadgenCPUSec: -1, ServerRSSMiB: -1,
		Drained: drained, hist: t.lat,
	}
	p.errMu.Lock()
	r.SendErrors = p.errors
	p.errMu.Unlock()
	if cpu0 >= 0 && cpu1 >= 0 {
		r.ServerCPUSec = (cpu1 - cpu0).Seconds()
		if t.Measured > 0 {
			r.CPUPerDelivUs = float64((cpu1 - cpu0).Microseconds()) / float64(t.Measured)
		}
	}
	if self0 >= 0 && self1 >= 0 {
		r.LoadgenCPUSec = (self1 - self0).Seconds()
	}
	if rss >= 0 {
		r.ServerRSSMiB = float64(rss) / (1 << 20)
	}
	return r
}

// schedule hands out send tokens at rate per second from start until end:
// token k is due at start + k/rate and goes to member pick(k). A member
// still busy with earlier tokens may queue a few; beyond that the token is
// dropped and counted as skipped (the load generator fell behind).
func schedule(ctx context.Context, p *phase, members []*member, start, end time.Time, rate float64, pick func(int64) int) {
	if rate <= 0 {
		return
	}
	interval := float64(time.Second) / rate
	t0 := start.UnixNano()
	stop := end.UnixNano()
	for k := int64(0); ctx.Err() == nil; k++ {
		due := t0 + int64(float64(k)*interval)
		if due >= stop {
			return
		}
		if wait := due - time.Now().UnixNano(); wait > 0 {
			time.Sleep(time.Duration(wait))
		}
		m := members[pick(k)]
		p.pending.Add(1)
		select {
		case m.tokens <- token{ph: p, sched: due}:
		default:
			p.pending.Add(-1)
			p.skipped.Add(1)
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}

// close hangs up every member.
func (f *fleet) close() {
	f.closing.Store(true)
	f.mu.Lock()
	members := f.members
	f.mu.Unlock()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, m := range members {
		if m.tokens != nil {
			close(m.tokens)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			m.c.Close()
		})
	}
	wg.Wait()
	f.wg.Wait()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
