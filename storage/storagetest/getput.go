package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

func getCases() testCase {
	return group("Get",
		tc("Missing", func(t *testing.T, e *env) {
			p := e.part("p")
			e.wantAbsent(t, key(p, "a"))
			e.wantPut(t, item(key(p, "ab"), "v", e.future()), chatfly.Always, 1)
			e.wantAbsent(t, key(p, "a"))
			e.wantAbsent(t, key(p, "abc"))
			e.wantAbsent(t, key(p, "b"))
			e.wantAbsent(t, key(e.part("q"), "ab"))
		}),
		tc("RoundTrip", func(t *testing.T, e *env) {
			k := key(e.part("p"), "conn#1")
			exp := e.future()
			e.wantPut(t, item(k, `{"x":1}`, exp), chatfly.Always, 1)
			e.wantState(t, k, state{Value: []byte(`{"x":1}`), Version: 1, Expires: exp})
		}),
		tc("SeparatePartitions", func(t *testing.T, e *env) {
			// Partition names that are prefixes of each other.
			parts := []string{e.part("x"), e.part("x#"), e.part("x#y"), e.part("xx")}
			for i, p := range parts {
				e.wantPut(t, item(key(p, "s"), fmt.Sprint(i), never), chatfly.Always, 1)
			}
			for i, p := range parts {
				e.wantState(t, key(p, "s"), state{Value: []byte(fmt.Sprint(i)), Version: 1})
			}
		}),
		tc("Expired", func(t *testing.T, e *env) {
			k := key(e.part("p"), "a")
			e.wantPut(t, item(k, "v", e.past()), chatfly.Always, 1)
			e.wantAbsent(t, k)
		}),
	)
}

func putCases() testCase {
	return group("Put",
		tc("RoundTrip", func(t *testing.T, e *env) {
			k := key(e.part("p"), "a")
			e.wantPut(t, item(k, "one", never), chatfly.Always, 1)
			e.wantState(t, k, state{Value: []byte("one"), Version: 1})
			e.wantPut(t, item(k, "two", never), chatfly.Always, 2)
			e.wantState(t, k, state{Value: []byte("two"), Version: 2})
		}),
		tc("ResetsCounter", func(t *testing.T, e *env) {
			k := key(e.part("p"), "a")
			e.wantAdd(t, k, 5, never, 5)
			e.wantPut(t, item(k, "v", never), chatfly.Always, 2)
			e.wantState(t, k, state{Value: []byte("v"), Version: 2})
			e.wantAdd(t, k, 1, never, 1)
		}),
		tc("IgnoresVersionAndN", func(t *testing.T, e *env) {
			k := key(e.part("p"), "a")
			it := item(k, "v", never)
			it.Version, it.N = 42, 7
			e.wantPut(t, it, chatfly.Always, 1)
			e.wantState(t, k, state{Value: []byte("v"), Version: 1})
			e.wantPut(t, it, chatfly.Always, 2)
			e.wantState(t, k, state{Value: []byte("v"), Version: 2})
		}),
		tc("ReplacesExpires", func(t *testing.T, e *env) {
			k := key(e.part("p"), "a")
			exp1, exp2 := e.future(), e.future().Add(time.Hour)
			e.wantPut(t, item(k, "v", exp1), chatfly.Always, 1)
			e.wantState(t, k, state{Value: []byte("v"), Version: 1, Expires: exp1})
			e.wantPut(t, item(k, "v", exp2), chatfly.Always, 2)
			e.wantState(t, k, state{Value: []byte("v"), Version: 2, Expires: exp2})
			e.wantPut(t, item(k, "v", never), chatfly.Always, 3)
			e.wantState(t, k, state{Value: []byte("v"), Version: 3})
		}),
		tc("AfterDelete", func(t *testing.T, e *env) {
			k := key(e.part("p"), "a")
			e.wantPut(t, item(k, "one", never), chatfly.Always, 1)
			e.wantPut(t, item(k, "two", never), chatfly.Always, 2)
			e.mustDelete(t, k, chatfly.Always)
			e.wantPut(t, item(k, "three", never), chatfly.Always, 1)
			e.wantState(t, k, state{Value: []byte("three"), Version: 1})
		}),
		tc("OverExpired", func(t *testing.T, e *env) {
			k := key(e.part("p"), "a")
			e.wantPut(t, item(k, "old", e.past()), chatfly.Always, 1)
			e.wantPut(t, item(k, "new", never), chatfly.Always, 1)
			e.wantState(t, k, state{Value: []byte("new"), Version: 1})
		}),
		group("IfAbsent",
			tc("Missing", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "v", never), chatfly.IfAbsent, 1)
				e.wantState(t, k, state{Value: []byte("v"), Version: 1})
			}),
			tc("Existing", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				exp := e.future()
				e.wantPut(t, item(k, "first", exp), chatfly.Always, 1)
				e.wantPut(t, item(k, "first", exp), chatfly.Always, 2)
				e.wantPutConflict(t, item(k, "second", never), chatfly.IfAbsent)
				e.wantState(t, k, state{Value: []byte("first"), Version: 2, Expires: exp})
			}),
			tc("Expired", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "old", e.future()), chatfly.Always, 1)
				e.wantPut(t, item(k, "old", e.past()), chatfly.Always, 2)
				e.wantPut(t, item(k, "new", never), chatfly.IfAbsent, 1)
				e.wantState(t, k, state{Value: []byte("new"), Version: 1})
			}),
			tc("Deleted", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "old", never), chatfly.Always, 1)
				e.mustDelete(t, k, chatfly.Always)
				e.wantPut(t, item(k, "new", never), chatfly.IfAbsent, 1)
			}),
			tc("IfVersionZero", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "v", never), chatfly.IfVersion(0), 1)
				e.wantPutConflict(t, item(k, "w", never), chatfly.IfVersion(0))
			}),
		),
		group("IfExists",
			tc("Missing", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPutConflict(t, item(k, "v", never), chatfly.IfExists)
				e.wantAbsent(t, k)
			}),
			tc("Existing", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "one", never), chatfly.Always, 1)
				e.wantPut(t, item(k, "two", never), chatfly.IfExists, 2)
				e.wantState(t, k, state{Value: []byte("two"), Version: 2})
			}),
			tc("Expired", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "old", e.past()), chatfly.Always, 1)
				e.wantPutConflict(t, item(k, "new", never), chatfly.IfExists)
				e.wantAbsent(t, k)
			}),
		),
		group("IfVersion",
			tc("Match", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "one", never), chatfly.Always, 1)
				e.wantPut(t, item(k, "two", never), chatfly.IfVersion(e.ver(t, k, 1)), 2)
				e.wantPut(t, item(k, "three", never), chatfly.IfVersion(e.ver(t, k, 2)), 3)
				e.wantState(t, k, state{Value: []byte("three"), Version: 3})
			}),
			tc("Stale", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "one", never), chatfly.Always, 1)
				e.wantPut(t, item(k, "two", never), chatfly.Always, 2)
				e.wantPutConflict(t, item(k, "stale", never), chatfly.IfVersion(e.ver(t, k, 1)))
				e.wantPutConflict(t, item(k, "ahead", never), chatfly.IfVersion(e.ver(t, k, 3)))
				e.wantState(t, k, state{Value: []byte("two"), Version: 2})
			}),
			tc("AfterAdd", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "v", never), chatfly.Always, 1)
				e.wantAdd(t, k, 1, never, 1)
				e.wantPutConflict(t, item(k, "w", never), chatfly.IfVersion(e.ver(t, k, 1)))
				e.wantPut(t, item(k, "w", never), chatfly.IfVersion(e.ver(t, k, 2)), 3)
			}),
			tc("Missing", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPutConflict(t, item(k, "v", never), chatfly.IfVersion(1))
				e.wantAbsent(t, k)
			}),
			tc("Expired", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "old", e.past()), chatfly.Always, 1)
				e.wantPutConflict(t, item(k, "new", never), chatfly.IfVersion(e.ver(t, k, 1)))
				e.wantAbsent(t, k)
			}),
		),
		tc("Values", func(t *testing.T, e *env) {
			all := make([]byte, 256)
			for i := range all {
				all[i] = byte(i)
			}
			values := []struct {
				name  string
				value []byte
			}{
				{"nil", nil},
				{"empty", []byte{}},
				{"nul", []byte{0}},
				{"nuls", []byte{0, 0, 0}},
				{"nul-inside", []byte("a\x00b")},
				{"invalid-utf8", []byte("\xc3\x28\xff\xfe")},
				{"lone-surrogate", []byte("\xed\xa0\x80")},
				{"all-bytes", all},
				{"json", []byte(`{"text":"héllo 😀","n":1}`)},
				{"large", largeValue(1, 100<<10)},
			}
			p := e.part("p")
			for _, v := range values {
				e.wantPut(t, chatfly.Item{Key: key(p, v.name), Value: v.value}, chatfly.Always, 1)
			}
			for _, v := range values {
				e.wantState(t, key(p, v.name), state{Value: v.value, Version: 1})
			}
			items := e.mustQuery(t, chatfly.Query{Partition: p})
			if len(items) != len(values) {
				t.Fatalf("Query returned %d items, want %d", len(items), len(values))
			}
			for _, v := range values {
				for _, it := range items {
					if it.Sort == v.name && string(it.Value) != string(v.value) {
						t.Errorf("Query returned value %q for %q, want %q", it.Value, v.name, v.value)
					}
				}
			}
		}),
		tc("SortKeys", func(t *testing.T, e *env) {
			p := e.part("p")
			for i, s := range oddSortKeys {
				e.wantPut(t, item(key(p, s), fmt.Sprint(i), never), chatfly.Always, 1)
			}
			for i, s := range oddSortKeys {
				e.wantState(t, key(p, s), state{Value: []byte(fmt.Sprint(i)), Version: 1})
			}
		}),
	)
}

// largeValue returns n bytes derived from seed.
func largeValue(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// oddSortKeys are sort keys with separators, case, and non-ASCII characters
// whose UTF-8 byte order differs from their UTF-16 order (a surrogate pair
// sorts before U+E000..U+FFFF in UTF-16, after them in UTF-8).
var oddSortKeys = []string{
	"#", "#a", "##", "$", "0", "9", "A", "Z", "_", "a", "a b", "a#", "a#b",
	"a#b#c", "a$", "aa", "z", "~", "\x7f", "\x01", "é", "e\u0301", "ÿ", "Ā",
	"€", "\ufb01", "\uffe0", "😀", "𝄞", "日本語",
}
