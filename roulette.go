package chatfly

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
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

// Matcher pairs roulette waiters. The Hub calls it when a session asks to
// be matched and when a waiting session refreshes its place; it does the
// rest (pair rooms, notifications, ending pairs).
//
// A Matcher must never pair a session with itself, never pair a session
// that is already in a pair made by another call, and must be safe for
// concurrent use by many Hubs sharing its state. [NewMatcher] returns the
// default implementation, built only on a Storage's single-item conditional
// writes; applications may plug in their own (by language, region…) with
// [Options.Matcher].
type Matcher interface {
	// Match puts w in the queue, or refreshes its entry if it is already
	// waiting (keeping its place), and pairs it with a compatible waiter if
	// there is one. It returns nil and no error when w is left waiting.
	Match(ctx context.Context, w Waiter) (*Match, error)
	// Remove takes a session out of the queue. Removing a session that
	// is not waiting is not an error. A session that a Match has just
	// paired stays paired.
	Remove(ctx context.Context, session string) error
	// Done tells the Matcher that the pair m is over (the Hub recorded it
	// and has removed it again), so that it can forget the pairing: until
	// then a Match of either session must not queue it again.
	Done(ctx context.Context, m *Match) error
}

// MatcherOptions configures the default Matcher. A nil *MatcherOptions, and
// every zero field, means the documented default.
type MatcherOptions struct {
	// FallbackAfter is how long a waiter with interests holds out for
	// someone who shares one; after it, anyone will do. Default 10 s.
	FallbackAfter time.Duration
	// QueueTTL is how long a queue entry lives unless refreshed (clients
	// refresh it by sending roulette.join again while waiting, every
	// QueueTTL/3). A connection that vanished without a disconnect is never
	// matched after it. Default 60 s.
	QueueTTL time.Duration
	// Compatible, if set, is an extra rule: two waiters are paired only if
	// it returns true (same language, same region…).
	Compatible func(a, b Waiter) bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// NewMatcher returns the default Matcher over store.
//
// The queue is one partition, ordered by the time each waiter arrived. To
// pair A with B, the Matcher claims both queue entries with compare-and-set,
// always in queue order (like ordered lock acquisition, so two Matchers
// racing for overlapping pairs cannot deadlock or livelock), and releases
// the first claim if the second fails. A claimed entry is never claimed
// again, so no session ends up in two pairs. Every Match first writes its
// own entry and then searches, so of two compatible waiters arriving at the
// same time at least one sees the other.
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
	if o.Now == nil {
		o.Now = time.Now
	}
	return &matcher{store: store, opts: o}
}

type matcher struct {
	store Storage
	opts  MatcherOptions
}

const (
	queuePart  = "rq"
	pairedMark = "paired" // queue index value between pairing and the Hub's record
	claimTTL   = 10 * time.Second
)

// queueEntry is the stored value of a queue item.
type queueEntry struct {
	Waiter
	// Claim is empty while waiting; otherwise the id of the pairing that
	// holds the entry.
	Claim string `json:"claim,omitempty"`
}

// queueSort orders entries by arrival. The random suffix keeps a new entry
// of a session apart from its previous, claimed one.
func queueSort(w Waiter) string {
	ns := strconv.FormatInt(w.Since.UnixNano(), 10)
	return "w#" + strings.Repeat("0", 20-len(ns)) + ns + "#" + w.Session + "#" + newID()[:6]
}

// queueIndex records where a session's queue entry is.
func queueIndex(sid string) Key { return Key{Partition: sessPart(sid), Sort: "rq"} }

func (m *matcher) Match(ctx context.Context, w Waiter) (*Match, error) {
	now := m.opts.Now()
	exp := now.Add(m.opts.QueueTTL)
	// The session's index item points to its entry, and serialises
	// concurrent Match calls for one session: only one creates an entry.
	idx, err := m.store.Get(ctx, queueIndex(w.Session))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	var own Item
	if err == nil && string(idx.Value) == pairedMark {
		return nil, nil // just paired; the Hub is recording the pair
	}
	if err == nil {
		it, err := m.store.Get(ctx, Key{Partition: queuePart, Sort: string(idx.Value)})
		switch {
		case err == nil:
			var e queueEntry
			if json.Unmarshal(it.Value, &e) != nil || e.Claim != "" {
				return nil, nil // claimed: a pairing of w is under way or done
			}
			w.Since, own = e.Since, it // a refresh keeps its place
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	refresh := own.Sort != ""
	if !refresh {
		w.Since = now
		own.Key = Key{Partition: queuePart, Sort: queueSort(w)}
		if _, err := m.store.Put(ctx, Item{Key: queueIndex(w.Session), Value: []byte(own.Sort), Expires: exp}, IfVersion(idx.Version)); err != nil {
			if errors.Is(err, ErrConflict) {
				return nil, nil // a concurrent Match of w got there first
			}
			return nil, err
		}
	}
	own.Value, own.Expires = mustJSON(queueEntry{Waiter: w}), exp
	v, err := m.store.Put(ctx, own, IfVersion(own.Version))
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, nil // claimed meanwhile: another Match is pairing w
		}
		return nil, err
	}
	own.Version = v
	if refresh {
		_, _ = m.store.Put(ctx, Item{Key: queueIndex(w.Session), Value: []byte(own.Sort), Expires: exp}, IfVersion(idx.Version))
	}
	return m.pair(ctx, own, w, now)
}

// pair looks for a partner for the waiting entry own and claims both.
func (m *matcher) pair(ctx context.Context, own Item, w Waiter, now time.Time) (*Match, error) {
	for range 8 {
		items, err := m.store.Query(ctx, Query{Partition: queuePart, Prefix: "w#", Limit: 200})
		if err != nil {
			return nil, err
		}
		best, shared := m.choose(w, items, now)
		if best == nil {
			return nil, nil
		}
		var partner queueEntry
		_ = json.Unmarshal(best.Value, &partner)
		claim := newID()
		first, second := own, *best
		if second.Sort < first.Sort {
			first, second = second, first
		}
		claimed1, err := m.claim(ctx, first, claim, now)
		if err != nil {
			return nil, err
		}
		if !claimed1 {
			if first.Sort == own.Sort {
				return nil, nil // someone else is pairing w
			}
			continue // the partner was taken; look again
		}
		claimed2, err := m.claim(ctx, second, claim, now)
		if err != nil || !claimed2 {
			m.release(ctx, first, claim)
			if err != nil {
				return nil, err
			}
			if second.Sort == own.Sort {
				return nil, nil
			}
			continue
		}
		// Both entries are ours: the pairing is decided. The entries go
		// (claimed ones would crowd the front of the queue); the two
		// index items say "paired" until the pair is over (Done) or for a
		// short while, so that a join racing with the Hub's recording of
		// the pair does not queue the session again.
		for _, sid := range []string{w.Session, partner.Session} {
			if _, err := m.store.Put(ctx, Item{Key: queueIndex(sid), Value: []byte(pairedMark), Expires: now.Add(claimTTL)}, Always); err != nil {
				return nil, err
			}
		}
		_ = m.store.Delete(ctx, own.Key, Always)
		_ = m.store.Delete(ctx, best.Key, Always)
		return &Match{A: w, B: partner.Waiter, Shared: shared}, nil
	}
	return nil, nil // heavy contention: stay queued; the next refresh tries again
}

// choose picks the best partner for w among the queue items: unclaimed,
// not w, compatible; sharing an interest first, then (after the fallback
// wait) anyone; the previous partner only if nobody else fits; the oldest
// first among equals.
func (m *matcher) choose(w Waiter, items []Item, now time.Time) (*Item, []string) {
	var best *Item
	var bestShared []string
	bestRank := 99
	for i := range items {
		var e queueEntry
		if json.Unmarshal(items[i].Value, &e) != nil || e.Claim != "" || e.Session == w.Session {
			continue
		}
		if m.opts.Compatible != nil && !m.opts.Compatible(w, e.Waiter) {
			continue
		}
		shared := sharedInterests(w.Interests, e.Interests)
		rank := 0
		if len(shared) == 0 && (len(w.Interests) > 0 || len(e.Interests) > 0) {
			// Without a shared interest, pair only when each side that
			// has interests has waited long enough.
			if !m.waitedEnough(w, now) || !m.waitedEnough(e.Waiter, now) {
				continue
			}
			rank = 1
		}
		if e.Session == w.Last || e.Last == w.Session {
			rank += 2
		}
		if rank < bestRank { // items are oldest first: the first of a rank wins
			best, bestShared, bestRank = &items[i], shared, rank
		}
	}
	return best, bestShared
}

func (m *matcher) waitedEnough(w Waiter, now time.Time) bool {
	return len(w.Interests) == 0 || now.Sub(w.Since) >= m.opts.FallbackAfter
}

// claim marks a waiting entry as held by the pairing claim. It reports
// false if the entry is gone, claimed or changed since it was read.
func (m *matcher) claim(ctx context.Context, it Item, claim string, now time.Time) (bool, error) {
	var e queueEntry
	if json.Unmarshal(it.Value, &e) != nil || e.Claim != "" {
		return false, nil
	}
	e.Claim = claim
	// A claim outlives a crash of its Matcher only briefly.
	_, err := m.store.Put(ctx, Item{Key: it.Key, Value: mustJSON(e), Expires: now.Add(claimTTL)}, IfVersion(it.Version))
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// release puts back an entry claimed by claim, as it was.
func (m *matcher) release(ctx context.Context, it Item, claim string) {
	cur, err := m.store.Get(ctx, it.Key)
	if err != nil {
		return
	}
	var e queueEntry
	if json.Unmarshal(cur.Value, &e) != nil || e.Claim != claim {
		return
	}
	_, _ = m.store.Put(ctx, Item{Key: it.Key, Value: it.Value, Expires: it.Expires}, IfVersion(cur.Version))
}

func (m *matcher) Remove(ctx context.Context, sid string) error {
	idx, err := m.store.Get(ctx, queueIndex(sid))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if string(idx.Value) == pairedMark {
		// Paired a moment ago: the pairing stands, and the mark keeps the
		// session from being queued again until the Hub has recorded it.
		return nil
	}
	key := Key{Partition: queuePart, Sort: string(idx.Value)}
	if it, err := m.store.Get(ctx, key); err == nil {
		var e queueEntry
		if json.Unmarshal(it.Value, &e) == nil && e.Claim == "" {
			if err := m.store.Delete(ctx, key, IfVersion(it.Version)); err != nil && !errors.Is(err, ErrConflict) {
				return err
			}
		}
	}
	return m.store.Delete(ctx, queueIndex(sid), Always)
}

// Done clears the "paired" marks of the two sessions of m.
func (m *matcher) Done(ctx context.Context, p *Match) error {
	for _, sid := range []string{p.A.Session, p.B.Session} {
		idx, err := m.store.Get(ctx, queueIndex(sid))
		if errors.Is(err, ErrNotFound) || (err == nil && string(idx.Value) != pairedMark) {
			continue
		}
		if err == nil {
			err = m.store.Delete(ctx, idx.Key, IfVersion(idx.Version))
		}
		if err != nil && !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return nil
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
