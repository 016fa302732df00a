package budget

import (
	"time"
)

// Presence budgets (issue 15), in rounds: a ping costs the prelude only,
// which is one round through Hub.Receive and none through a chatfly.Conn
// unless a presence refresh is due; a refresh and a disconnect cost a
// constant number of rounds whatever the number of rooms (their calls per
// room go at once), a disconnect's being those of one room's leave and
// the few it does before.
const (
	pingLambda    = 1
	refreshLambda = 4 // the prelude, then the record beside the rooms' listing, then the touches (a read before them without the capabilities)
	refreshConn   = 3
	// disconnectBefore is what a disconnect may take besides one leave
	// (after its prelude; the rooms' leaves go at once): the record's read
	// (Hub.Disconnect only), the rooms' listing, and one round for the
	// leaves' goroutines, which on a loaded machine may start after a
	// sibling's call has ended and then count as a round later.
	disconnectBefore = 3
)

// checkPresence measures a ping, a ping that refreshes presence and a
// disconnect, through both hosts, in one room and in three, against the
// presence budgets. lambdaPing is what a ping cost through Hub.Receive
// (its prelude), leave what a leave cost there.
func (r *run) checkPresence(lambdaPing, leave Cost) {
	t := r.t
	t.Logf("ping through Hub.Receive: %v (budget %d)", lambdaPing, pingLambda)
	if lambdaPing.Rounds > pingLambda {
		t.Errorf("ping through Hub.Receive: %d rounds, budget %d (%v)", lambdaPing.Rounds, pingLambda, lambdaPing)
	}
	rooms := []string{"lobby", "random", "games"}
	for _, n := range []int{1, 3} {
		lambda, conn := "pl"+string(rune('0'+n)), "pc"+string(rune('0'+n))
		r.enter(lambda, "Lam"+string(rune('0'+n)))
		r.open(conn, "Con"+string(rune('0'+n)))
		for _, id := range []string{lambda, conn} {
			for _, room := range rooms[:n] {
				r.do(id, `{"action":"join","id":2,"room":"`+room+`"}`, "joined")
			}
		}
		if c := r.do(conn, `{"action":"ping","id":3}`, "pong"); c.Calls > 0 {
			t.Errorf("ping through a Conn: %v, want no storage call", c)
		}
		r.clock.Advance(16 * time.Minute) // past a third of the default PresenceTTL
		for _, row := range []struct {
			id     string
			budget int
		}{{lambda, refreshLambda}, {conn, refreshConn}} {
			c := r.do(row.id, `{"action":"ping","id":4}`, "pong")
			t.Logf("refresh of %s in %d rooms: %v (budget %d)", row.id, n, c, row.budget)
			if c.Rounds > row.budget {
				t.Errorf("refresh of %s in %d rooms: %d rounds, budget %d (%v)", row.id, n, c.Rounds, row.budget, c)
			}
		}
		r.clock.Advance(-16 * time.Minute)
		for _, row := range []struct {
			id    string
			close func() error
		}{
			{lambda, func() error { return r.hub.Disconnect(t.Context(), lambda) }},
			{conn, func() error { return r.conns[conn].Close(t.Context()) }},
		} {
			take(r.st, time.Time{})
			if err := row.close(); err != nil {
				t.Fatal(err)
			}
			c := take(r.st, time.Time{})
			budget := leave.Rounds - lambdaPing.Rounds + disconnectBefore
			t.Logf("disconnect of %s from %d rooms: %v (budget %d)", row.id, n, c, budget)
			if c.Rounds > budget {
				t.Errorf("disconnect of %s from %d rooms: %d rounds, budget %d: a leave's and %d before (%v)", row.id, n, c.Rounds, budget, disconnectBefore, c)
			}
		}
	}
}
