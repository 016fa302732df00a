package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

// testCase is a case of the suite, or a group of cases when run is nil.
type testCase struct {
	name string
	run  func(t *testing.T, e *env)
	sub  []testCase
}

func group(name string, sub ...testCase) testCase { return testCase{name: name, sub: sub} }

func tc(name string, run func(t *testing.T, e *env)) testCase {
	return testCase{name: name, run: run}
}

// suite returns every case of the conformance suite.
func suite() []testCase {
	return []testCase{
		getCases(),
		putCases(),
		deleteCases(),
		queryCases(),
		addCases(),
		versionCases(),
		capabilityCases(),
		expiryCases(),
		concurrencyCases(),
		contextCases(),
	}
}

type runner struct {
	h     Harness
	runID string
}

func (r *runner) run(t *testing.T, cases []testCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.run == nil {
				r.run(t, c.sub)
				return
			}
			c.run(t, r.env(t))
		})
	}
}

// env makes the Storage for the case running in t.
func (r *runner) env(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	got, err := r.h.MakeStorage(ctx, t)
	if err != nil {
		t.Fatalf("MakeStorage: %v", err)
	}
	if got == nil || got.Storage == nil {
		t.Fatal("MakeStorage returned no Storage")
	}
	return &env{
		Env:   got,
		ctx:   ctx,
		base:  "storagetest/" + r.runID + "/" + t.Name() + "/",
		lives: make(map[chatfly.Key]*lifetime),
	}
}

// env is the Storage of one case, with helpers that fail the test on an
// unexpected result. Helpers that take a *testing.T must be called from the
// goroutine running that test; concurrent cases call Storage directly.
type env struct {
	*Env
	ctx   context.Context
	base  string // prefix of every partition of the case
	lives map[chatfly.Key]*lifetime
}

// Versions: a case states the version it expects of an item as its rank in
// the item's current lifetime (1 for the write that started it, 2 for the
// next write, and so on), since the contract of chatfly.Item.Version leaves
// where a lifetime starts to the Storage. The env learns each lifetime's
// first version from what the Storage returns and checks the rest against
// it; a new lifetime must start at a version the key never had before.

// lifetime is what the env knows of the versions of one key.
type lifetime struct {
	start int64          // first version of the current lifetime; 0: not seen
	added bool           // Adds since the last version seen: they may have started a new lifetime
	seen  map[int64]bool // every version seen at the key
}

func (e *env) life(k chatfly.Key) *lifetime {
	l := e.lives[k]
	if l == nil {
		l = &lifetime{seen: make(map[int64]bool)}
		e.lives[k] = l
	}
	return l
}

// sawVersion checks that v, which a Put returned (put) or a read found at
// k, is the version of rank rank in the key's current lifetime, and records
// it. It returns what is wrong, or "".
func (e *env) sawVersion(k chatfly.Key, v, rank int64, put bool) string {
	l := e.life(k)
	defer func() { l.seen[v], l.added = true, false }()
	known := l.start != 0 && v == l.start+rank-1
	switch {
	case v == 0:
		return "version 0 (IfVersion(0) means absent)"
	case rank == 1 && (put || l.added):
		// The write started a new lifetime.
	case l.start != 0 && !l.added:
		if !known {
			return fmt.Sprintf("version %d, want %d (the first of the lifetime, %d, plus %d)", v, l.start+rank-1, l.start, rank-1)
		}
		return ""
	case known:
		return "" // the Adds continued the lifetime
	}
	// A new lifetime, or one the env did not see start.
	start := v - rank + 1
	if l.seen[v] || l.seen[start] {
		return fmt.Sprintf("version %d (rank %d of a new lifetime) repeats a version the key had before: %v", v, rank, sortedVersions(l.seen))
	}
	l.start = start
	return ""
}

// wroteUnseen notes a write at k whose version the case does not see (an
// Add): the next version seen there may start a new lifetime.
func (e *env) wroteUnseen(k chatfly.Key) { e.life(k).added = true }

// ver returns the version of rank rank in the current lifetime of k, which
// the case must have seen start.
func (e *env) ver(t *testing.T, k chatfly.Key, rank int64) int64 {
	t.Helper()
	l := e.life(k)
	if l.start == 0 {
		t.Fatalf("storagetest: version rank %d of %s asked before its lifetime was seen", rank, fmtKey(k))
	}
	return l.start + rank - 1
}

func sortedVersions(m map[int64]bool) []int64 {
	vs := make([]int64, 0, len(m))
	for v := range m {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// part returns a partition name unique to the run and the case.
func (e *env) part(name string) string { return e.base + name }

// now returns the current time of the Storage, in whole seconds.
func (e *env) now() time.Time {
	if e.Clock != nil {
		return e.Clock.Now().Truncate(time.Second)
	}
	return time.Now().Truncate(time.Second)
}

// past returns a time at which items have already expired.
func (e *env) past() time.Time { return e.now().Add(-time.Hour) }

// future returns a time at which items have not expired yet, long after the
// suite has finished.
func (e *env) future() time.Time { return e.now().Add(24 * time.Hour) }

// waitUntil returns once the Storage's clock has reached t0 (plus a margin
// for a real clock): it advances the fake clock or sleeps.
func (e *env) waitUntil(t *testing.T, t0 time.Time) {
	t.Helper()
	if e.Clock != nil {
		if d := t0.Sub(e.Clock.Now()); d > 0 {
			e.Clock.Advance(d)
		}
		return
	}
	d := time.Until(t0) + 100*time.Millisecond
	if d > 5*time.Second {
		t.Fatalf("storagetest: refusing to sleep %v", d)
	}
	if d > 0 {
		t.Logf("no fake clock: sleeping %v for items to expire", d.Round(time.Millisecond))
		select {
		case <-time.After(d):
		case <-e.ctx.Done():
			t.Fatal(e.ctx.Err())
		}
	}
}

func key(partition, sort string) chatfly.Key {
	return chatfly.Key{Partition: partition, Sort: sort}
}

func fmtKey(k chatfly.Key) string { return fmt.Sprintf("%q/%q", k.Partition, k.Sort) }

// state is what the suite expects of a stored item besides its key.
type state struct {
	Value   []byte
	N       int64
	Version int64
	Expires time.Time
}

func (s state) String() string {
	exp := "never"
	if !s.Expires.IsZero() {
		exp = s.Expires.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("{Value:%q N:%d Version:%d Expires:%s}", s.Value, s.N, s.Version, exp)
}

func stateOf(it chatfly.Item) state {
	return state{Value: it.Value, N: it.N, Version: it.Version, Expires: it.Expires}
}

// equal reports whether s and o are equal, versions aside.
func (s state) equal(o state) bool {
	return bytes.Equal(s.Value, o.Value) && s.N == o.N && s.Expires.Equal(o.Expires)
}

// sameState checks that it is in state want, whose Version is a rank (see
// sawVersion), and records its version.
func (e *env) sameState(t *testing.T, it chatfly.Item, want state) bool {
	t.Helper()
	got := stateOf(it)
	if !got.equal(want) {
		t.Errorf("item %s = %v, want %v (version rank %d)", fmtKey(it.Key), got, want, want.Version)
		return false
	}
	if msg := e.sawVersion(it.Key, it.Version, want.Version, false); msg != "" {
		t.Errorf("item %s = %v: %s", fmtKey(it.Key), got, msg)
		return false
	}
	return true
}

// item returns an Item to Put.
func item(k chatfly.Key, value string, expires time.Time) chatfly.Item {
	return chatfly.Item{Key: k, Value: []byte(value), Expires: expires}
}

func (e *env) mustPut(t *testing.T, it chatfly.Item, cond chatfly.Cond) int64 {
	t.Helper()
	v, err := e.Storage.Put(e.ctx, it, cond)
	if err != nil {
		t.Fatalf("Put(%s, %v): %v", fmtKey(it.Key), cond, err)
	}
	return v
}

// wantPut puts it under cond and checks that the returned version has rank
// rank in the item's lifetime (1: the Put starts a new one; see
// sawVersion). It returns the version.
func (e *env) wantPut(t *testing.T, it chatfly.Item, cond chatfly.Cond, rank int64) int64 {
	t.Helper()
	v := e.mustPut(t, it, cond)
	if msg := e.sawVersion(it.Key, v, rank, true); msg != "" {
		t.Fatalf("Put(%s, %v): %s", fmtKey(it.Key), cond, msg)
	}
	return v
}

func (e *env) mustGet(t *testing.T, k chatfly.Key) chatfly.Item {
	t.Helper()
	it, err := e.Storage.Get(e.ctx, k)
	if err != nil {
		t.Fatalf("Get(%s): %v", fmtKey(k), err)
	}
	if it.Key != k {
		t.Fatalf("Get(%s) returned key %s", fmtKey(k), fmtKey(it.Key))
	}
	return it
}

// wantState checks that the item at k exists and is in state want, whose
// Version is a rank (see sawVersion).
func (e *env) wantState(t *testing.T, k chatfly.Key, want state) {
	t.Helper()
	if !e.sameState(t, e.mustGet(t, k), want) {
		t.FailNow()
	}
}

// wantAbsent checks that Get(k) reports ErrNotFound.
func (e *env) wantAbsent(t *testing.T, k chatfly.Key) {
	t.Helper()
	it, err := e.Storage.Get(e.ctx, k)
	if !errors.Is(err, chatfly.ErrNotFound) {
		if err == nil {
			t.Fatalf("Get(%s) = %v, want ErrNotFound", fmtKey(k), stateOf(it))
		}
		t.Fatalf("Get(%s): error %v, want ErrNotFound", fmtKey(k), err)
	}
}

// snapshot returns the state of k, or ok false if it is absent.
func (e *env) snapshot(t *testing.T, k chatfly.Key) (s state, ok bool) {
	t.Helper()
	it, err := e.Storage.Get(e.ctx, k)
	if errors.Is(err, chatfly.ErrNotFound) {
		return state{}, false
	}
	if err != nil {
		t.Fatalf("Get(%s): %v", fmtKey(k), err)
	}
	return stateOf(it), true
}

// unchanged runs op, which must fail, and checks that the item at k is as it
// was before.
func (e *env) unchanged(t *testing.T, k chatfly.Key, what string, op func() error, want error) {
	t.Helper()
	before, existed := e.snapshot(t, k)
	err := op()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
	after, exists := e.snapshot(t, k)
	if exists != existed || !after.equal(before) || after.Version != before.Version {
		t.Fatalf("%s failed but changed the item: before %v (exists %v), after %v (exists %v)",
			what, before, existed, after, exists)
	}
}

// wantPutConflict checks that Put(it, cond) fails with ErrConflict and
// changes nothing.
func (e *env) wantPutConflict(t *testing.T, it chatfly.Item, cond chatfly.Cond) {
	t.Helper()
	e.unchanged(t, it.Key, fmt.Sprintf("Put(%s, %v)", fmtKey(it.Key), cond), func() error {
		v, err := e.Storage.Put(e.ctx, it, cond)
		if err == nil {
			return fmt.Errorf("<nil> (version %d)", v)
		}
		return err
	}, chatfly.ErrConflict)
}

func (e *env) mustDelete(t *testing.T, k chatfly.Key, cond chatfly.Cond) {
	t.Helper()
	if err := e.Storage.Delete(e.ctx, k, cond); err != nil {
		t.Fatalf("Delete(%s, %v): %v", fmtKey(k), cond, err)
	}
}

// wantDeleteConflict checks that Delete(k, cond) fails with ErrConflict and
// changes nothing.
func (e *env) wantDeleteConflict(t *testing.T, k chatfly.Key, cond chatfly.Cond) {
	t.Helper()
	e.unchanged(t, k, fmt.Sprintf("Delete(%s, %v)", fmtKey(k), cond), func() error {
		return e.Storage.Delete(e.ctx, k, cond)
	}, chatfly.ErrConflict)
}

func (e *env) mustAdd(t *testing.T, k chatfly.Key, delta int64, expires time.Time) int64 {
	t.Helper()
	n, err := e.Storage.Add(e.ctx, k, delta, expires)
	e.wroteUnseen(k)
	if err != nil {
		t.Fatalf("Add(%s, %d): %v", fmtKey(k), delta, err)
	}
	return n
}

// wantAdd adds delta at k and checks the returned value.
func (e *env) wantAdd(t *testing.T, k chatfly.Key, delta int64, expires time.Time, want int64) {
	t.Helper()
	if n := e.mustAdd(t, k, delta, expires); n != want {
		t.Fatalf("Add(%s, %d) = %d, want %d", fmtKey(k), delta, n, want)
	}
}

func fmtQuery(q chatfly.Query) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Query{Partition:%q", q.Partition)
	if q.Prefix != "" {
		fmt.Fprintf(&b, " Prefix:%q", q.Prefix)
	}
	if q.StartAfter != "" {
		fmt.Fprintf(&b, " StartAfter:%q", q.StartAfter)
	}
	if q.Reverse {
		b.WriteString(" Reverse")
	}
	if q.Limit != 0 {
		fmt.Fprintf(&b, " Limit:%d", q.Limit)
	}
	b.WriteString("}")
	return b.String()
}

func (e *env) mustQuery(t *testing.T, q chatfly.Query) []chatfly.Item {
	t.Helper()
	items, err := e.Storage.Query(e.ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", fmtQuery(q), err)
	}
	for i, it := range items {
		if it.Partition != q.Partition {
			t.Fatalf("%s: item %d has partition %q", fmtQuery(q), i, it.Partition)
		}
	}
	return items
}

// wantQuery runs q and checks the sort keys of the result, in order.
func (e *env) wantQuery(t *testing.T, q chatfly.Query, want []string) []chatfly.Item {
	t.Helper()
	items := e.mustQuery(t, q)
	got := sortKeys(items)
	if !equalStrings(got, want) {
		t.Fatalf("%s returned sort keys\n\t%q\nwant\n\t%q", fmtQuery(q), got, want)
	}
	return items
}

func sortKeys(items []chatfly.Item) []string {
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = it.Sort
	}
	return s
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func reversed(s []string) []string {
	r := make([]string, len(s))
	for i, v := range s {
		r[len(s)-1-i] = v
	}
	return r
}

// protect calls f and returns what it returned or, if it panicked, the value
// it panicked with, so that one broken case does not end the test binary.
func protect(f func() error) (panicked any, err error) {
	defer func() { panicked = recover() }()
	return nil, f()
}

// never is the zero Expires: the item never expires.
var never time.Time
