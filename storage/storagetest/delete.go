package storagetest

import (
	"testing"

	"github.com/chatfly/chatfly"
)

func deleteCases() testCase {
	return group("Delete",
		group("Always",
			tc("Missing", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.mustDelete(t, k, chatfly.Always)
				e.wantAbsent(t, k)
			}),
			tc("Existing", func(t *testing.T, e *env) {
				p := e.part("p")
				for _, s := range []string{"a", "b", "c"} {
					e.wantPut(t, item(key(p, s), s, never), chatfly.Always, 1)
				}
				e.mustDelete(t, key(p, "b"), chatfly.Always)
				e.wantAbsent(t, key(p, "b"))
				e.wantState(t, key(p, "a"), state{Value: []byte("a"), Version: 1})
				e.wantQuery(t, chatfly.Query{Partition: p}, []string{"a", "c"})
			}),
			tc("Expired", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "v", e.past()), chatfly.Always, 1)
				e.mustDelete(t, k, chatfly.Always)
				e.wantAbsent(t, k)
				e.wantPut(t, item(k, "w", never), chatfly.IfAbsent, 1)
			}),
			tc("Counter", func(t *testing.T, e *env) {
				k := key(e.part("p"), "seq")
				e.wantAdd(t, k, 7, never, 7)
				e.mustDelete(t, k, chatfly.Always)
				e.wantAbsent(t, k)
				e.wantAdd(t, k, 1, never, 1)
				e.wantState(t, k, state{N: 1, Version: 1})
			}),
		),
		group("IfExists",
			tc("Missing", func(t *testing.T, e *env) {
				e.wantDeleteConflict(t, key(e.part("p"), "a"), chatfly.IfExists)
			}),
			tc("Existing", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "v", never), chatfly.Always, 1)
				e.mustDelete(t, k, chatfly.IfExists)
				e.wantAbsent(t, k)
				e.wantDeleteConflict(t, k, chatfly.IfExists)
			}),
			tc("Expired", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "v", e.past()), chatfly.Always, 1)
				e.wantDeleteConflict(t, k, chatfly.IfExists)
			}),
		),
		group("IfVersion",
			tc("Match", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "v", never), chatfly.Always, 1)
				e.wantPut(t, item(k, "v", never), chatfly.Always, 2)
				e.mustDelete(t, k, chatfly.IfVersion(e.ver(t, k, 2)))
				e.wantAbsent(t, k)
			}),
			tc("Stale", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "v", never), chatfly.Always, 1)
				e.wantPut(t, item(k, "w", never), chatfly.Always, 2)
				e.wantDeleteConflict(t, k, chatfly.IfVersion(e.ver(t, k, 1)))
				e.wantDeleteConflict(t, k, chatfly.IfVersion(e.ver(t, k, 3)))
				e.wantState(t, k, state{Value: []byte("w"), Version: 2})
			}),
			tc("Missing", func(t *testing.T, e *env) {
				e.wantDeleteConflict(t, key(e.part("p"), "a"), chatfly.IfVersion(1))
			}),
			tc("Expired", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "v", e.past()), chatfly.Always, 1)
				e.wantDeleteConflict(t, k, chatfly.IfVersion(e.ver(t, k, 1)))
			}),
		),
		// Delete removes the item "if cond holds"; IfAbsent holds only when
		// there is nothing (live) to remove.
		group("IfAbsent",
			tc("Missing", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.mustDelete(t, k, chatfly.IfAbsent)
				e.wantAbsent(t, k)
			}),
			tc("Existing", func(t *testing.T, e *env) {
				k := key(e.part("p"), "a")
				e.wantPut(t, item(k, "v", never), chatfly.Always, 1)
				e.wantDeleteConflict(t, k, chatfly.IfAbsent)
				e.wantState(t, k, state{Value: []byte("v"), Version: 1})
			}),
		),
	)
}
