package chatfly

import (
	"context"
	"time"
)

// Storage is the one source of truth of a Hub: sessions, connections, rooms,
// members, messages and counters all live in it, so that any number of Hubs
// (processes, or Lambda invocations that live for one event) can share it.
//
// Storage is a small ordered key-value store. Items are grouped in partitions
// and kept in byte order of their sort key inside a partition, which is the
// shape of a DynamoDB table with a partition and a sort key. Every write is a
// single-item operation, optionally guarded by a [Cond]; no feature of chatfly
// needs a multi-item transaction.
//
// Expiry: an item whose Expires is set and not after the current time is
// expired. An expired item is never returned by Get or Query, and every
// condition treats it as absent, however late the backend actually deletes it
// (DynamoDB's TTL deletes items up to days late).
//
// Errors: a missing or expired item is reported as [ErrNotFound], a failed
// condition as [ErrConflict], and a backend that is overloaded after its own
// retries as [ErrUnavailable], each possibly wrapped. The Hub maps them to
// protocol error codes.
//
// Keys: Partition and Sort are non-empty, valid UTF-8, at most 1024 bytes
// each (DynamoDB's limits); the Hub keeps to that. A Value and its keys fit
// in 350 KB; a write beyond a backend's item size limit fails with
// [ErrTooLarge].
//
// Ambiguity: a write that failed with a network error or timeout may still
// have been applied. Retried, an Add then skips a number and a conditional
// write may report ErrConflict although it took effect; the Hub tolerates
// both (message sequence numbers may then have a gap).
//
// Context: a cancelled or expired ctx makes calls fail with an error that
// wraps ctx.Err().
//
// Implementations must be safe for concurrent use by multiple goroutines and,
// for a shared backend, by multiple processes. The memory implementation is
// chatfly/storage/memstore; every implementation should pass the conformance
// suite in chatfly/storage/storagetest. An implementation may also implement
// io.Closer; the Hub never closes the Storage it was given.
type Storage interface {
	// Get returns the item at key, or ErrNotFound.
	Get(ctx context.Context, key Key) (Item, error)

	// Put writes item if cond holds and returns the item's new version: 1
	// when the item was absent (or expired), the previous version plus one
	// otherwise. Put replaces Value and Expires and resets the counter N to 0.
	// If cond does not hold it returns ErrConflict and changes nothing.
	Put(ctx context.Context, item Item, cond Cond) (version int64, err error)

	// Delete removes the item at key if cond holds. With [Always] deleting a
	// missing item is not an error; with [IfExists] or [IfVersion] it returns
	// ErrConflict when the item is absent or the condition fails; with
	// [IfAbsent] it does nothing and returns nil when the item is absent, and
	// ErrConflict when it exists.
	Delete(ctx context.Context, key Key, cond Cond) error

	// Query returns the unexpired items of one partition whose sort keys
	// match q, in sort-key order (descending if q.Reverse), at most q.Limit
	// of them when q.Limit > 0. The implementation follows any pagination of
	// its backend itself.
	Query(ctx context.Context, q Query) ([]Item, error)

	// Add atomically adds delta to the counter N of the item at key and
	// returns the new value. A missing or expired item counts from zero (and
	// is created with version 1). Add sets the item's Expires to expires
	// (zero: never expires) and leaves its Value alone. Concurrent Adds never
	// lose an update, so Add(key, 1, ...) hands out gapless unique numbers.
	Add(ctx context.Context, key Key, delta int64, expires time.Time) (int64, error)
}

// Scanner is an optional interface of a [Storage] that can visit the
// result of a query in place instead of copying it into a slice. The Hub
// uses it, when the Storage implements it, to read a room's members for
// every message it fans out (chatfly/storage/memstore implements it).
type Scanner interface {
	// Scan calls f with each item Query(ctx, q) would return, in the same
	// order, until f returns false. left is an upper bound of the number of
	// items left to visit, this one included, so that f can size a result
	// once. The *Item is valid only during the call (its fields, which are
	// immutable, may be kept). f must not call the Storage.
	Scan(ctx context.Context, q Query, f func(it *Item, left int) bool) error
}

// Key addresses one item of a [Storage].
type Key struct {
	// Partition groups items that are read together by Query.
	Partition string
	// Sort orders items inside a partition (byte-wise, ascending).
	Sort string
}

// Item is one stored record. Storage treats Value as opaque bytes; the Hub
// decides their encoding. A Value returned by Storage must not be modified by
// the caller, and a Value passed to Put must not be modified afterwards.
type Item struct {
	Key
	// Value is the payload written by Put.
	Value []byte
	// N is the counter maintained by Add (zero for items written by Put).
	N int64
	// Version is set by the storage: 1 when the item is created, incremented
	// by every Put and Add. It is ignored on Put.
	Version int64
	// Expires is when the item stops existing; the zero time means never.
	// Storages may round it down to whole seconds.
	Expires time.Time
}

// Query selects items of one partition for [Storage.Query].
type Query struct {
	// Partition is the partition to read. Required.
	Partition string
	// Prefix keeps only items whose sort key starts with it.
	Prefix string
	// StartAfter, if not empty, is an exclusive cursor in the direction of
	// the scan: ascending, only sort keys greater than StartAfter; with
	// Reverse, only sort keys less than StartAfter.
	StartAfter string
	// Reverse scans in descending sort-key order.
	Reverse bool
	// Limit is the maximum number of items returned; zero means no limit.
	Limit int
}

// Cond is a condition on the current state of an item that a write requires.
// The zero Cond is [Always].
type Cond struct {
	kind    condKind
	version int64
}

type condKind uint8

const (
	condAlways condKind = iota
	condAbsent
	condExists
	condVersion
)

// Always is the Cond that always holds.
var Always = Cond{}

// IfAbsent holds when the item does not exist or has expired.
var IfAbsent = Cond{kind: condAbsent}

// IfExists holds when the item exists and has not expired.
var IfExists = Cond{kind: condExists}

// IfVersion holds when the item exists, has not expired and has version v.
// IfVersion(0) is the same as IfAbsent. It is the compare-and-set primitive.
func IfVersion(v int64) Cond {
	if v == 0 {
		return IfAbsent
	}
	return Cond{kind: condVersion, version: v}
}

// Check reports whether the condition holds for an item in the given state:
// exists tells whether an unexpired item is present and version is its
// version. Storage implementations use it to evaluate conditions in memory.
func (c Cond) Check(exists bool, version int64) bool {
	switch c.kind {
	case condAbsent:
		return !exists
	case condExists:
		return exists
	case condVersion:
		return exists && version == c.version
	default:
		return true
	}
}

// IsAlways reports whether c is [Always].
func (c Cond) IsAlways() bool { return c.kind == condAlways }

// RequiresAbsent reports whether c is [IfAbsent] (or IfVersion(0)).
func (c Cond) RequiresAbsent() bool { return c.kind == condAbsent }

// RequiresExists reports whether c is [IfExists].
func (c Cond) RequiresExists() bool { return c.kind == condExists }

// Version returns the version c requires and true, if c is an [IfVersion]
// condition with a non-zero version.
func (c Cond) Version() (int64, bool) { return c.version, c.kind == condVersion }

// String returns a readable form of c, for logs and test failures.
func (c Cond) String() string {
	switch c.kind {
	case condAbsent:
		return "IfAbsent"
	case condExists:
		return "IfExists"
	case condVersion:
		return "IfVersion(" + itoa(c.version) + ")"
	default:
		return "Always"
	}
}

// Expired reports whether an item with expiry exp is expired at now.
func Expired(exp, now time.Time) bool { return !exp.IsZero() && !now.Before(exp) }
