package chatfly

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Waiter is a session waiting in the roulette queue.
type Waiter struct {
	// Session is the waiting session's id.
	Session string `json:"s"`
	// Conn is its connection.
	Conn string `json:"c"`
	// Name is its display name.
	Name string `json:"n"`
	// Addr is the AddrKey of its client address ("" if unknown), for
	// per-address limits and for Compatible rules.
	Addr string `json:"a,omitempty"`
	// Interests are its normalised interest tags (lower case, sorted).
	Interests []string `json:"i,omitempty"`
	// Since is when it started waiting.
	Since time.Time `json:"t"`
	// Last is the session it was paired with last, if any: the Matcher
	// avoids pairing the two again back to back while others wait.
	Last string `json:"l,omitempty"`
}

// Match is a pairing made by a [Matcher].
type Match struct {
	// A and B are the two sessions paired; A is the one whose Match call
	// made the pairing.
	A, B Waiter
	// Shared are the interests A and B have in common.
	Shared []string
}

// Matcher pairs roulette waiters. The Hub calls Match when a session asks
// to be matched (roulette.join, roulette.next) and again when the session
// asks again while waiting; it does the rest (pair rooms, notifications,
// ending pairs). A Matcher is given only session ids and [Waiter] values:
// how it stores its queue is its own business.
//
// Implementers: a Matcher must never pair a session with itself, never put
// one session in two pairs, and must be safe for concurrent use by many
// Hubs sharing its state (processes, Lambda invocations). Once Match has
// paired a session, Match calls for it return no pair and leave it
// unqueued until Done is called for the pair (the Hub records the pair in
// between and answers joins itself). [NewMatcher] returns the default
// implementation, built only on a Storage's single-item conditional
// writes; applications may plug in their own (by language, region…) with
// [Options.Matcher]. A Matcher may also implement [Sweeper].
type Matcher interface {
	// Match puts w in the queue, or refreshes its entry if it is already
	// waiting (keeping its place), and pairs it with a compatible waiter if
	// there is one. When it leaves w waiting it returns a nil *Match and
	// retry: the earliest time at which asking again could pair w (a
	// fallback that comes due) or at which w must refresh its entry to
	// keep it; the Hub tells the client to ask again then (zero: the Hub's
	// default of 20 s).
	Match(ctx context.Context, w Waiter) (m *Match, retry time.Time, err error)
	// Remove takes a session out of the queue. Removing a session that
	// is not waiting is not an error. A session that a Match has just
	// paired stays paired.
	Remove(ctx context.Context, session string) error
	// Done tells the Matcher that the pair of sessions a and b is over
	// (the Hub recorded it and has removed it again), so that either may
	// be queued again.
	Done(ctx context.Context, a, b string) error
}

// Sweeper is an optional interface of a [Matcher]: Sweep pairs, in one
// bounded pass, waiters that could be paired now but are not because
// neither asked again when that became possible (a client that does not
// follow roulette.waiting's retry, or whose timers a browser throttles).
// [Hub.Sweep] calls it and opens the pairs it returns.
type Sweeper interface {
	Sweep(ctx context.Context) ([]*Match, error)
}

// MatcherOptions configures the default Matcher. A nil *MatcherOptions, and
// every zero field, means the documented default.
type MatcherOptions struct {
	// FallbackAfter is how long a waiter with interests holds out for
	// someone who shares one; after it, anyone will do. Default 10 s.
	FallbackAfter time.Duration
	// QueueTTL is how long a queue entry lives unless refreshed (clients
	// refresh it by asking again when roulette.waiting's retry says, at
	// the latest every QueueTTL/3). A connection that vanished without a
	// disconnect is never matched after it. Default 60 s.
	QueueTTL time.Duration
	// Shards is how many storage partitions each queue partition (one per
	// interest tag, plus one for everyone) is split into, so that a busy
	// queue or a popular tag does not put every read and write on one
	// storage key. A waiter is listed in one shard of each partition (by
	// its session id); a search reads the waiter's own shard first and the
	// others only if it finds nobody there. Default 4.
	Shards int
	// Compatible, if set, is an extra rule: two waiters are paired only if
	// it returns true (same language, same region…).
	Compatible func(a, b Waiter) bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// NewMatcher returns the default Matcher over store.
//
// Queue: each waiter has one index item, which is its lock and its state
// (waiting, or claimed by a pairing), and a listing (a copy of the
// [Waiter]) in the partition of each of its interest tags and in the
// "anyone" partition, each split in Shards. A search reads at most
// [MatcherPage] listings of each shard it reads, oldest first, so a join
// costs the same whatever the length of the queue: a waiter with
// interests reads its tags' partitions (and, once its fallback is due,
// the anyone partition), a waiter without reads the anyone partition.
// Listings expire with their waiter's wait; a listing a search finds
// stale (its waiter paired, gone or queued again) is deleted then, and a
// waiter that asks again after its wait expired deletes its old listings.
//
// Pairing: to pair A with B, the Matcher claims both index items with
// compare-and-set, always in queue order (like ordered lock acquisition,
// so two Matchers racing for overlapping pairs cannot deadlock), and
// releases the first claim if the second fails. A claimed waiter is never
// claimed again, so no session ends up in two pairs. Every Match first
// writes its own listings and then searches, so of two compatible waiters
// arriving at the same time at least one sees the other.
func NewMatcher(store Storage, opts *MatcherOptions) Matcher {
	var o MatcherOptions
	if opts != nil {
		o = *opts
	}
	if o.FallbackAfter <= 0 {
		o.FallbackAfter = 10 * time.Second
	}
	if o.QueueTTL <= 0 {
		o.QueueTTL = 60 * time.Second
	}
	if o.Shards <= 0 {
		o.Shards = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &matcher{store: store, opts: o}
}

// MatcherPage is the most listings the default Matcher reads from one
// queue shard per search.
const MatcherPage = 32

type matcher struct {
	store Storage
	opts  MatcherOptions
}

const (
	claimTTL = 10 * time.Second // a claim outlives a crash of its Matcher only briefly
	// maxClaims bounds the pairings one search attempts under contention.
	maxClaims = 8
	// contendedRetry is when to ask again after a search lost every race.
	contendedRetry = time.Second
	// spread is among how many of the oldest equal candidates a search
	// picks one at random.
	spread = 3
)

// queueEntry is the value of a waiter's index item.
type queueEntry struct {
	Waiter
	// Entry is the sort key of the waiter's listings.
	Entry string `json:"e"`
	// Until is when the wait expires unless refreshed (Unix ms); the
	// item lives a QueueTTL longer, so that a late refresh finds the old
	// listings to delete.
	Until int64 `json:"u,omitempty"`
	// Claim is empty while waiting; otherwise the id of the pairing that
	// holds the entry, with Partner the other session of that pairing.
	Claim   string `json:"claim,omitempty"`
	Partner string `json:"p,omitempty"`
}

// queueSort orders entries by arrival. The random suffix keeps a new entry
// of a session apart from its previous, claimed one.
func queueSort(w Waiter) string {
	ns := strconv.FormatInt(w.Since.UnixNano(), 10)
	return "w#" + strings.Repeat("0", 20-len(ns)) + ns + "#" + w.Session + "#" + newID()[:6]
}

// queueIndex is the key of a session's index item.
func queueIndex(sid string) Key { return Key{Partition: sessPart(sid), Sort: "rq"} }

// queuePart is the partition of shard n of a tag's queue ("" for the
// anyone partition).
func queuePart(tag string, n int) string {
	if tag == "" {
		return "rq#" + itoa(int64(n)) + "#*"
	}
	return "rq#" + itoa(int64(n)) + "#t#" + tag
}

func (m *matcher) shardOf(sid string) int {
	h := fnv.New32a()
	h.Write([]byte(sid))
	return int(h.Sum32() % uint32(m.opts.Shards))
}

// listingKeys are the keys of the listings of an entry.
func (m *matcher) listingKeys(e *queueEntry) []Key {
	n := m.shardOf(e.Session)
	keys := []Key{{Partition: queuePart("", n), Sort: e.Entry}}
	for _, t := range e.Interests {
		keys = append(keys, Key{Partition: queuePart(t, n), Sort: e.Entry})
	}
	return keys
}

// candidate is a waiter found in the queue (or the searching one).
type candidate struct {
	Listing Key // where it was found
	lver    int64
	w       Waiter
	idx     *Item // its index item, once read
	stale   bool  // its listing outlived its wait
}

func (m *matcher) Match(ctx context.Context, w Waiter) (*Match, time.Time, error) {
	now := m.opts.Now()
	exp := now.Add(m.opts.QueueTTL)
	// The index item is the waiter's lock: it serialises concurrent Match
	// calls for one session (only one writes it), and a pairing claims it.
	idx, err := m.store.Get(ctx, queueIndex(w.Session))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, time.Time{}, err
	}
	var old queueEntry
	if err == nil && json.Unmarshal(idx.Value, &old) == nil && old.Entry != "" && old.Claim != "" {
		return nil, now.Add(contendedRetry), nil // just paired; the Hub is recording the pair
	}
	e := queueEntry{Waiter: w, Entry: old.Entry, Until: exp.UnixMilli()}
	if old.Entry != "" && time.UnixMilli(old.Until).After(now) {
		e.Since = old.Since // a refresh keeps its place
	} else {
		e.Since, e.Entry = now, "" // a new wait; old listings, if any, go
	}
	if e.Entry == "" {
		e.Entry = queueSort(e.Waiter)
	}
	w = e.Waiter
	self := &Item{Key: queueIndex(w.Session), Value: mustJSON(e), Expires: exp.Add(m.opts.QueueTTL)}
	if self.Version, err = m.store.Put(ctx, *self, IfVersion(idx.Version)); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, now.Add(contendedRetry), nil // a concurrent Match of w got there first, or a pairing
		}
		return nil, time.Time{}, err
	}
	keys := m.listingKeys(&e)
	value := mustJSON(w)
	var gone []Key // listings of an expired wait, or of tags w no longer has
	if old.Entry != "" {
		for _, k := range m.listingKeys(&old) {
			if !slices.Contains(keys, k) {
				gone = append(gone, k)
			}
		}
	}
	err = parallel(len(keys)+len(gone), func(i int) error {
		if i >= len(keys) {
			return m.store.Delete(ctx, gone[i-len(keys)], Always)
		}
		_, err := m.store.Put(ctx, Item{Key: keys[i], Value: value, Expires: exp}, Always)
		return err
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	own := &candidate{Listing: keys[0], w: w, idx: self}
	return m.search(ctx, own, now)
}

// partsFor returns the queue partitions (by tag, "" for anyone) a search
// for w reads: its tags, and anyone once w may fall back (at once without
// interests).
func (m *matcher) partsFor(w Waiter, now time.Time) []string {
	tags := slices.Clone(w.Interests)
	if m.waitedEnough(w, now) {
		tags = append(tags, "")
	}
	return tags
}

// search looks for a partner for own, first in own's shard of each of its
// partitions and then in the others, and pairs them. It returns the retry
// time when own is left waiting.
func (m *matcher) search(ctx context.Context, own *candidate, now time.Time) (*Match, time.Time, error) {
	w := own.w
	retry := now.Add(m.opts.QueueTTL / 3)
	if !m.waitedEnough(w, now) {
		retry = earliest(retry, w.Since.Add(m.opts.FallbackAfter))
	}
	tags := m.partsFor(w, now)
	mine := m.shardOf(w.Session)
	var shards [2][]int // own shard, then the others
	shards[0] = []int{mine}
	for n := range m.opts.Shards {
		if n != mine {
			shards[1] = append(shards[1], n)
		}
	}
	s := &scan{m: m, now: now}
	defer s.cleanup(ctx)
	claims := 0
	for _, round := range shards {
		var parts []string
		for _, n := range round {
			for _, t := range tags {
				parts = append(parts, queuePart(t, n))
			}
		}
		if err := s.read(ctx, parts); err != nil {
			return nil, time.Time{}, err
		}
		for claims < maxClaims {
			best, shared, unblock := m.choose(w, s.cands, now)
			if !unblock.IsZero() {
				retry = earliest(retry, unblock)
			}
			if best == nil {
				break
			}
			claims++
			won, lost, err := m.pairUp(ctx, own, best, now)
			if err != nil {
				return nil, time.Time{}, err
			}
			if won {
				return &Match{A: w, B: best.w, Shared: shared}, time.Time{}, nil
			}
			if lost == own {
				return nil, now.Add(contendedRetry), nil // someone else is pairing w
			}
			s.drop(lost)
		}
		if claims >= maxClaims {
			return nil, now.Add(contendedRetry), nil // heavy contention: ask again soon
		}
	}
	return nil, retry, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// scan collects the candidates of one search or sweep, and the stale
// listings to delete when it is over.
type scan struct {
	m     *matcher
	now   time.Time
	cands []*candidate
	seen  map[string]bool // sessions already among cands
	dead  []Item
}

// read reads one page of each partition in parallel and adds the live
// waiters it finds, oldest first.
func (s *scan) read(ctx context.Context, parts []string) error {
	pages := make([][]Item, len(parts))
	err := parallel(len(parts), func(i int) error {
		var err error
		pages[i], err = s.m.store.Query(ctx, Query{Partition: parts[i], Prefix: "w#", Limit: MatcherPage})
		return err
	})
	if err != nil {
		return err
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	for _, page := range pages {
		for _, it := range page {
			var w Waiter
			if json.Unmarshal(it.Value, &w) != nil {
				s.dead = append(s.dead, it)
				continue
			}
			if !s.seen[w.Session] {
				s.seen[w.Session] = true
				s.cands = append(s.cands, &candidate{Listing: it.Key, lver: it.Version, w: w})
			}
		}
	}
	slices.SortFunc(s.cands, func(a, b *candidate) int { return strings.Compare(a.Listing.Sort, b.Listing.Sort) })
	return nil
}

// drop removes a candidate that turned out to be taken or stale; a stale
// one's listing is deleted at the end.
func (s *scan) drop(c *candidate) {
	s.cands = slices.DeleteFunc(s.cands, func(x *candidate) bool { return x == c })
	if c.stale {
		s.dead = append(s.dead, Item{Key: c.Listing, Version: c.lver})
	}
}

// cleanup deletes the stale listings the scan met (at most maxClaims, and
// those that did not decode).
func (s *scan) cleanup(ctx context.Context) {
	_ = parallel(len(s.dead), func(i int) error {
		_ = s.m.store.Delete(ctx, s.dead[i].Key, IfVersion(s.dead[i].Version))
		return nil
	})
}

// choose picks the best partner for w among the candidates: not w,
// compatible; sharing an interest first, then (after the fallback wait)
// anyone; the previous partner only if nobody else fits; the oldest first
// among equals. unblock is the earliest time a fallback makes a candidate
// that does not fit yet fit (zero if none).
func (m *matcher) choose(w Waiter, cands []*candidate, now time.Time) (best *candidate, bestShared []string, unblock time.Time) {
	bestRank, ties := 99, 0
	for _, c := range cands {
		e := c.w
		if e.Session == w.Session || (m.opts.Compatible != nil && !m.opts.Compatible(w, e)) {
			continue
		}
		shared := sharedInterests(w.Interests, e.Interests)
		rank := 0
		if len(shared) == 0 && (len(w.Interests) > 0 || len(e.Interests) > 0) {
			// Without a shared interest, pair only when each side that
			// has interests has waited long enough.
			if !m.waitedEnough(w, now) || !m.waitedEnough(e, now) {
				at := m.fallbackAt(w)
				if f := m.fallbackAt(e); f.After(at) {
					at = f
				}
				if unblock.IsZero() || at.Before(unblock) {
					unblock = at
				}
				continue
			}
			rank = 1
		}
		if e.Session == w.Last || e.Last == w.Session {
			rank += 2
		}
		// Candidates are oldest first: one of the spread oldest of the
		// best rank wins, at random, so that searches at the same moment
		// do not all race for the same waiter.
		switch {
		case rank < bestRank:
			best, bestShared, bestRank, ties = c, shared, rank, 1
		case rank == bestRank && ties < spread:
			if ties++; rand.IntN(ties) == 0 {
				best, bestShared = c, shared
			}
		}
	}
	return best, bestShared, unblock
}

func (m *matcher) waitedEnough(w Waiter, now time.Time) bool {
	return len(w.Interests) == 0 || !now.Before(m.fallbackAt(w))
}

// fallbackAt is when w may be paired without a shared interest.
func (m *matcher) fallbackAt(w Waiter) time.Time {
	if len(w.Interests) == 0 {
		return time.Time{}
	}
	return w.Since.Add(m.opts.FallbackAfter)
}

// pairUp claims the index items of a and b for one pairing, in queue
// order. It reports whether both are claimed, or else which one was lost
// (taken by another pairing, changed, or gone).
func (m *matcher) pairUp(ctx context.Context, a, b *candidate, now time.Time) (won bool, lost *candidate, err error) {
	first, second := a, b
	if second.Listing.Sort < first.Listing.Sort {
		first, second = second, first
	}
	claim := newID()
	v1, err := m.claim(ctx, first, second, claim, now)
	if err != nil || v1 == 0 {
		return false, first, err
	}
	v2, err := m.claim(ctx, second, first, claim, now)
	if err == nil && v2 != 0 {
		// Both are ours: the pairing is decided. The claims stay as the
		// "paired" marks until Done; the listings go.
		keys := append(m.listingKeys(&queueEntry{Waiter: a.w, Entry: a.Listing.Sort}), m.listingKeys(&queueEntry{Waiter: b.w, Entry: b.Listing.Sort})...)
		_ = parallel(len(keys), func(i int) error {
			_ = m.store.Delete(ctx, keys[i], Always)
			return nil
		})
		return true, nil, nil
	}
	// Put the first back as it was.
	first.idx.Version, _ = m.store.Put(ctx, Item{Key: first.idx.Key, Value: first.idx.Value, Expires: first.idx.Expires}, IfVersion(v1))
	if first.idx.Version == 0 {
		first.idx = nil // lost track of it: read it again if needed
	}
	return false, second, err
}

// claim claims c's index item for the pairing claim with partner, reading
// it first if need be. It returns the claimed item's version, or 0 if c is
// no longer waiting with the entry it was found with.
func (m *matcher) claim(ctx context.Context, c, partner *candidate, claim string, now time.Time) (int64, error) {
	if c.idx == nil {
		it, err := m.store.Get(ctx, queueIndex(c.w.Session))
		if errors.Is(err, ErrNotFound) {
			c.stale = true
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		c.idx = &it
	}
	var e queueEntry
	if json.Unmarshal(c.idx.Value, &e) != nil || e.Entry != c.Listing.Sort || !time.UnixMilli(e.Until).After(now) {
		c.idx, c.stale = nil, true // gone, or waiting again with another listing
		return 0, nil
	}
	if e.Claim != "" {
		// Held by another pairing, which deletes the listing if it
		// succeeds and releases the claim if not.
		c.idx = nil
		return 0, nil
	}
	e.Claim, e.Partner = claim, partner.w.Session
	v, err := m.store.Put(ctx, Item{Key: c.idx.Key, Value: mustJSON(e), Expires: now.Add(claimTTL)}, IfVersion(c.idx.Version))
	if errors.Is(err, ErrConflict) {
		c.idx = nil
		return 0, nil
	}
	return v, err
}

func (m *matcher) Remove(ctx context.Context, sid string) error {
	idx, err := m.store.Get(ctx, queueIndex(sid))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var e queueEntry
	if json.Unmarshal(idx.Value, &e) != nil || e.Entry == "" || e.Claim != "" {
		// Not waiting; or paired a moment ago: the pairing stands, and the
		// claim keeps the session from being queued again until the Hub
		// has recorded it.
		return nil
	}
	if err := m.free(ctx, idx); err != nil {
		if errors.Is(err, ErrConflict) {
			return m.Remove(ctx, sid) // refreshed or claimed meanwhile: look again
		}
		return err
	}
	keys := m.listingKeys(&e)
	return parallel(len(keys), func(i int) error { return m.store.Delete(ctx, keys[i], Always) })
}

// Done clears the claims (the "paired" marks) of a and b that hold them
// for their pairing with each other.
func (m *matcher) Done(ctx context.Context, a, b string) error {
	return parallel(2, func(i int) error {
		sid, partner := a, b
		if i == 1 {
			sid, partner = b, a
		}
		idx, err := m.store.Get(ctx, queueIndex(sid))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var e queueEntry
		if json.Unmarshal(idx.Value, &e) != nil || e.Claim == "" || e.Partner != partner {
			return nil
		}
		if err := m.free(ctx, idx); err != nil && !errors.Is(err, ErrConflict) {
			return err
		}
		return nil
	})
}

// free marks an index item as not waiting. It is overwritten rather than
// deleted so that its version keeps counting up: a read-then-write
// elsewhere (Done, a claim) can never take a later entry, whose version
// would start again at 1, for the one it read.
func (m *matcher) free(ctx context.Context, idx Item) error {
	_, err := m.store.Put(ctx, Item{Key: idx.Key, Value: []byte("{}"), Expires: m.opts.Now().Add(m.opts.QueueTTL)}, IfVersion(idx.Version))
	return err
}

// Sweep reads one page of every shard of the anyone partition, where every
// waiter is listed, and pairs the waiters there that fit each other now,
// oldest first.
func (m *matcher) Sweep(ctx context.Context) ([]*Match, error) {
	now := m.opts.Now()
	s := &scan{m: m, now: now}
	defer s.cleanup(ctx)
	parts := make([]string, m.opts.Shards)
	for n := range parts {
		parts[n] = queuePart("", n)
	}
	if err := s.read(ctx, parts); err != nil {
		return nil, err
	}
	var out []*Match
	for claims := 0; claims < MatcherPage && len(s.cands) > 1; {
		a := s.cands[0]
		b, shared, _ := m.choose(a.w, s.cands[1:], now)
		if b == nil {
			s.cands = s.cands[1:] // nobody for the oldest: try the next one
			continue
		}
		claims++
		won, lost, err := m.pairUp(ctx, a, b, now)
		if err != nil {
			return out, err
		}
		if won {
			out = append(out, &Match{A: a.w, B: b.w, Shared: shared})
			s.cands = slices.DeleteFunc(s.cands, func(x *candidate) bool { return x == a || x == b })
			continue
		}
		s.drop(lost)
	}
	return out, nil
}

// parallel runs f(0) … f(n-1) at once and returns the first error.
func parallel(n int, f func(i int) error) error {
	if n == 1 {
		return f(0)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func sharedInterests(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// cleanInterests normalises interest tags: trimmed, lower case, 1–24
// characters, at most 5, sorted, without duplicates.
func cleanInterests(tags []string) ([]string, error) {
	if len(tags) > 5 {
		return nil, Errorf(ErrBadRequest, "at most 5 interests")
	}
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		if _, err := CleanName(t, 24); err != nil {
			return nil, Errorf(ErrBadRequest, "interests are 1-24 visible characters")
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
