package chatfly

import (
	"context"
	"strconv"
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

	// Put writes item if cond holds and returns the item's new version: a
	// fresh one when the item was absent (or expired), the previous version
	// plus one otherwise (see [Item.Version]). Put replaces Value and Expires and resets the counter N to 0.
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
	// is created with a fresh version). Add sets the item's Expires to expires
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
	// Version is set by the storage and identifies one state of the item.
	// A new lifetime of a key (a write when it is absent, deleted or
	// expired) starts at a version that key never had before, in any
	// earlier lifetime, so an IfVersion condition read from an item that was
	// since deleted and recreated fails instead of matching the newcomer
	// (no ABA). Within a lifetime every Put and Add increments Version by
	// exactly one, so Version-N of an item that only Add(key, 1, ...)
	// writes (a sequence counter) is constant for its lifetime and differs
	// between lifetimes: a stream epoch (an Add of another delta, even 0,
	// changes it; [Toucher.Touch] does not). Where a lifetime starts is the
	// Storage's choice: callers compare versions, never count them. It is
	// ignored on Put.
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
	value   string // IfValue, IfPrefix
}

type condKind uint8

const (
	condAlways condKind = iota
	condAbsent
	condExists
	condVersion
	condValue
	condPrefix
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

// IfValue holds when the item exists, has not expired and its Value equals
// v. Only a Storage that implements [ValueConditioner] evaluates it; the Hub
// never passes it to another.
func IfValue(v []byte) Cond { return Cond{kind: condValue, value: string(v)} }

// IfPrefix holds when the item exists, has not expired and its Value starts
// with p. Only a Storage that implements [ValueConditioner] evaluates it.
func IfPrefix(p []byte) Cond { return Cond{kind: condPrefix, value: string(p)} }

// Check reports whether the condition holds for an item in the given state:
// exists tells whether an unexpired item is present and version is its
// version. Storage implementations use it to evaluate conditions in memory.
// It reports false for the value conditions ([IfValue], [IfPrefix]), which
// need the value: see [Cond.Holds].
func (c Cond) Check(exists bool, version int64) bool {
	switch c.kind {
	case condAbsent:
		return !exists
	case condExists:
		return exists
	case condVersion:
		return exists && version == c.version
	case condValue, condPrefix:
		return false
	default:
		return true
	}
}

// Holds reports whether the condition holds for the current item it, or
// for an absent (or expired) item if it is nil. It evaluates every kind of
// Cond, the value conditions included.
func (c Cond) Holds(it *Item) bool {
	switch c.kind {
	case condValue:
		return it != nil && string(it.Value) == c.value
	case condPrefix:
		return it != nil && len(it.Value) >= len(c.value) && string(it.Value[:len(c.value)]) == c.value
	case condAlways:
		return true
	}
	if it == nil {
		return c.Check(false, 0)
	}
	return c.Check(true, it.Version)
}

// Value returns the value or prefix c requires, and which: "value" for
// [IfValue], "prefix" for [IfPrefix], "" for the other conditions.
func (c Cond) Value() (v []byte, kind string) {
	switch c.kind {
	case condValue:
		return []byte(c.value), "value"
	case condPrefix:
		return []byte(c.value), "prefix"
	}
	return nil, ""
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
	case condValue:
		return "IfValue(" + strconv.Quote(c.value) + ")"
	case condPrefix:
		return "IfPrefix(" + strconv.Quote(c.value) + ")"
	default:
		return "Always"
	}
}

// Expired reports whether an item with expiry exp is expired at now.
func Expired(exp, now time.Time) bool { return !exp.IsZero() && !now.Before(exp) }

// Optional capabilities of a Storage. The Hub discovers each one by type
// assertion and, without it, does the same work with the five calls of
// [Storage]: a Storage that implements none of them is complete and
// correct, and one that implements them saves round trips on the hot path
// (which, on DynamoDB, is latency a person feels). Every implementation in
// this module implements all of them, and chatfly/storage/storagetest checks
// each one a Storage offers.

// Write is one write of a [Batcher.WriteMany] batch.
type Write struct {
	// Item is the item to write; only its Key is used with Delete.
	Item Item
	// Delete removes the item at Item.Key instead of writing it.
	Delete bool
}

// Batcher is an optional interface of a [Storage] that reads or writes
// many unrelated items in one round trip (DynamoDB's BatchGetItem and
// BatchWriteItem, a Redis pipeline).
type Batcher interface {
	// GetMany returns the items at keys, in the order of keys. A missing or
	// expired item is returned as an Item with only its Key set (Version
	// 0). keys must be distinct; they may be in different partitions. An
	// implementation splits a long list into its backend's batch size
	// itself.
	GetMany(ctx context.Context, keys []Key) ([]Item, error)

	// WriteMany applies writes without conditions: a Put as with [Always]
	// (the item starts a new lifetime: a fresh version, N 0), a Delete as
	// with Always. It is not atomic: on error any subset of the writes may
	// have been applied. Keys must be distinct.
	WriteMany(ctx context.Context, writes []Write) error
}

// Toucher is an optional interface of a [Storage] that changes the expiry
// of an item without reading or rewriting it.
type Toucher interface {
	// Touch sets the Expires of the item at key (zero: never expires) if the
	// item exists, has not expired and cond holds; it leaves Value, N and
	// Version alone, so a reader's IfVersion still holds after it. It
	// returns ErrConflict, changing nothing, if the item is absent or cond
	// does not hold.
	Touch(ctx context.Context, key Key, expires time.Time, cond Cond) error
}

// ValueConditioner is an optional interface of a [Storage] whose Put,
// Delete (and Touch, if it is a [Toucher]) evaluate the value conditions
// [IfValue] and [IfPrefix], saving the read that an IfVersion needs first.
type ValueConditioner interface {
	// ValueConditions is a marker: a Storage implements it to say it
	// evaluates value conditions.
	ValueConditions()
}
