package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"pgregory.net/rapid"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/gametest"
)

// TestNim checks the example's game with the gametest helpers: a game to
// the end, the refused moves, and random games that keep the contract of
// chatfly.Game at every step.
func TestNim(t *testing.T) {
	g := nimGame{}
	gametest.CheckInfo(t, g)
	s := gametest.Start(t, g, 2, 1)
	gametest.Illegal(t, g, s, 1, `{"take":1}`, chatfly.ErrNotYourTurn)
	for _, m := range []string{`{"take":0}`, `{"take":4}`, `{"take":"2"}`, `[]`, `{}`} {
		gametest.Illegal(t, g, s, 0, m)
	}
	s = gametest.Play(t, g, s, `0:{"take":3}`, `1:{"take":3}`, `0:{"take":3}`)
	gametest.Illegal(t, g, s, 1, `{"take":2}`) // one stone left
	v := gametest.View[nimView](t, g, s, -1)
	if v.Pile != 1 || v.Max != 1 || v.Turn != 1 || v.Over || *v.Last != (nimMove{Seat: 0, Took: 3}) {
		t.Errorf("view with one stone left: %+v", v)
	}
	s = gametest.Play(t, g, s, `1:{"take":1}`)
	if st := gametest.Status(t, g, s); !st.Over || len(st.Winners) != 1 || st.Winners[0] != 1 {
		t.Errorf("status after the last stone: %+v, want seat 1 the winner", st)
	}
	gametest.Illegal(t, g, s, 0, `{"take":1}`, chatfly.ErrGameOver)

	rapid.Check(t, func(t *rapid.T) {
		gametest.CheckStart(t, g)
		gametest.PlayRandom(t, g, 2, nimPile, func(state []byte, seat int) []json.RawMessage {
			var moves []json.RawMessage
			for n := 1; n <= gametest.View[nimView](t, g, state, seat).Max; n++ {
				moves = append(moves, json.RawMessage(`{"take":`+strconv.Itoa(n)+`}`))
			}
			return moves
		})
	})
}

// TestExtHandler: the example's modules are served as JavaScript, with no
// directory listing.
func TestExtHandler(t *testing.T) {
	h := extHandler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ext/nim.js", nil))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /ext/nim.js: %d %v", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ext/", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("GET /ext/: %d, want 404", w.Code)
	}
}
