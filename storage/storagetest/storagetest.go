// Package storagetest is the conformance suite for implementations of
// [chatfly.Storage].
//
// Use [RunConformanceTests] from a test of the implementation's package, with
// a [Harness] that creates the Storage under test:
//
//	func TestConformance(t *testing.T) {
//		storagetest.RunConformanceTests(t, storagetest.HarnessFunc(
//			func(ctx context.Context, t *testing.T) (*storagetest.Env, error) {
//				return &storagetest.Env{Storage: mystore.New(...)}, nil
//			}))
//	}
//
// Every case runs in its own subtest, named after the behaviour it checks
// (for example "Put/IfAbsent/Expired"), so a failure says which part of the
// contract is broken, and -run selects cases. Every case writes only to
// partitions whose names are unique to the run and the case, so the harness
// may hand every case the same Storage over one shared table, and a table may
// be reused by later runs.
//
// Versions: the suite checks the contract of chatfly.Item.Version without
// assuming where a lifetime starts: a case states the version it expects
// as a rank in the item's lifetime, and every new lifetime must start at a
// version the key never had (the Version cases delete, expire and recreate
// items to check it).
//
// Capabilities: the cases under "Capabilities" check the optional
// interfaces chatfly.Batcher, chatfly.Toucher and chatfly.ValueConditioner;
// each runs when the Storage under test implements its interface and is
// skipped otherwise.
//
// The suite does not delete what it writes (under 2 MB per run): give it a
// fresh table, or one with TTL enabled.
//
// Expiry: most cases write items that are already expired, which works with
// any clock. The cases that watch live items expire advance [Env.Clock] when
// the harness provides one; otherwise they wait for the real clock, all of
// them sharing one wait of at most about two seconds, and the case that stops
// time exactly at an item's expiry is skipped. All times the suite writes are
// whole seconds, so backends that keep expiry in seconds (DynamoDB's TTL) are
// tested exactly.
//
// The package imports only the standard library and chatfly, so that any
// package's tests may import it.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

// Harness creates the Storage under test. The suite calls MakeStorage once
// per case, from the goroutine of that case's subtest.
type Harness interface {
	// MakeStorage returns the Storage for one case, with what the suite may
	// know about it. The Storage need not be new or empty: every case uses
	// partitions of its own. Clean-up (closing a client, dropping a table)
	// belongs to the harness, for example with t.Cleanup.
	MakeStorage(ctx context.Context, t *testing.T) (*Env, error)
}

// HarnessFunc adapts a function to the [Harness] interface.
type HarnessFunc func(ctx context.Context, t *testing.T) (*Env, error)

// MakeStorage calls f(ctx, t).
func (f HarnessFunc) MakeStorage(ctx context.Context, t *testing.T) (*Env, error) {
	return f(ctx, t)
}

// Env is a Storage under test and the capabilities of its environment.
type Env struct {
	// Storage is the implementation under test. Required.
	Storage chatfly.Storage

	// Clock, if not nil, is the clock by which Storage decides whether an
	// item has expired, and the suite advances it instead of waiting. Nil
	// means Storage uses the real time, as a remote backend does; the suite
	// then uses time.Now and waits (briefly) for items to expire.
	Clock Clock
}

// Clock is a clock that a test controls. Implementations must be safe for
// concurrent use, since the Storage under test reads it from every call.
type Clock interface {
	// Now returns the current time of the clock.
	Now() time.Time
	// Advance moves the clock forward by d.
	Advance(d time.Duration)
}

// FakeClock is a [Clock] that moves only when told to. Give its Now method
// to the Storage under test as its time source. It is safe for concurrent
// use.
type FakeClock struct {
	ns atomic.Int64 // Unix nanoseconds
}

// NewFakeClock returns a FakeClock set to start, or, if start is the zero
// time, to a fixed time in whole seconds.
func NewFakeClock(start time.Time) *FakeClock {
	if start.IsZero() {
		start = time.Date(2030, time.January, 1, 12, 0, 0, 0, time.UTC)
	}
	c := new(FakeClock)
	c.ns.Store(start.UnixNano())
	return c
}

// Now returns the current time of the clock, in UTC.
func (c *FakeClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// RunConformanceTests runs the conformance suite against the Storage made by
// h, each case as a subtest of t.
func RunConformanceTests(t *testing.T, h Harness) {
	t.Helper()
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatalf("storagetest: random run id: %v", err)
	}
	r := &runner{h: h, runID: hex.EncodeToString(id[:])}
	r.run(t, suite())
}
