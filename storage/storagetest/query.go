package storagetest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chatfly/chatfly"
)

func queryCases() testCase {
	return group("Query",
		tc("EmptyPartition", func(t *testing.T, e *env) {
			p := e.part("p")
			e.wantQuery(t, chatfly.Query{Partition: p}, nil)
			e.wantQuery(t, chatfly.Query{Partition: p, Reverse: true, Limit: 3}, nil)
			e.wantQuery(t, chatfly.Query{Partition: p, Prefix: "a", StartAfter: "a"}, nil)
			// A partition whose name extends that of a non-empty one.
			e.wantPut(t, item(key(p, "a"), "v", never), chatfly.Always, 1)
			e.wantQuery(t, chatfly.Query{Partition: p + "#"}, nil)
			e.wantQuery(t, chatfly.Query{Partition: p + "a"}, nil)
		}),
		tc("Order", func(t *testing.T, e *env) {
			p := e.part("p")
			var want []string
			for i := range 20 {
				want = append(want, fmt.Sprintf("k%02d", i))
			}
			for i := range 20 { // not in order
				s := want[i*7%20]
				e.wantPut(t, item(key(p, s), s, never), chatfly.Always, 1)
			}
			e.wantQuery(t, chatfly.Query{Partition: p}, want)
			e.wantQuery(t, chatfly.Query{Partition: p, Reverse: true}, reversed(want))
		}),
		tc("ReturnsItems", func(t *testing.T, e *env) {
			p := e.part("p")
			exp := e.future()
			e.wantPut(t, item(key(p, "a"), "va", exp), chatfly.Always, 1)
			e.wantAdd(t, key(p, "b"), 3, exp, 3)
			e.wantPut(t, item(key(p, "c"), "vc", never), chatfly.Always, 1)
			e.wantAdd(t, key(p, "c"), -2, never, -2)
			e.wantPut(t, item(key(p, "c"), "vc2", never), chatfly.Always, 3)
			e.wantAdd(t, key(p, "c"), 4, never, 4)
			want := []state{
				{Value: []byte("va"), Version: 1, Expires: exp},
				{N: 3, Version: 1, Expires: exp},
				{Value: []byte("vc2"), N: 4, Version: 4},
			}
			for _, reverse := range []bool{false, true} {
				q := chatfly.Query{Partition: p, Reverse: reverse}
				sorts := []string{"a", "b", "c"}
				if reverse {
					sorts = reversed(sorts)
				}
				items := e.wantQuery(t, q, sorts)
				for i, it := range items {
					w := want[i]
					if reverse {
						w = want[len(want)-1-i]
					}
					if !e.sameState(t, it, w) {
						t.Errorf("in the result of %s", fmtQuery(q))
					}
				}
			}
		}),
		tc("SeparatePartitions", func(t *testing.T, e *env) {
			parts := []string{e.part("x"), e.part("x#"), e.part("x#y"), e.part("xx")}
			for i, p := range parts {
				for j := range i + 1 {
					s := fmt.Sprint(j)
					e.wantPut(t, item(key(p, s), s, never), chatfly.Always, 1)
				}
			}
			for i, p := range parts {
				var want []string
				for j := range i + 1 {
					want = append(want, fmt.Sprint(j))
				}
				e.wantQuery(t, chatfly.Query{Partition: p}, want)
			}
		}),
		tc("Prefix", func(t *testing.T, e *env) {
			p := e.part("p")
			e.putKeys(t, p, "a", "m", "m#", "m#1", "m#2", "m#2#x", "m$", "m0", "mm", "n")
			for _, c := range []struct {
				prefix string
				want   []string
			}{
				{"m#", []string{"m#", "m#1", "m#2", "m#2#x"}},
				{"m", []string{"m", "m#", "m#1", "m#2", "m#2#x", "m$", "m0", "mm"}},
				{"m#2", []string{"m#2", "m#2#x"}},
				{"m#2#x", []string{"m#2#x"}},
				{"m#2#x#", nil},
				{"b", nil},
				{"z", nil},
				{"", []string{"a", "m", "m#", "m#1", "m#2", "m#2#x", "m$", "m0", "mm", "n"}},
			} {
				e.wantQuery(t, chatfly.Query{Partition: p, Prefix: c.prefix}, c.want)
				e.wantQuery(t, chatfly.Query{Partition: p, Prefix: c.prefix, Reverse: true}, reversed(c.want))
			}
		}),
		group("StartAfter",
			tc("Ascending", func(t *testing.T, e *env) {
				p := e.part("p")
				e.putKeys(t, p, "b", "d", "f", "h")
				for _, c := range []struct {
					after string
					want  []string
				}{
					{"d", []string{"f", "h"}},
					{"c", []string{"d", "f", "h"}},
					{"a", []string{"b", "d", "f", "h"}},
					{"b", []string{"d", "f", "h"}},
					{"h", nil},
					{"z", nil},
					{"d\x00", []string{"f", "h"}},
				} {
					e.wantQuery(t, chatfly.Query{Partition: p, StartAfter: c.after}, c.want)
				}
			}),
			tc("Descending", func(t *testing.T, e *env) {
				p := e.part("p")
				e.putKeys(t, p, "b", "d", "f", "h")
				for _, c := range []struct {
					after string
					want  []string
				}{
					{"f", []string{"d", "b"}},
					{"e", []string{"d", "b"}},
					{"z", []string{"h", "f", "d", "b"}},
					{"h", []string{"f", "d", "b"}},
					{"b", nil},
					{"a", nil},
					{"d\x00", []string{"d", "b"}},
				} {
					e.wantQuery(t, chatfly.Query{Partition: p, StartAfter: c.after, Reverse: true}, c.want)
				}
			}),
			tc("WithPrefix", func(t *testing.T, e *env) {
				p := e.part("p")
				e.putKeys(t, p, "a#1", "m", "m#1", "m#2", "m#3", "m$", "z#1")
				for _, c := range []struct {
					after   string
					reverse bool
					want    []string
				}{
					{"m#1", false, []string{"m#2", "m#3"}},
					{"m#", false, []string{"m#1", "m#2", "m#3"}},
					{"m", false, []string{"m#1", "m#2", "m#3"}},
					{"a", false, []string{"m#1", "m#2", "m#3"}},
					{"m#3", false, nil},
					{"m$", false, nil},
					{"z", false, nil},
					{"m#3", true, []string{"m#2", "m#1"}},
					{"m#2\x00", true, []string{"m#2", "m#1"}},
					{"m$", true, []string{"m#3", "m#2", "m#1"}},
					{"z", true, []string{"m#3", "m#2", "m#1"}},
					{"m#1", true, nil},
					{"m#", true, nil},
					{"m", true, nil},
					{"a", true, nil},
				} {
					e.wantQuery(t, chatfly.Query{Partition: p, Prefix: "m#", StartAfter: c.after, Reverse: c.reverse}, c.want)
				}
			}),
		),
		tc("Limit", func(t *testing.T, e *env) {
			p := e.part("p")
			e.putKeys(t, p, "a", "b", "c", "d", "e", "f", "x#1", "x#2", "x#3", "y")
			all := []string{"a", "b", "c", "d", "e", "f", "x#1", "x#2", "x#3", "y"}
			for _, n := range []int{1, 3, 10, 11, 100} {
				want := all[:min(n, len(all))]
				e.wantQuery(t, chatfly.Query{Partition: p, Limit: n}, want)
				e.wantQuery(t, chatfly.Query{Partition: p, Limit: n, Reverse: true}, reversed(all)[:len(want)])
			}
			e.wantQuery(t, chatfly.Query{Partition: p, Prefix: "x#", Limit: 2}, []string{"x#1", "x#2"})
			e.wantQuery(t, chatfly.Query{Partition: p, Prefix: "x#", Limit: 2, Reverse: true}, []string{"x#3", "x#2"})
			e.wantQuery(t, chatfly.Query{Partition: p, StartAfter: "c", Limit: 2}, []string{"d", "e"})
			e.wantQuery(t, chatfly.Query{Partition: p, StartAfter: "c", Limit: 2, Reverse: true}, []string{"b", "a"})
			e.wantQuery(t, chatfly.Query{Partition: p, Prefix: "x#", StartAfter: "x#1", Limit: 1}, []string{"x#2"})
			e.wantQuery(t, chatfly.Query{Partition: p, Prefix: "x#", StartAfter: "x#3", Limit: 5, Reverse: true}, []string{"x#2", "x#1"})
		}),
		tc("Cursor", func(t *testing.T, e *env) {
			p := e.part("p")
			var all []string
			for i := range 25 {
				all = append(all, fmt.Sprintf("msg#%03d", i))
			}
			e.putKeys(t, p, all...)
			for _, reverse := range []bool{false, true} {
				var got []string
				after := ""
				for pages := 0; ; pages++ {
					if pages > 10 {
						t.Fatalf("paging with Limit 4 (reverse %v) did not end: %q", reverse, got)
					}
					items := e.mustQuery(t, chatfly.Query{Partition: p, Prefix: "msg#", StartAfter: after, Reverse: reverse, Limit: 4})
					if len(items) > 4 {
						t.Fatalf("Query with Limit 4 returned %d items", len(items))
					}
					if len(items) == 0 {
						break
					}
					got = append(got, sortKeys(items)...)
					after = items[len(items)-1].Sort
				}
				want := all
				if reverse {
					want = reversed(all)
				}
				if !equalStrings(got, want) {
					t.Fatalf("paging with Limit 4 (reverse %v) returned\n\t%q\nwant\n\t%q", reverse, got, want)
				}
			}
		}),
		tc("ByteOrder", func(t *testing.T, e *env) {
			p := e.part("p")
			e.putKeys(t, p, oddSortKeys...)
			want := slices.Sorted(slices.Values(oddSortKeys))
			e.wantQuery(t, chatfly.Query{Partition: p}, want)
			e.wantQuery(t, chatfly.Query{Partition: p, Reverse: true}, reversed(want))
			e.wantQuery(t, chatfly.Query{Partition: p, Prefix: "a#"}, []string{"a#", "a#b", "a#b#c"})
			e.wantQuery(t, chatfly.Query{Partition: p, Prefix: "é"}, []string{"é"})
			e.wantQuery(t, chatfly.Query{Partition: p, Prefix: "e"}, []string{"e\u0301"})
			e.wantQuery(t, chatfly.Query{Partition: p, StartAfter: "\uffe0"}, []string{"𝄞", "😀"})
			e.wantQuery(t, chatfly.Query{Partition: p, StartAfter: "\U0001D11E", Reverse: true, Limit: 3}, []string{"\uffe0", "\ufb01", "日本語"})
		}),
		tc("Model", func(t *testing.T, e *env) {
			// Every combination of the query fields, against a simple model.
			p := e.part("p")
			keys := []string{"a", "a#", "a#1", "a#2", "a#2#x", "a$", "aa", "b", "b#1", "é", "😀"}
			e.putKeys(t, p, keys...)
			failures := 0
			for _, prefix := range []string{"", "a", "a#", "a#2", "b#", "c", "é"} {
				for _, after := range []string{"", "a", "a#", "a#1", "a#2#x", "a%", "b", "zz", "\U0010ffff"} {
					for _, reverse := range []bool{false, true} {
						for _, limit := range []int{0, 1, 2, 5} {
							q := chatfly.Query{Partition: p, Prefix: prefix, StartAfter: after, Reverse: reverse, Limit: limit}
							want := model(keys, q)
							got := sortKeys(e.mustQuery(t, q))
							if !equalStrings(got, want) {
								t.Errorf("%s returned %q, want %q", fmtQuery(q), got, want)
								if failures++; failures == 10 {
									t.FailNow()
								}
							}
						}
					}
				}
			}
		}),
		tc("Expired", func(t *testing.T, e *env) {
			p := e.part("p")
			var live []string
			for i := range 10 {
				s := fmt.Sprintf("k%d", i)
				exp := e.past()
				if i%2 == 1 {
					exp = e.future()
					live = append(live, s)
				}
				e.wantPut(t, item(key(p, s), s, exp), chatfly.Always, 1)
			}
			e.wantQuery(t, chatfly.Query{Partition: p}, live)
			e.wantQuery(t, chatfly.Query{Partition: p, Reverse: true}, reversed(live))
			e.wantQuery(t, chatfly.Query{Partition: p, Limit: 2}, live[:2])
			e.wantQuery(t, chatfly.Query{Partition: p, StartAfter: "k4", Limit: 2, Reverse: true}, []string{"k3", "k1"})
		}),
		tc("LimitSkipsExpired", func(t *testing.T, e *env) {
			// Runs of expired items longer than the limit, so that a backend
			// that filters expired items after applying the limit returns too
			// few unless it keeps reading.
			p := e.part("p")
			var live []string
			for i := range 30 {
				s := fmt.Sprintf("k%02d", i)
				exp := e.past()
				if (i >= 10 && i < 15) || i >= 25 {
					exp = never
					live = append(live, s)
				}
				e.wantPut(t, item(key(p, s), s, exp), chatfly.Always, 1)
			}
			e.wantQuery(t, chatfly.Query{Partition: p}, live)
			e.wantQuery(t, chatfly.Query{Partition: p, Limit: 3}, []string{"k10", "k11", "k12"})
			e.wantQuery(t, chatfly.Query{Partition: p, Limit: 7}, []string{"k10", "k11", "k12", "k13", "k14", "k25", "k26"})
			e.wantQuery(t, chatfly.Query{Partition: p, Limit: 3, Reverse: true}, []string{"k29", "k28", "k27"})
			e.wantQuery(t, chatfly.Query{Partition: p, Limit: 7, Reverse: true}, []string{"k29", "k28", "k27", "k26", "k25", "k14", "k13"})
			e.wantQuery(t, chatfly.Query{Partition: p, StartAfter: "k12", Limit: 4}, []string{"k13", "k14", "k25", "k26"})
			e.wantQuery(t, chatfly.Query{Partition: p, StartAfter: "k25", Limit: 1, Reverse: true}, []string{"k14"})
			e.wantQuery(t, chatfly.Query{Partition: p, StartAfter: "k14", Limit: 1}, []string{"k25"})
		}),
		tc("ManyPages", testManyPages),
	)
}

// putKeys puts one item at each sort key of partition p, with the sort key
// as its value, in the order given.
func (e *env) putKeys(t *testing.T, p string, sorts ...string) {
	t.Helper()
	for _, s := range sorts {
		e.wantPut(t, item(key(p, s), s, never), chatfly.Always, 1)
	}
}

// model returns the sort keys that q selects among keys.
func model(keys []string, q chatfly.Query) []string {
	sorted := slices.Sorted(slices.Values(keys))
	if q.Reverse {
		slices.Reverse(sorted)
	}
	var out []string
	for _, k := range sorted {
		if !strings.HasPrefix(k, q.Prefix) {
			continue
		}
		if q.StartAfter != "" && (!q.Reverse && k <= q.StartAfter || q.Reverse && k >= q.StartAfter) {
			continue
		}
		out = append(out, k)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out
}

// Many pages: more data than one page of a paginating backend (DynamoDB
// returns at most 1 MB per request), with some expired items between.
const (
	pageItems     = 160
	pageItemBytes = 8 << 10 // 160 × 8 KiB = 1.25 MiB
)

func pageKey(i int) string { return fmt.Sprintf("item#%04d", i) }

func pageExpired(i int) bool { return i%16 == 5 }

func testManyPages(t *testing.T, e *env) {
	p := e.part("p")
	values := make([][]byte, pageItems)
	for i := range values {
		values[i] = largeValue(i, pageItemBytes)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				exp := never
				if pageExpired(i) {
					exp = e.past()
				}
				it := chatfly.Item{Key: key(p, pageKey(i)), Value: values[i], Expires: exp}
				if _, err := e.Storage.Put(e.ctx, it, chatfly.Always); err != nil {
					t.Errorf("Put(%s): %v", fmtKey(it.Key), err)
				}
			}
		})
	}
	for i := range pageItems {
		next <- i
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	var live []int
	for i := range pageItems {
		if !pageExpired(i) {
			live = append(live, i)
		}
	}
	check := func(q chatfly.Query, want []int) {
		t.Helper()
		wantKeys := make([]string, len(want))
		for i, n := range want {
			wantKeys[i] = pageKey(n)
		}
		items := e.wantQuery(t, q, wantKeys)
		for i, it := range items {
			if !bytes.Equal(it.Value, values[want[i]]) {
				t.Fatalf("%s: item %q has the wrong value (%d bytes)", fmtQuery(q), it.Sort, len(it.Value))
			}
		}
	}
	// where returns the live items that keep returns true for, in order.
	where := func(reverse bool, keep func(i int) bool) []int {
		var out []int
		for _, i := range live {
			if keep(i) {
				out = append(out, i)
			}
		}
		if reverse {
			slices.Reverse(out)
		}
		return out
	}
	all := func(int) bool { return true }
	check(chatfly.Query{Partition: p}, where(false, all))
	check(chatfly.Query{Partition: p, Reverse: true}, where(true, all))
	check(chatfly.Query{Partition: p, Limit: 140}, where(false, all)[:140])
	check(chatfly.Query{Partition: p, Limit: 140, Reverse: true}, where(true, all)[:140])
	check(chatfly.Query{Partition: p, Prefix: "item#", StartAfter: pageKey(8)},
		where(false, func(i int) bool { return i > 8 }))
	check(chatfly.Query{Partition: p, Prefix: "item#", StartAfter: pageKey(150), Reverse: true},
		where(true, func(i int) bool { return i < 150 }))
	check(chatfly.Query{Partition: p, Prefix: "item#01"},
		where(false, func(i int) bool { return i >= 100 && i < 200 }))
}
