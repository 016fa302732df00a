package chatfly

import (
	"encoding/json"
	"math/rand/v2"
)

// Game is a server-authoritative game played inside a room. It is a
// deterministic state machine over an opaque, serialisable state: the Hub
// keeps the state in Storage and applies every move with compare-and-set,
// so two Hubs can never both apply a move to the same version of a game.
// Players never see the state itself, only the views the Game renders for
// them, so hidden information (a simultaneous move, a secret word) stays on
// the server until the Game reveals it.
//
// Implementations must be deterministic (the same state and move give the
// same result), must not keep state of their own between calls, and must be
// safe for concurrent use. Register them with [Options.Games]; built-in games
// live in chatfly/games/....
type Game interface {
	// Info describes the game.
	Info() GameInfo
	// Start returns the initial state for the players, in seat order
	// (seat i is players[i], a session id). rng is the game's own random
	// source, seeded per game; a Game that needs randomness later keeps a
	// seed in its state.
	Start(players []string, rng *rand.Rand) ([]byte, error)
	// Move applies a move by seat to state and returns the new state. An
	// illegal or malformed move returns an error wrapping ErrIllegalMove
	// (with a message for the player). The Hub calls Move only for a seat
	// listed in Status.Turn of a game that is not over.
	Move(state []byte, seat int, move json.RawMessage) ([]byte, error)
	// View returns what seat may see of state, as a JSON-encodable value;
	// seat -1 is a spectator. It must not reveal hidden information.
	View(state []byte, seat int) (any, error)
	// Status reports whose move is awaited and, once over, the outcome.
	Status(state []byte) (GameStatus, error)
}

// GameInfo describes a [Game].
type GameInfo struct {
	// Name is the id clients use in game.start ("tictactoe").
	Name string `json:"name"`
	// Title is a display name ("Tic-tac-toe").
	Title string `json:"title"`
	// MinPlayers and MaxPlayers bound the number of seats.
	MinPlayers int `json:"min_players"`
	MaxPlayers int `json:"max_players"`
}

// GameStatus is the progress of a game.
type GameStatus struct {
	// Turn lists the seats whose move is awaited: one seat in a
	// turn-based game, several when moves are simultaneous.
	Turn []int `json:"turn"`
	// Over reports that the game has ended.
	Over bool `json:"over"`
	// Winners are the winning seats when Over; empty means a draw.
	Winners []int `json:"winners,omitempty"`
}

// GameEnder is an optional interface of a [Game] whose views keep something
// hidden until the end (a secret word). When a game ends other than by its
// own rules — a resignation, a player leaving, a turn timer — the Hub calls
// End so that the views reveal what the end of the game reveals. The Hub
// records the outcome itself.
type GameEnder interface {
	// End returns state marked as over.
	End(state []byte) ([]byte, error)
}
