package memstore

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/chatfly/chatfly"
)

// errFull is returned by a write refused because the budget is full of
// items that cannot be evicted.
var errFull = chatfly.Errorf(chatfly.ErrUnavailable, "the memory storage is full, try again later")

// fullSweepEvery is the least time between two sweeps of every shard by
// reclaim.
const fullSweepEvery = time.Second

// errRetry tells a write to look its slot up again: admit unlocked the shard
// to reclaim memory.
var errRetry = errors.New("memstore: retry")

// queued is an entry of a shard's eviction queue: the partition named name
// had an evictable item written at tick. It is valid while the partition's
// active tick is still tick; later writes append a new entry instead of
// moving this one, so the queue is in order of ticks and its front is the
// least recently written partition with evictable items.
type queued struct {
	name string
	tick uint64
}

// evictable reports whether the item at k may be evicted (the store has a
// budget and k is a message).
func (s *Store) evictable(k chatfly.Key) bool {
	if s.max < 0 {
		return false
	}
	prefix, ok := chatfly.EvictablePrefix(k.Partition)
	return ok && strings.HasPrefix(k.Sort, prefix)
}

// admission is the state of a write that admit may have to retry.
type admission struct {
	tries     int  // reclaims done for it
	exhausted bool // the last one found nothing left to evict
}

// maxTries is the most times a write reclaims memory for itself before it
// is refused, when other writers keep filling what it freed.
const maxTries = 4

// admit decides whether a write of an item that is not evictable may add
// grow bytes to the shard of slot w, which the caller holds locked. It
// returns nil if it may. Otherwise it unlocks the shard and either reclaims
// memory and returns errRetry, or, if there was nothing left to evict or it
// tried enough, counts the refusal and returns errFull.
func (s *Store) admit(w *slot, c *clock, grow int64, a *admission) error {
	if grow <= 0 || s.max < 0 || s.bytes.Load()+w.sh.pending+grow <= s.max {
		return nil
	}
	if a.tries < maxTries && !a.exhausted {
		a.tries++
		w.sh.mu.Unlock()
		a.exhausted = s.reclaim(true, s.max-grow)
		return errRetry
	}
	w.sh.wrote(c) // refused writes pay for sweeps too: they free what expired
	w.sh.mu.Unlock()
	s.refused.Add(1)
	return errFull
}

// write stores e into slot w of the partition named name, whose shard the
// caller holds locked, if the budget admits it, and unlocks the shard. It
// returns errRetry if the caller must look the slot up again (see admit).
func (s *Store) write(w *slot, c *clock, name string, e entry, evictable bool, a *admission) error {
	grow := w.growth(name, &e)
	if !evictable {
		if err := s.admit(w, c, grow, a); err != nil {
			return err
		}
	}
	w.sh.store(name, w, e, grow, evictable)
	s.done(w.sh, c, evictable)
	return nil
}

// done ends a write to sh, which the caller holds locked: it counts the
// write, unlocks sh and, after the write of an evictable item, reclaims
// memory if the store is over its budget.
func (s *Store) done(sh *shard, c *clock, evictable bool) {
	sh.wrote(c)
	over := evictable && s.bytes.Load()+sh.pending > s.max
	sh.mu.Unlock()
	if over {
		s.reclaim(false, s.low)
	}
	s.sweepIfDue(c)
}

// sweepIfDue sweeps every shard if SweepInterval has passed since the
// last time, by the time c read. Only writes that looked at an expiry, and
// so read the clock already, check.
func (s *Store) sweepIfDue(c *clock) {
	if c.read {
		s.sweepAt(c)
	}
}

// sweepAt is sweepIfDue once the clock is read. It does nothing if another
// writer is reclaiming.
func (s *Store) sweepAt(c *clock) {
	if s.sweepEvery > 0 && c.t.Unix() >= s.sweepDue.Load() && s.evictMu.TryLock() {
		if c.t.Unix() >= s.sweepDue.Load() {
			s.sweepAll(c)
		}
		s.evictMu.Unlock()
	}
}

// account adds d to the shard's accounted bytes, and to the store's total
// once the change not yet added reaches the store's batch size.
func (sh *shard) account(d int64) {
	if d == 0 {
		return
	}
	sh.bytes += d
	sh.pending += d
	if sh.pending >= sh.st.flush || sh.pending <= -sh.st.flush {
		sh.flushPending()
	}
}

// flushPending adds the shard's pending change of bytes to the store's
// total.
func (sh *shard) flushPending() {
	if sh.pending != 0 {
		sh.st.bytes.Add(sh.pending)
		sh.pending = 0
	}
}

// touch makes p, the partition named name, the most recently written one of
// the shard's eviction queue. The caller stores p back into the map.
func (sh *shard) touch(name string, p *part) {
	t := sh.st.tick.Add(1)
	if n := len(sh.queue); p.active != 0 && n > sh.qhead && sh.queue[n-1].tick == p.active {
		sh.queue[n-1].tick = t // already the latest: move nothing
	} else {
		if p.active == 0 {
			sh.queued++
		}
		sh.queue = append(sh.queue, queued{name: name, tick: t})
	}
	p.active = t
}

// compact drops the invalid entries of the shard's eviction queue.
func (sh *shard) compact() {
	q := sh.queue[:0]
	for _, e := range sh.queue[sh.qhead:] {
		if sh.parts[e.name].active == e.tick {
			q = append(q, e)
		}
	}
	clear(sh.queue[len(q):])
	if cap(q) > 64 && cap(q) > 4*len(q) {
		q = slices.Clone(q)
	}
	sh.queue, sh.qhead = q, 0
}

// front drops the invalid entries at the front of the shard's eviction
// queue and returns the first valid one, if any.
func (sh *shard) front() (queued, bool) {
	for sh.qhead < len(sh.queue) {
		q := sh.queue[sh.qhead]
		if sh.parts[q.name].active == q.tick {
			return q, true
		}
		sh.queue[sh.qhead] = queued{}
		sh.qhead++
	}
	sh.queue, sh.qhead = sh.queue[:0], 0
	return queued{}, false
}

// reclaim brings the accounted bytes down to s.low, or to target if that is
// lower, if they are above it: it
// sweeps every shard if it last did so fullSweepEvery ago or more, else the
// shards that are at least a quarter due for a sweep, then evicts messages,
// the oldest of the least recently written partition first. With wait false
// it returns at once if another writer is reclaiming, which brings the bytes
// down for it.
//
// So a store full of items that cannot be evicted finds out what expired
// within fullSweepEvery, at the cost of one pass over its items. reclaim
// reports whether it ran out of items to evict.
func (s *Store) reclaim(wait bool, target int64) (exhausted bool) {
	if wait {
		s.evictMu.Lock()
	} else if !s.evictMu.TryLock() {
		return false
	}
	defer s.evictMu.Unlock()
	target = min(target, s.low)
	if s.bytes.Load() <= target {
		return false
	}
	c := clock{now: s.now, t: s.now(), read: true}
	if !c.t.Before(s.fullSweep.Add(fullSweepEvery)) {
		s.sweepAll(&c)
	} else {
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.Lock()
			if 4*sh.writes >= sh.sweepAt {
				sh.sweep(&c)
			}
			sh.flushPending()
			sh.mu.Unlock()
		}
	}
	// The front of each shard's queue: the least recently written of them
	// all is the oldest partition of the store. Writes during the round
	// only add newer ones, or invalidate a front, which evict notices.
	var fronts [numShards]queued
	for i := range s.shards {
		fronts[i] = s.shards[i].peek()
	}
	for s.bytes.Load() > target {
		best := -1
		for i, q := range fronts {
			if q.tick != 0 && (best < 0 || q.tick < fronts[best].tick) {
				best = i
			}
		}
		if best < 0 {
			return true
		}
		sh := &s.shards[best]
		sh.evict(fronts[best], s.bytes.Load()-target, &c)
		fronts[best] = sh.peek()
	}
	return false
}

// peek returns the front of the shard's eviction queue (see front), with
// tick 0 if it is empty.
func (sh *shard) peek() queued {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	q, _ := sh.front()
	return q
}

// evict removes the oldest evictable items of the partition of q, until
// they free need bytes or none is left; then the partition leaves the
// queue. It does nothing if q is no longer valid (the partition was written
// to or dropped since q was read).
func (sh *shard) evict(q queued, need int64, c *clock) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	p, ok := sh.parts[q.name]
	if !ok || p.active != q.tick {
		return
	}
	prefix, _ := chatfly.EvictablePrefix(q.name)
	lo, hi := p.e.bounds(chatfly.Query{Prefix: prefix})
	var freed, lost int64
	j := lo
	for ; j < hi && freed < need; j++ {
		freed += p.e[j].size()
		if p.e[j].live(c) {
			lost++
		}
	}
	p.e = slices.Delete(p.e, lo, j)
	sh.items -= j - lo
	if j == hi {
		p.active = 0 // no evictable item left: q is now invalid
		sh.queued--
	}
	if len(p.e) == 0 {
		delete(sh.parts, q.name)
		freed += partSize(q.name)
	} else {
		p.e = p.e.shrunk()
		sh.parts[q.name] = p
	}
	sh.account(-freed)
	sh.flushPending()
	sh.st.evicted.Add(lost)
}

// Sweep reclaims the memory of every expired and deleted item at once, and
// the memory of the partitions and maps they leave mostly unused. It takes
// time proportional to the number of items held and locks one shard at a
// time. Writes do the same incrementally and every [Options.SweepInterval]
// (see [Store]); as memstore starts no goroutine, a host whose traffic may
// stop for long periods can call Sweep from a timer of its own.
func (s *Store) Sweep() {
	s.evictMu.Lock()
	defer s.evictMu.Unlock()
	s.sweepAll(&clock{now: s.now, t: s.now(), read: true})
}

// sweepAll sweeps every shard at the time c has read. The caller holds
// evictMu.
func (s *Store) sweepAll(c *clock) {
	s.fullSweep = c.t
	if s.sweepEvery > 0 {
		s.sweepDue.Store(c.t.Unix() + s.sweepEvery)
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.sweep(c)
		sh.flushPending()
		sh.mu.Unlock()
	}
}

// Stats is a snapshot of the memory held by a [Store].
type Stats struct {
	// Bytes is the memory accounted for (see [Store]), including items
	// that expired or were deleted and are not reclaimed yet.
	Bytes int64
	// Items is the number of items held, including items that expired or
	// were deleted and are not reclaimed yet ([Store.Len] counts the live
	// ones).
	Items int
	// Partitions is the number of partitions held.
	Partitions int
	// Evicted is the number of live messages evicted to stay within the
	// budget since the Store was made.
	Evicted int64
	// Refused is the number of writes refused with chatfly.ErrUnavailable
	// because the budget was full, since the Store was made.
	Refused int64
	// MaxBytes is the budget ([Options.MaxBytes] after defaults; negative:
	// none).
	MaxBytes int64
}

// Stats returns the store's memory statistics. It takes time proportional
// to the number of shards (not of items) and locks one shard at a time, so
// writes that run concurrently may or may not be counted.
func (s *Store) Stats() Stats {
	st := Stats{Evicted: s.evicted.Load(), Refused: s.refused.Load(), MaxBytes: s.max}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		st.Bytes += sh.bytes
		st.Items += sh.items
		st.Partitions += len(sh.parts)
		sh.mu.RUnlock()
	}
	return st
}
