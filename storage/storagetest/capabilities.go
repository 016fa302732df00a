package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

// The optional capabilities of a Storage: each case runs when the Storage
// under test implements the interface, and is skipped otherwise.

func capabilityCases() testCase {
	return group("Capabilities",
		group("Batcher",
			tc("GetMany", testGetMany),
			tc("GetManyLong", testGetManyLong),
			tc("WriteMany", testWriteMany),
			tc("WriteManyLong", testWriteManyLong),
		),
		group("Toucher",
			tc("Expiry", testTouchExpiry),
			tc("Absent", testTouchAbsent),
			tc("Cond", testTouchCond),
		),
		group("ValueConditioner",
			tc("Put", func(t *testing.T, e *env) { testValueConds(t, e, "Put") }),
			tc("Delete", func(t *testing.T, e *env) { testValueConds(t, e, "Delete") }),
			tc("Touch", func(t *testing.T, e *env) { testValueConds(t, e, "Touch") }),
		),
	)
}

func (e *env) batcher(t *testing.T) chatfly.Batcher {
	return capability[chatfly.Batcher](t, e, "Batcher")
}

func (e *env) toucher(t *testing.T) chatfly.Toucher {
	return capability[chatfly.Toucher](t, e, "Toucher")
}

// capability returns the Storage under test as the optional interface C,
// named name, or skips the test if the Storage does not implement it.
func capability[C any](t *testing.T, e *env, name string) C {
	t.Helper()
	c, ok := e.Storage.(C)
	if !ok {
		t.Skip("the Storage does not implement chatfly." + name)
	}
	return c
}

// mustGetMany calls GetMany and checks that it returns one item per key,
// in order, each with its key.
func (e *env) mustGetMany(t *testing.T, keys []chatfly.Key) []chatfly.Item {
	t.Helper()
	items, err := e.batcher(t).GetMany(e.ctx, keys)
	if err != nil {
		t.Fatalf("GetMany(%d keys): %v", len(keys), err)
	}
	if len(items) != len(keys) {
		t.Fatalf("GetMany(%d keys) returned %d items", len(keys), len(items))
	}
	for i, it := range items {
		if it.Key != keys[i] {
			t.Fatalf("GetMany: item %d has key %s, want %s (the order of keys)", i, fmtKey(it.Key), fmtKey(keys[i]))
		}
	}
	return items
}

// wantMissing checks that it is what GetMany returns for a missing item:
// its Key alone.
func wantMissing(t *testing.T, it chatfly.Item) {
	t.Helper()
	if it.Value != nil || it.N != 0 || it.Version != 0 || !it.Expires.IsZero() {
		t.Errorf("GetMany: missing item %s = %v, want only its key (Version 0)", fmtKey(it.Key), stateOf(it))
	}
}

func testGetMany(t *testing.T, e *env) {
	b := e.batcher(t)
	p, q := e.part("p"), e.part("q")
	live := key(p, "live")
	counter := key(q, "counter")
	expired, deleted, missing := key(p, "expired"), key(q, "deleted"), key(p, "missing")
	exp := e.future()
	e.wantPut(t, item(live, "v", exp), chatfly.Always, 1)
	e.wantAdd(t, counter, 3, never, 3)
	e.wantPut(t, item(expired, "old", e.past()), chatfly.Always, 1)
	e.wantPut(t, item(deleted, "gone", never), chatfly.Always, 1)
	e.mustDelete(t, deleted, chatfly.Always)
	keys := []chatfly.Key{missing, counter, expired, live, deleted}
	items := e.mustGetMany(t, keys)
	for _, i := range []int{0, 2, 4} {
		wantMissing(t, items[i])
	}
	for _, i := range []int{1, 3} {
		if got := e.mustGet(t, keys[i]); !stateOf(got).equal(stateOf(items[i])) || got.Version != items[i].Version {
			t.Errorf("GetMany: item %s = %v, Get returns %v", fmtKey(keys[i]), stateOf(items[i]), stateOf(got))
		}
	}
	e.sameState(t, items[1], state{N: 3, Version: 1})
	e.sameState(t, items[3], state{Value: []byte("v"), Version: 1, Expires: exp})
	if items, err := b.GetMany(e.ctx, nil); err != nil || len(items) != 0 {
		t.Errorf("GetMany(no keys) = %v, %v; want nothing", items, err)
	}
}

// longBatch is more keys than one request of DynamoDB's batches takes (100
// reads, 25 writes), with every fourth key missing.
const longBatch = 130

func testGetManyLong(t *testing.T, e *env) {
	keys := make([]chatfly.Key, longBatch)
	for i := range keys {
		keys[i] = key(e.part(fmt.Sprint("p", i%3)), fmt.Sprintf("k%03d", i))
		if i%4 != 0 {
			e.mustPut(t, item(keys[i], fmt.Sprint(i), never), chatfly.Always)
		}
	}
	for i, it := range e.mustGetMany(t, keys) {
		if i%4 == 0 {
			wantMissing(t, it)
		} else if string(it.Value) != fmt.Sprint(i) {
			t.Errorf("GetMany: item %s = %v, want value %d", fmtKey(it.Key), stateOf(it), i)
		}
	}
}

func testWriteMany(t *testing.T, e *env) {
	b := e.batcher(t)
	p := e.part("p")
	fresh, over, counter, dead, gone, missing := key(p, "fresh"), key(p, "over"), key(p, "counter"), key(p, "dead"), key(p, "gone"), key(p, "missing")
	v := e.wantPut(t, item(over, "old", never), chatfly.Always, 1)
	e.wantAdd(t, counter, 7, never, 7)
	e.wantPut(t, item(gone, "bye", never), chatfly.Always, 1)
	exp := e.future().Add(time.Hour)
	err := b.WriteMany(e.ctx, []chatfly.Write{
		{Item: item(fresh, "f", exp)},
		{Item: item(over, "new", never)},
		{Item: item(counter, "c", never)},
		{Item: item(dead, "d", e.past())},
		{Item: item(gone, "ignored", never), Delete: true},
		{Item: chatfly.Item{Key: missing}, Delete: true},
	})
	if err != nil {
		t.Fatalf("WriteMany: %v", err)
	}
	e.wantState(t, fresh, state{Value: []byte("f"), Version: 1, Expires: exp})
	// A Put of WriteMany starts a new lifetime: N 0, and a fresh version
	// (the tracker checks it repeats none), so a version read before fails.
	e.wroteUnseen(over)
	e.wantState(t, over, state{Value: []byte("new"), Version: 1})
	e.wantPutConflict(t, item(over, "stale", never), chatfly.IfVersion(v))
	e.wroteUnseen(counter)
	e.wantState(t, counter, state{Value: []byte("c"), Version: 1})
	e.wantAbsent(t, dead)
	e.wantAbsent(t, gone)
	e.wantAbsent(t, missing)
	if err := b.WriteMany(e.ctx, nil); err != nil {
		t.Errorf("WriteMany(nothing): %v", err)
	}
}

func testWriteManyLong(t *testing.T, e *env) {
	b := e.batcher(t)
	p := e.part("p")
	writes := make([]chatfly.Write, longBatch)
	var want []string
	for i := range writes {
		s := fmt.Sprintf("k%03d", i)
		writes[i] = chatfly.Write{Item: item(key(p, s), s, never)}
		want = append(want, s)
	}
	if err := b.WriteMany(e.ctx, writes); err != nil {
		t.Fatalf("WriteMany(%d puts): %v", len(writes), err)
	}
	e.wantQuery(t, chatfly.Query{Partition: p}, want)
	var kept []string
	for i := range writes {
		writes[i].Delete = i%3 != 0
		if !writes[i].Delete {
			kept = append(kept, want[i])
		}
	}
	if err := b.WriteMany(e.ctx, writes); err != nil {
		t.Fatalf("WriteMany(%d writes): %v", len(writes), err)
	}
	e.wantQuery(t, chatfly.Query{Partition: p}, kept)
}

// wantTouch touches k and checks that only its expiry changed.
func (e *env) wantTouch(t *testing.T, k chatfly.Key, exp time.Time, cond chatfly.Cond) {
	t.Helper()
	before := e.mustGet(t, k)
	if err := e.toucher(t).Touch(e.ctx, k, exp, cond); err != nil {
		t.Fatalf("Touch(%s, %v): %v", fmtKey(k), cond, err)
	}
	want := stateOf(before)
	want.Expires = exp
	if got := stateOf(e.mustGet(t, k)); !got.equal(want) || got.Version != want.Version {
		t.Fatalf("after Touch(%s, %v): %v, want %v (the expiry changed alone)", fmtKey(k), cond, got, want)
	}
}

// wantTouchConflict checks that Touch fails with ErrConflict and changes
// nothing.
func (e *env) wantTouchConflict(t *testing.T, k chatfly.Key, exp time.Time, cond chatfly.Cond) {
	t.Helper()
	tc := e.toucher(t)
	e.unchanged(t, k, fmt.Sprintf("Touch(%s, %v)", fmtKey(k), cond), func() error {
		return tc.Touch(e.ctx, k, exp, cond)
	}, chatfly.ErrConflict)
}

func testTouchExpiry(t *testing.T, e *env) {
	e.toucher(t)
	p := e.part("p")
	k, seq := key(p, "a"), key(p, "seq")
	soon := e.future()
	later := soon.Add(time.Hour)
	e.wantPut(t, item(k, "v", soon), chatfly.Always, 1)
	e.wantTouch(t, k, later, chatfly.Always)
	e.wantTouch(t, k, never, chatfly.Always)
	e.wantTouch(t, k, soon, chatfly.Always)
	// A touched counter keeps its stream epoch (Version-N).
	e.wantAdd(t, seq, 1, soon, 1)
	e.wantAdd(t, seq, 1, soon, 2)
	e.wantTouch(t, seq, later, chatfly.Always)
	e.wantAdd(t, seq, 1, later, 3)
	e.wantState(t, seq, state{N: 3, Version: 3, Expires: later})
	// Touching to the past ends the item.
	if err := e.toucher(t).Touch(e.ctx, k, e.past(), chatfly.Always); err != nil {
		t.Fatalf("Touch(%s) to the past: %v", fmtKey(k), err)
	}
	e.wantAbsent(t, k)
	e.wantQuery(t, chatfly.Query{Partition: p}, []string{"seq"})
}

func testTouchAbsent(t *testing.T, e *env) {
	e.toucher(t)
	p := e.part("p")
	missing, expired, deleted := key(p, "missing"), key(p, "expired"), key(p, "deleted")
	e.wantPut(t, item(expired, "v", e.past()), chatfly.Always, 1)
	e.wantPut(t, item(deleted, "v", never), chatfly.Always, 1)
	e.mustDelete(t, deleted, chatfly.Always)
	for _, k := range []chatfly.Key{missing, expired, deleted} {
		for _, cond := range []chatfly.Cond{chatfly.Always, chatfly.IfAbsent, chatfly.IfExists} {
			e.wantTouchConflict(t, k, e.future(), cond)
		}
		e.wantAbsent(t, k)
	}
}

func testTouchCond(t *testing.T, e *env) {
	e.toucher(t)
	k := key(e.part("p"), "a")
	e.wantPut(t, item(k, "v", never), chatfly.Always, 1)
	e.wantPut(t, item(k, "w", never), chatfly.Always, 2)
	soon := e.future()
	e.wantTouch(t, k, soon, chatfly.IfVersion(e.ver(t, k, 2)))
	e.wantTouch(t, k, soon.Add(time.Hour), chatfly.IfExists)
	e.wantTouchConflict(t, k, never, chatfly.IfVersion(e.ver(t, k, 1)))
	e.wantTouchConflict(t, k, never, chatfly.IfVersion(e.ver(t, k, 3)))
	e.wantTouchConflict(t, k, never, chatfly.IfAbsent)
}

// testValueConds checks IfValue and IfPrefix as conditions of op (Put,
// Delete or Touch) on values with NULs, empty values and prefixes longer
// than the value.
func testValueConds(t *testing.T, e *env, op string) {
	if _, ok := e.Storage.(chatfly.ValueConditioner); !ok {
		t.Skip("the Storage does not implement chatfly.ValueConditioner")
	}
	if op == "Touch" {
		e.toucher(t)
	}
	p := e.part("p")
	touched := e.future().Add(time.Hour)
	// apply runs op on the item at k under cond.
	apply := func(k chatfly.Key, cond chatfly.Cond) error {
		switch op {
		case "Put":
			_, err := e.Storage.Put(e.ctx, item(k, "written", never), cond)
			return err
		case "Delete":
			return e.Storage.Delete(e.ctx, k, cond)
		}
		return e.toucher(t).Touch(e.ctx, k, touched, cond)
	}
	bin := []byte("a\x00b\xff")
	cases := []struct {
		name    string
		value   []byte // nil: no item
		cond    chatfly.Cond
		holds   bool
		expired bool // the item is written already expired
	}{
		{"value", []byte("room:1"), chatfly.IfValue([]byte("room:1")), true, false},
		{"other-value", []byte("room:1"), chatfly.IfValue([]byte("room:2")), false, false},
		{"value-is-prefix", []byte("room:1"), chatfly.IfValue([]byte("room:")), false, false},
		{"value-longer", []byte("room:1"), chatfly.IfValue([]byte("room:12")), false, false},
		{"binary-value", bin, chatfly.IfValue(bin), true, false},
		{"binary-other", bin, chatfly.IfValue([]byte("a\x00c\xff")), false, false},
		{"empty-value", []byte{}, chatfly.IfValue(nil), true, false},
		{"empty-vs-value", []byte("x"), chatfly.IfValue(nil), false, false},
		{"value-vs-empty", []byte{}, chatfly.IfValue([]byte("x")), false, false},
		{"prefix", []byte("room:1"), chatfly.IfPrefix([]byte("room:")), true, false},
		{"whole-as-prefix", []byte("room:1"), chatfly.IfPrefix([]byte("room:1")), true, false},
		{"other-prefix", []byte("room:1"), chatfly.IfPrefix([]byte("roam:")), false, false},
		{"prefix-longer", []byte("room:1"), chatfly.IfPrefix([]byte("room:1x")), false, false},
		{"binary-prefix", bin, chatfly.IfPrefix([]byte("a\x00")), true, false},
		{"binary-other-prefix", bin, chatfly.IfPrefix([]byte("a\x01")), false, false},
		{"empty-prefix", []byte("x"), chatfly.IfPrefix(nil), true, false},
		{"empty-prefix-empty", []byte{}, chatfly.IfPrefix(nil), true, false},
		{"missing-value", nil, chatfly.IfValue(nil), false, false},
		{"missing-prefix", nil, chatfly.IfPrefix(nil), false, false},
		{"expired-value", []byte("old"), chatfly.IfValue([]byte("old")), false, true},
		{"expired-prefix", []byte("old"), chatfly.IfPrefix([]byte("o")), false, true},
	}
	for _, c := range cases {
		k := key(p, c.name)
		if c.value != nil {
			exp := never
			if c.expired {
				exp = e.past()
			}
			e.wantPut(t, chatfly.Item{Key: k, Value: c.value, Expires: exp}, chatfly.Always, 1)
		}
		what := fmt.Sprintf("%s(%s, %v) on %q", op, fmtKey(k), c.cond, c.value)
		if !c.holds {
			e.unchanged(t, k, what, func() error { return apply(k, c.cond) }, chatfly.ErrConflict)
			continue
		}
		if err := apply(k, c.cond); err != nil {
			t.Errorf("%s: %v, want it to hold", what, err)
			continue
		}
		switch it, err := e.Storage.Get(e.ctx, k); {
		case op == "Delete" && !errors.Is(err, chatfly.ErrNotFound):
			t.Errorf("%s held but the item is still there: %v", what, err)
		case op == "Put" && (err != nil || string(it.Value) != "written"):
			t.Errorf("%s held but the item is %v, %v", what, stateOf(it), err)
		case op == "Touch" && (err != nil || !it.Expires.Equal(touched) || string(it.Value) != string(c.value)):
			t.Errorf("%s held but the item is %v, %v", what, stateOf(it), err)
		}
	}
}
