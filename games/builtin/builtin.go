// Package builtin lists chatfly's built-in games, to register them all at
// once:
//
//	hub := chatfly.New(store, transport, &chatfly.Options{Games: builtin.All()})
//
// They are tic-tac-toe ([tictactoe]), Connect Four ([connectfour]),
// rock-paper-scissors best of three with simultaneous hidden moves ([rps])
// and a word-guessing game for 2 to 8 players around a secret word
// ([wordguess]). Each lives in its own package, so an application may also
// register only some of them, or add its own [chatfly.Game] next to them.
package builtin

import (
	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/connectfour"
	"github.com/chatfly/chatfly/games/rps"
	"github.com/chatfly/chatfly/games/tictactoe"
	"github.com/chatfly/chatfly/games/wordguess"
)

// All returns the built-in games with their default settings, in a new
// slice the caller may extend.
func All() []chatfly.Game {
	return []chatfly.Game{
		tictactoe.Game{},
		connectfour.Game{},
		rps.Game{},
		wordguess.Game{},
	}
}
