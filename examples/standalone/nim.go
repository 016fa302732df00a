package main

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/chatfly/chatfly"
)

// nimGame is the example's own game, registered next to the built-in ones
// (run), to show a custom chatfly.Game on both sides: this file for the
// server, ext/nim.js for the web app, which loads it through
// web.Options.Modules and draws the game with the renderer it registers.
//
// Two players take turns taking 1 to 3 stones from a pile of nimPile;
// whoever takes the last stone wins. Seat 0 begins. A move is
//
//	{"take": 2}
//
// Everyone sees the whole game (nimView): Nim hides nothing.
type nimGame struct{}

const nimPile = 10

// nimState is the stored state: the stones left, the seat to move and the
// last move (seat -1 before the first).
type nimState struct {
	Pile int `json:"p"`
	Turn int `json:"t"`
	Last struct {
		Seat int `json:"s"`
		Took int `json:"n"`
	} `json:"l"`
}

// nimView is what a player or spectator sees.
type nimView struct {
	Start int  `json:"start"` // the stones at the start
	Pile  int  `json:"pile"`  // the stones left
	Max   int  `json:"max"`   // the most that may be taken now
	Turn  int  `json:"turn"`  // the seat to move, -1 once over
	Over  bool `json:"over"`
	// Last is the last move, nil before the first.
	Last *nimMove `json:"last"`
}

type nimMove struct {
	Seat int `json:"seat"`
	Took int `json:"took"`
}

func (nimGame) Info() chatfly.GameInfo {
	return chatfly.GameInfo{Name: "nim", Title: "Nim", MinPlayers: 2, MaxPlayers: 2}
}

func (nimGame) Start(players []string, _ *rand.Rand) ([]byte, error) {
	if len(players) != 2 {
		return nil, chatfly.Errorf(chatfly.ErrBadRequest, "Nim needs 2 players")
	}
	s := nimState{Pile: nimPile}
	s.Last.Seat = -1
	return json.Marshal(s)
}

func (nimGame) Move(data []byte, seat int, move json.RawMessage) ([]byte, error) {
	s, err := nimDecode(data)
	if err != nil {
		return nil, err
	}
	switch {
	case s.Pile == 0:
		return nil, nimIllegal(chatfly.ErrGameOver, "the game is over")
	case seat != 0 && seat != 1:
		return nil, nimIllegal(chatfly.ErrNotPlayer, fmt.Sprintf("seat %d is not playing", seat))
	case seat != s.Turn:
		return nil, nimIllegal(chatfly.ErrNotYourTurn, "it is the other player's turn")
	}
	var m struct {
		Take int `json:"take"`
	}
	if err := json.Unmarshal(move, &m); err != nil || m.Take < 1 || m.Take > min(3, s.Pile) {
		return nil, chatfly.Errorf(chatfly.ErrIllegalMove, fmt.Sprintf(`take 1 to %d stones: {"take": n}`, min(3, s.Pile)))
	}
	s.Pile -= m.Take
	s.Last.Seat, s.Last.Took = seat, m.Take
	s.Turn = 1 - seat
	return json.Marshal(s)
}

func (nimGame) View(data []byte, seat int) (any, error) {
	s, err := nimDecode(data)
	if err != nil {
		return nil, err
	}
	v := nimView{Start: nimPile, Pile: s.Pile, Max: min(3, s.Pile), Turn: s.Turn, Over: s.Pile == 0}
	if v.Over {
		v.Turn = -1
	}
	if s.Last.Seat >= 0 {
		v.Last = &nimMove{Seat: s.Last.Seat, Took: s.Last.Took}
	}
	return v, nil
}

func (nimGame) Status(data []byte) (chatfly.GameStatus, error) {
	s, err := nimDecode(data)
	if err != nil {
		return chatfly.GameStatus{}, err
	}
	if s.Pile == 0 {
		return chatfly.GameStatus{Turn: []int{}, Over: true, Winners: []int{s.Last.Seat}}, nil
	}
	return chatfly.GameStatus{Turn: []int{s.Turn}}, nil
}

func nimDecode(data []byte) (nimState, error) {
	var s nimState
	if err := json.Unmarshal(data, &s); err != nil || s.Pile < 0 || s.Pile > nimPile || s.Turn < 0 || s.Turn > 1 {
		return s, errors.New("nim: corrupt state")
	}
	return s, nil
}

// nimIllegal is an illegal move with the code of base (what the player's
// client sees) that also wraps chatfly.ErrIllegalMove.
func nimIllegal(base *chatfly.Error, msg string) error {
	return fmt.Errorf("%w (%w)", chatfly.Errorf(base, msg), chatfly.ErrIllegalMove)
}

//go:embed ext/*.js
var ext embed.FS

// extHandler serves the example's modules for the web app (ext/*.js, at
// /ext/), the files web.Options.Modules names.
func extHandler() http.Handler {
	files := http.FileServerFS(ext)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no listings
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
