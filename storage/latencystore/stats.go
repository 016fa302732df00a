package latencystore

import (
	"strconv"
	"time"

	"github.com/chatfly/chatfly"
)

// Op is a kind of Storage call, an index of [Stats].
type Op int

// The kinds of calls, those of [chatfly.Storage] and of its optional
// interfaces.
const (
	OpGet       Op = iota // Storage.Get
	OpPut                 // Storage.Put
	OpDelete              // Storage.Delete
	OpQuery               // Storage.Query
	OpAdd                 // Storage.Add
	OpScan                // Scanner.Scan
	OpGetMany             // Batcher.GetMany
	OpWriteMany           // Batcher.WriteMany
	OpTouch               // Toucher.Touch
	NumOps                // the number of kinds
)

var opNames = [NumOps]string{"Get", "Put", "Delete", "Query", "Add", "Scan", "GetMany", "WriteMany", "Touch"}

// String returns the name of the call, such as "Get" or "WriteMany".
func (o Op) String() string {
	if o < 0 || o >= NumOps {
		return "Op(" + strconv.Itoa(int(o)) + ")"
	}
	return opNames[o]
}

// OpStats counts the calls of one kind, and estimates what they would cost
// on DynamoDB (storage/dynamostore: strongly consistent reads, one item per
// record). The estimates follow DynamoDB's rules for provisioned capacity:
// a read costs 1 RCU per 4 KB of each item read, rounded up per item (a
// missing item 1 RCU), except that a Query (and Scan) sums the sizes of the
// items it returns before rounding up, and costs at least 1; a write costs
// 1 WCU per 1 KB of the item written, rounded up, at least 1, whether its
// condition holds or not. Sizes the wrapper cannot see are not counted: a
// Delete and a Touch are costed at 1 WCU, an Add as if the item held only
// its counter, so those are lower bounds for items with large values.
type OpStats struct {
	// Calls is the number of calls.
	Calls int64
	// Rounds is the number of DynamoDB requests the calls would take: one
	// per call, a Query one per MB of items, a GetMany one per 100 keys and
	// a WriteMany one per 25 writes. A call that ended before it was passed
	// on (its ctx ended during the sleep) takes none.
	Rounds int64
	// Errors counts the calls that returned an error, Conflicts those whose
	// error was chatfly.ErrConflict.
	Errors, Conflicts int64
	// ItemsRead and ItemsWritten count the items returned, and the items
	// written or deleted (whether or not a condition held).
	ItemsRead, ItemsWritten int64
	// BytesRead and BytesWritten are the estimated DynamoDB sizes of those
	// items: keys, value and attribute names.
	BytesRead, BytesWritten int64
	// RCU and WCU are the read and write capacity units the calls would
	// consume.
	RCU, WCU int64
	// Slept is the latency added to the calls in all.
	Slept time.Duration
}

// add adds b to a.
func (a *OpStats) add(b OpStats) { a.combine(b, 1) }

func (a *OpStats) combine(b OpStats, sign int64) {
	a.Calls += sign * b.Calls
	a.Rounds += sign * b.Rounds
	a.Errors += sign * b.Errors
	a.Conflicts += sign * b.Conflicts
	a.ItemsRead += sign * b.ItemsRead
	a.ItemsWritten += sign * b.ItemsWritten
	a.BytesRead += sign * b.BytesRead
	a.BytesWritten += sign * b.BytesWritten
	a.RCU += sign * b.RCU
	a.WCU += sign * b.WCU
	a.Slept += time.Duration(sign) * b.Slept
}

// Stats counts the calls of a [Store] by kind: Stats[OpGet] are the Gets.
type Stats [NumOps]OpStats

func (s *Stats) op(o Op) *OpStats { return &s[o] }

// Total returns the counts of every kind of call together.
func (s Stats) Total() OpStats {
	var t OpStats
	for _, c := range s {
		t.add(c)
	}
	return t
}

// Add returns the counts of s and other together (of two Stores, say).
func (s Stats) Add(other Stats) Stats {
	for i := range s {
		s[i].add(other[i])
	}
	return s
}

// Sub returns the counts of the calls made since before was taken, from
// the same Store.
func (s Stats) Sub(before Stats) Stats {
	for i := range s {
		s[i].combine(before[i], -1)
	}
	return s
}

// attrNames is the size of the attribute names of a dynamostore item: pk,
// sk, v, n, ver and exp.
const attrNames = 12

// itemSize estimates the size DynamoDB counts for it as dynamostore stores
// it: its attribute names and values, a number taking 1 byte per two
// significant digits plus 1.
func itemSize(it *chatfly.Item) int64 {
	const expiresSize = 6 // Unix seconds: 10 digits
	return int64(attrNames + len(it.Partition) + len(it.Sort) + max(len(it.Value), 1) +
		numberSize(it.N) + numberSize(it.Version) + expiresSize)
}

func numberSize(n int64) int {
	digits := len(strconv.FormatInt(max(n, -n), 10))
	return (digits+1)/2 + 1
}

// units returns size in units of unit bytes, rounded up, at least 1.
func units(size, unit int64) int64 { return max(1, (size+unit-1)/unit) }

const (
	readUnit  = 4 << 10
	writeUnit = 1 << 10
)

// readOne is the cost of reading the item it.
func readOne(it *chatfly.Item) OpStats {
	size := itemSize(it)
	return OpStats{Rounds: 1, ItemsRead: 1, BytesRead: size, RCU: units(size, readUnit)}
}

// writeOne is the cost of writing the item it.
func writeOne(it *chatfly.Item) OpStats {
	size := itemSize(it)
	return OpStats{Rounds: 1, ItemsWritten: 1, BytesWritten: size, WCU: units(size, writeUnit)}
}

// deleteOne is the cost of a delete (or an expiry-only update), whose
// item's size the wrapper does not see.
func deleteOne() OpStats { return OpStats{Rounds: 1, ItemsWritten: 1, WCU: 1} }

// queryCost sums the items a Query returns.
type queryCost struct{ items, bytes int64 }

func (q *queryCost) add(it *chatfly.Item) {
	q.items++
	q.bytes += itemSize(it)
}

func (q *queryCost) stats() OpStats {
	const page = 1 << 20 // DynamoDB returns at most 1 MB per Query request
	return OpStats{Rounds: units(q.bytes, page), ItemsRead: q.items, BytesRead: q.bytes, RCU: units(q.bytes, readUnit)}
}

// batchRounds is the number of requests of n keys, at most per of them
// each.
func batchRounds(n, per int) int64 { return int64((n + per - 1) / per) }
