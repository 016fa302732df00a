package memstore

import (
	"slices"
	"strings"
	"time"

	"github.com/chatfly/chatfly"
)

// part is what the shard's map holds for one partition: its items, and its
// place in the eviction queue. The map holds the struct itself rather than a
// pointer to it, which saves a dependent memory load on every lookup; writes
// that change the length of e or change active store it back.
type part struct {
	e partition
	// active is the tick (see Store.tick) of the latest write of an
	// evictable item to the partition, the key of its entry in the shard's
	// eviction queue; 0 if it has none.
	active uint64
}

// partition is the items of one partition, in byte order of sort key.
type partition []entry

const (
	// entryOverhead is the accounted size of an entry besides its sort key
	// and value (counted by capacity: what the store keeps alive): the
	// entry itself (80 bytes), and the rounding of the allocation of its
	// sort key.
	entryOverhead = 96
	// partOverhead is the accounted size of a partition besides its name:
	// its slot in the shard's map (a string and a part, with the map's
	// spare slots) and its entry in the eviction queue.
	partOverhead = 128
)

// size is the accounted size of e (see Store).
func (e *entry) size() int64 { return int64(len(e.sort)+cap(e.value)) + entryOverhead }

// partSize is the accounted size of a partition named name, without its
// entries.
func partSize(name string) int64 { return int64(len(name)) + partOverhead }

// entry is one stored item, without its partition.
//
// An entry with version 0 is a tombstone: a deleted item whose slot is kept
// until the next sweep of its shard (or reused by a write to its key), so
// that Delete does not move the entries after it. Hub prunes the oldest
// message of a room on every post, at the front of the room's messages:
// moving the thousand after it each time was the cost of a post.
type entry struct {
	sort    string
	value   []byte
	n       int64
	version int64
	expires time.Time
}

// live reports whether e holds an item that has not been deleted and has
// not expired.
func (e *entry) live(c *clock) bool { return e.version != 0 && !c.expired(e.expires) }

// shrunk returns p, or a copy of it if p keeps spare capacity of more than
// three times its length: a partition that lost most of its items, to a
// sweep or to eviction, gives the memory back.
func (p partition) shrunk() partition {
	if cap(p) > 4*len(p) {
		return slices.Clone(p)
	}
	return p
}

// search returns the index of the first entry whose sort key is not less
// than s, and whether that key is s.
func (p partition) search(s string) (int, bool) {
	n := len(p)
	if n == 0 || p[n-1].sort < s {
		return n, false // appending: no search
	}
	i, j := 0, n-1 // p[n-1].sort >= s
	for i < j {
		h := int(uint(i+j) >> 1)
		if p[h].sort < s {
			i = h + 1
		} else {
			j = h
		}
	}
	return i, p[i].sort == s
}

// bounds returns the range [lo, hi) of entries that may match q, before
// expiry and limit.
func (p partition) bounds(q chatfly.Query) (lo, hi int) {
	lo, hi = 0, len(p)
	if q.Prefix != "" {
		lo, _ = p.search(q.Prefix)
		// Keys with the prefix are contiguous from lo.
		i, j := lo, hi
		for i < j {
			h := int(uint(i+j) >> 1)
			if strings.HasPrefix(p[h].sort, q.Prefix) {
				i = h + 1
			} else {
				j = h
			}
		}
		hi = i
	}
	if q.StartAfter != "" {
		i, found := p.search(q.StartAfter)
		if q.Reverse {
			hi = min(hi, i) // keys before i are less than StartAfter
		} else {
			if found {
				i++
			}
			lo = max(lo, i)
		}
	}
	return lo, hi
}

func (e *entry) item(partition string) chatfly.Item {
	return chatfly.Item{
		Key:     chatfly.Key{Partition: partition, Sort: e.sort},
		Value:   e.value,
		N:       e.n,
		Version: e.version,
		Expires: e.expires,
	}
}

// clock reads the time at most once per operation, and only if an item that
// can expire is looked at.
type clock struct {
	now  func() time.Time
	t    time.Time
	read bool
}

// expired reports whether an item that expires at exp has expired.
func (c *clock) expired(exp time.Time) bool {
	if exp.IsZero() {
		return false
	}
	if !c.read {
		c.t, c.read = c.now(), true
	}
	return chatfly.Expired(exp, c.t)
}
