package storagetest

import (
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

// Most cases test expiry with items written already expired, which works
// with any clock. The cases here watch live items expire as time passes.

func expiryCases() testCase {
	return group("Expiry",
		tc("AsTimePasses", testExpiryAsTimePasses),
		tc("Boundary", func(t *testing.T, e *env) {
			if e.Clock == nil {
				t.Skip("needs Env.Clock to stop time one second before and exactly at Expires")
			}
			k := key(e.part("p"), "a")
			exp := e.now().Add(2 * time.Second)
			e.wantPut(t, item(k, "v", exp), chatfly.Always, 1)
			e.Clock.Advance(time.Second)
			e.wantState(t, k, state{Value: []byte("v"), Version: 1, Expires: exp})
			e.Clock.Advance(time.Second - time.Millisecond)
			e.wantState(t, k, state{Value: []byte("v"), Version: 1, Expires: exp})
			e.Clock.Advance(time.Millisecond) // now == Expires: expired
			e.wantAbsent(t, k)
			e.wantQuery(t, chatfly.Query{Partition: k.Partition}, nil)
		}),
	)
}

// expiryScenario is an item that is live, then expires (or not), and what
// the Storage must do after.
type expiryScenario struct {
	name string
	// setup writes the item at k, which expires at exp unless the scenario
	// says otherwise; it must leave a live item.
	setup func(t *testing.T, e *env, k chatfly.Key, exp time.Time)
	// check runs once exp has passed.
	check func(t *testing.T, e *env, k chatfly.Key, exp time.Time)
}

var expiryScenarios = []expiryScenario{
	{
		name:  "Get",
		setup: putExpiring,
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) { e.wantAbsent(t, k) },
	},
	{
		name: "Query",
		setup: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			p := k.Partition + "/query"
			e.wantPut(t, item(key(p, "a"), "a", exp), chatfly.Always, 1)
			e.wantPut(t, item(key(p, "b"), "b", never), chatfly.Always, 1)
			e.wantAdd(t, key(p, "c"), 1, exp, 1)
			e.wantPut(t, item(key(p, "d"), "d", e.future()), chatfly.Always, 1)
			e.wantPut(t, item(key(p, "e"), "e", exp), chatfly.Always, 1)
			e.wantQuery(t, chatfly.Query{Partition: p}, []string{"a", "b", "c", "d", "e"})
		},
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			p := k.Partition + "/query"
			e.wantQuery(t, chatfly.Query{Partition: p}, []string{"b", "d"})
			e.wantQuery(t, chatfly.Query{Partition: p, Reverse: true}, []string{"d", "b"})
			e.wantQuery(t, chatfly.Query{Partition: p, Limit: 1}, []string{"b"})
			e.wantQuery(t, chatfly.Query{Partition: p, Limit: 1, Reverse: true}, []string{"d"})
			e.wantQuery(t, chatfly.Query{Partition: p, StartAfter: "b", Limit: 1}, []string{"d"})
		},
	},
	{
		name:  "PutIfAbsent",
		setup: putExpiring,
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			e.wantPut(t, item(k, "new", never), chatfly.IfAbsent, 1)
			e.wantState(t, k, state{Value: []byte("new"), Version: 1})
		},
	},
	{
		name:  "PutAlways",
		setup: putExpiring,
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			e.wantPut(t, item(k, "new", never), chatfly.Always, 1)
			e.wantState(t, k, state{Value: []byte("new"), Version: 1})
		},
	},
	{
		name:  "PutIfExists",
		setup: putExpiring,
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			e.wantPutConflict(t, item(k, "new", never), chatfly.IfExists)
			e.wantAbsent(t, k)
		},
	},
	{
		name:  "PutIfVersion",
		setup: putExpiring,
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			e.wantPutConflict(t, item(k, "new", never), chatfly.IfVersion(e.ver(t, k, 2)))
			e.wantAbsent(t, k)
		},
	},
	{
		name:  "DeleteIfExists",
		setup: putExpiring,
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) { e.wantDeleteConflict(t, k, chatfly.IfExists) },
	},
	{
		name:  "DeleteIfVersion",
		setup: putExpiring,
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			e.wantDeleteConflict(t, k, chatfly.IfVersion(e.ver(t, k, 2)))
		},
	},
	{
		name:  "DeleteAlways",
		setup: putExpiring,
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			e.mustDelete(t, k, chatfly.Always)
			e.wantAbsent(t, k)
		},
	},
	{
		name: "AddRestarts",
		setup: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			e.wantPut(t, item(k, "v", exp), chatfly.Always, 1)
			e.wantAdd(t, k, 5, exp, 5)
			e.wantState(t, k, state{Value: []byte("v"), N: 5, Version: 2, Expires: exp})
		},
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			e.wantAdd(t, k, 1, never, 1)
			e.wantState(t, k, state{N: 1, Version: 1})
		},
	},
	{
		name: "RefreshedByPut",
		setup: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			putExpiring(t, e, k, exp)
			e.wantPut(t, item(k, "v", exp.Add(24*time.Hour)), chatfly.IfVersion(e.ver(t, k, 2)), 3)
		},
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			e.wantState(t, k, state{Value: []byte("v"), Version: 3, Expires: exp.Add(24 * time.Hour)})
		},
	},
	{
		name: "RefreshedByAdd",
		setup: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			e.wantAdd(t, k, 1, exp, 1)
			e.wantAdd(t, k, 1, never, 2)
		},
		check: func(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
			e.wantState(t, k, state{N: 2, Version: 2})
		},
	},
}

// putExpiring writes an item at k, version 2, that expires at exp.
func putExpiring(t *testing.T, e *env, k chatfly.Key, exp time.Time) {
	t.Helper()
	e.wantPut(t, item(k, "v", exp), chatfly.Always, 1)
	e.wantPut(t, item(k, "v", exp), chatfly.Always, 2)
}

// testExpiryAsTimePasses sets up every scenario, waits once for their items
// to expire, and then checks each in a subtest.
func testExpiryAsTimePasses(t *testing.T, e *env) {
	p := e.part("p")
	// At least one second from now, at most two, in whole seconds.
	exp := e.now().Add(2 * time.Second)
	for _, s := range expiryScenarios {
		s.setup(t, e, key(p, s.name), exp)
	}
	if e.Clock != nil || time.Until(exp) > 250*time.Millisecond {
		for _, s := range expiryScenarios {
			if s.name == "Query" {
				continue // checked by its setup
			}
			if _, err := e.Storage.Get(e.ctx, key(p, s.name)); err != nil {
				t.Fatalf("before expiry: Get(%s): %v", fmtKey(key(p, s.name)), err)
			}
		}
	} else {
		t.Logf("setup was slow; not checking the items before they expire")
	}
	e.waitUntil(t, exp)
	for _, s := range expiryScenarios {
		t.Run(s.name, func(t *testing.T) { s.check(t, e, key(p, s.name), exp) })
	}
}
