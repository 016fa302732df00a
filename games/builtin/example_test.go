package builtin_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/builtin"
)

// highCard is a tiny custom game: two cards are dealt face down at the
// start, each player draws (turns up) theirs with {"draw":true}, in any
// order, and the higher card wins; equal cards are a draw.
type highCard struct{}

// highCardState is the stored state. It holds both cards from the start;
// View shows a card only once drawn.
type highCardState struct {
	Cards [2]int  `json:"c"` // 1 (ace) to 13 (king)
	Drawn [2]bool `json:"d"`
}

func (highCard) Info() chatfly.GameInfo {
	return chatfly.GameInfo{Name: "highcard", Title: "High card", MinPlayers: 2, MaxPlayers: 2}
}

func (highCard) Start(players []string, rng *rand.Rand) ([]byte, error) {
	if len(players) != 2 {
		return nil, chatfly.Errorf(chatfly.ErrBadRequest, "high card needs 2 players")
	}
	return json.Marshal(highCardState{Cards: [2]int{1 + rng.IntN(13), 1 + rng.IntN(13)}})
}

func (highCard) Move(state []byte, seat int, move json.RawMessage) ([]byte, error) {
	var s highCardState // decoded afresh: the input state is never modified
	if err := json.Unmarshal(state, &s); err != nil {
		return nil, err
	}
	if seat < 0 || seat > 1 || s.Drawn[seat] {
		return nil, chatfly.Errorf(chatfly.ErrIllegalMove, "you already drew")
	}
	var m struct {
		Draw bool `json:"draw"`
	}
	if err := json.Unmarshal(move, &m); err != nil || !m.Draw {
		return nil, chatfly.Errorf(chatfly.ErrIllegalMove, `send {"draw":true}`)
	}
	s.Drawn[seat] = true
	return json.Marshal(s)
}

func (highCard) View(state []byte, seat int) (any, error) {
	var s highCardState
	if err := json.Unmarshal(state, &s); err != nil {
		return nil, err
	}
	var v struct {
		Cards [2]int `json:"cards"` // 0: not drawn yet
	}
	for i := range 2 {
		if s.Drawn[i] {
			v.Cards[i] = s.Cards[i]
		}
	}
	return v, nil
}

func (highCard) Status(state []byte) (chatfly.GameStatus, error) {
	var s highCardState
	if err := json.Unmarshal(state, &s); err != nil {
		return chatfly.GameStatus{}, err
	}
	var st chatfly.GameStatus
	for i := range 2 {
		if !s.Drawn[i] {
			st.Turn = append(st.Turn, i)
		}
	}
	if len(st.Turn) > 0 {
		return st, nil
	}
	st.Over = true
	switch {
	case s.Cards[0] > s.Cards[1]:
		st.Winners = []int{0}
	case s.Cards[1] > s.Cards[0]:
		st.Winners = []int{1}
	}
	return st, nil
}

// A custom game implements chatfly.Game and is registered next to the
// built-in ones. Here it is played by calling its methods as the Hub does.
func Example_customGame() {
	opts := chatfly.Options{Games: append(builtin.All(), highCard{})}
	var names []string
	for _, g := range opts.Games {
		names = append(names, g.Info().Name)
	}
	fmt.Println(names)

	var g chatfly.Game = highCard{}
	state, _ := g.Start([]string{"alice", "bob"}, rand.New(rand.NewPCG(1, 2)))
	show := func() {
		view, _ := g.View(state, -1) // what a spectator sees
		b, _ := json.Marshal(view)
		st, _ := g.Status(state)
		fmt.Printf("%s turn=%v over=%v winners=%v\n", b, st.Turn, st.Over, st.Winners)
	}
	show()
	state, _ = g.Move(state, 1, json.RawMessage(`{"draw":true}`))
	show()
	if _, err := g.Move(state, 1, json.RawMessage(`{"draw":true}`)); err != nil {
		fmt.Println(err)
	}
	state, _ = g.Move(state, 0, json.RawMessage(`{"draw":true}`))
	show()
	// Output:
	// [tictactoe connectfour rps wordguess highcard]
	// {"cards":[0,0]} turn=[0 1] over=false winners=[]
	// {"cards":[0,9]} turn=[0] over=false winners=[]
	// chatfly: illegal_move: you already drew
	// {"cards":[11,9]} turn=[] over=true winners=[0]
}
