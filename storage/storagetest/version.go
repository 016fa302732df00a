package storagetest

import (
	"slices"
	"testing"

	"github.com/chatfly/chatfly"
)

// The contract of chatfly.Item.Version: a new lifetime of a key starts at a
// version the key never had, and every write within a lifetime adds one.

func versionCases() testCase {
	return group("Version",
		tc("NoABA", testNoABA),
		tc("StreamEpoch", testStreamEpoch),
	)
}

// testNoABA ends an item's lifetime (by Delete, or by a write that leaves
// it expired), starts a new one (by Put Always, Put IfAbsent or Add), and
// checks that no version of the new lifetime is one of an earlier
// lifetime, and that IfVersion conditions read in an earlier lifetime fail.
func testNoABA(t *testing.T, e *env) {
	ends := []string{"Delete", "Expire"}
	starts := []string{"PutAlways", "PutIfAbsent", "Add"}
	for _, end := range ends {
		for _, start := range starts {
			t.Run(end+"/"+start, func(t *testing.T) {
				k := key(e.part(end+"/"+start), "a")
				var old []int64 // versions of earlier lifetimes
				for life := range 3 {
					var v int64
					switch start {
					case "PutAlways":
						v = e.mustPut(t, item(k, "one", never), chatfly.Always)
					case "PutIfAbsent":
						v = e.mustPut(t, item(k, "one", never), chatfly.IfAbsent)
					case "Add":
						e.mustAdd(t, k, 1, never)
						v = e.mustGet(t, k).Version
					}
					if v == 0 || slices.Contains(old, v) {
						t.Fatalf("lifetime %d started at version %d; earlier lifetimes had %v", life+1, v, old)
					}
					for _, o := range old {
						e.wantPutConflict(t, item(k, "stale", never), chatfly.IfVersion(o))
						e.wantDeleteConflict(t, k, chatfly.IfVersion(o))
					}
					// Two more writes of the lifetime, then its end.
					e.mustAdd(t, k, 1, never)
					v2 := e.mustGet(t, k).Version
					v3 := e.mustPut(t, item(k, "two", never), chatfly.IfVersion(v2))
					if v2 != v+1 || v3 != v+2 {
						t.Fatalf("lifetime %d: versions %d, %d, %d, want one more at each write", life+1, v, v2, v3)
					}
					if slices.Contains(old, v2) || slices.Contains(old, v3) {
						t.Fatalf("lifetime %d: versions %d, %d repeat one of earlier lifetimes: %v", life+1, v2, v3, old)
					}
					old = append(old, v, v2, v3)
					if end == "Delete" {
						e.mustDelete(t, k, chatfly.IfVersion(v3))
					} else {
						old = append(old, e.mustPut(t, item(k, "gone", e.past()), chatfly.Always))
					}
					e.wantAbsent(t, k)
				}
			})
		}
	}
}

// testStreamEpoch checks that Version-N of a counter that only Add(1)
// writes stays the same for its lifetime and differs between lifetimes:
// a client that holds the epoch of a room's message numbers can tell a
// restarted sequence from a continued one.
func testStreamEpoch(t *testing.T, e *env) {
	k := key(e.part("p"), "seq")
	epoch := func() int64 {
		t.Helper()
		it := e.mustGet(t, k)
		return it.Version - it.N
	}
	var epochs []int64
	for life := range 4 {
		e.wantAdd(t, k, 1, never, 1)
		ep := epoch()
		if slices.Contains(epochs, ep) {
			t.Fatalf("lifetime %d has the epoch (Version-N) %d of an earlier one: %v", life+1, ep, epochs)
		}
		for n := int64(2); n <= 4; n++ {
			e.wantAdd(t, k, 1, never, n)
			if got := epoch(); got != ep {
				t.Fatalf("lifetime %d: Version-N went from %d to %d at N=%d", life+1, ep, got, n)
			}
		}
		epochs = append(epochs, ep)
		if life%2 == 0 {
			e.mustDelete(t, k, chatfly.Always)
		} else {
			e.mustAdd(t, k, 1, e.past()) // the last Add leaves it expired
		}
		e.wantAbsent(t, k)
	}
}
