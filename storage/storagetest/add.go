package storagetest

import (
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

func addCases() testCase {
	return group("Add",
		tc("FromZero", func(t *testing.T, e *env) {
			k := key(e.part("p"), "seq")
			e.wantAdd(t, k, 1, never, 1)
			e.wantState(t, k, state{N: 1, Version: 1})
		}),
		tc("Accumulates", func(t *testing.T, e *env) {
			k := key(e.part("p"), "seq")
			e.wantAdd(t, k, 1, never, 1)
			e.wantAdd(t, k, 2, never, 3)
			e.wantAdd(t, k, 3, never, 6)
			e.wantState(t, k, state{N: 6, Version: 3})
		}),
		tc("Negative", func(t *testing.T, e *env) {
			k := key(e.part("p"), "n")
			e.wantAdd(t, k, -5, never, -5)
			e.wantAdd(t, k, 2, never, -3)
			e.wantAdd(t, k, 10, never, 7)
			e.wantAdd(t, k, -7, never, 0)
			e.wantAdd(t, k, -1, never, -1)
			e.wantState(t, k, state{N: -1, Version: 5})
		}),
		tc("Zero", func(t *testing.T, e *env) {
			k := key(e.part("p"), "n")
			e.wantAdd(t, k, 0, never, 0)
			e.wantState(t, k, state{Version: 1})
			e.wantAdd(t, k, 4, never, 4)
			e.wantAdd(t, k, 0, never, 4)
			e.wantState(t, k, state{N: 4, Version: 3})
		}),
		tc("Large", func(t *testing.T, e *env) {
			k := key(e.part("p"), "n")
			const big = int64(1) << 53
			e.wantAdd(t, k, big, never, big)
			e.wantAdd(t, k, 1, never, big+1)
			e.wantAdd(t, k, -2*big, never, 1-big)
		}),
		tc("KeepsValue", func(t *testing.T, e *env) {
			k := key(e.part("p"), "room")
			e.wantPut(t, item(k, "topic", never), chatfly.Always, 1)
			e.wantAdd(t, k, 3, never, 3)
			e.wantState(t, k, state{Value: []byte("topic"), N: 3, Version: 2})
			e.wantPut(t, item(k, "topic2", never), chatfly.IfVersion(e.ver(t, k, 2)), 3)
			e.wantState(t, k, state{Value: []byte("topic2"), Version: 3})
			e.wantAdd(t, k, 1, never, 1)
			e.wantState(t, k, state{Value: []byte("topic2"), N: 1, Version: 4})
		}),
		tc("SetsExpires", func(t *testing.T, e *env) {
			k := key(e.part("p"), "seq")
			exp1, exp2 := e.future(), e.future().Add(time.Hour)
			e.wantAdd(t, k, 1, exp1, 1)
			e.wantState(t, k, state{N: 1, Version: 1, Expires: exp1})
			e.wantAdd(t, k, 1, exp2, 2)
			e.wantState(t, k, state{N: 2, Version: 2, Expires: exp2})
			e.wantAdd(t, k, 1, never, 3)
			e.wantState(t, k, state{N: 3, Version: 3})

			k2 := key(e.part("p"), "room")
			e.wantPut(t, item(k2, "v", exp1), chatfly.Always, 1)
			e.wantAdd(t, k2, 1, never, 1)
			e.wantState(t, k2, state{Value: []byte("v"), N: 1, Version: 2})
			e.wantAdd(t, k2, 1, exp2, 2)
			e.wantState(t, k2, state{Value: []byte("v"), N: 2, Version: 3, Expires: exp2})
		}),
		tc("Expired", func(t *testing.T, e *env) {
			// An expired item is absent: Add creates a new one, without the
			// old Value.
			k := key(e.part("p"), "room")
			e.wantPut(t, item(k, "old", e.future()), chatfly.Always, 1)
			e.wantAdd(t, k, 5, e.past(), 5)
			e.wantAbsent(t, k)
			e.wantAdd(t, k, 2, never, 2)
			e.wantState(t, k, state{N: 2, Version: 1})

			k2 := key(e.part("p"), "seq")
			e.wantPut(t, item(k2, "old", e.past()), chatfly.Always, 1)
			e.wantAdd(t, k2, 1, never, 1)
			e.wantState(t, k2, state{N: 1, Version: 1})
		}),
		tc("AfterDelete", func(t *testing.T, e *env) {
			k := key(e.part("p"), "seq")
			e.wantAdd(t, k, 5, never, 5)
			e.wantAdd(t, k, 5, never, 10)
			e.mustDelete(t, k, chatfly.IfVersion(e.mustGet(t, k).Version))
			e.wantAdd(t, k, 1, never, 1)
			e.wantState(t, k, state{N: 1, Version: 1})
		}),
	)
}
