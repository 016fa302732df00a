// Package wordguess is a word-guessing game for 2 to 8 players as a
// [chatfly.Game], with a secret only the server knows.
//
// At the start the server draws a secret word (from an embedded list of
// common English words of 5 to 10 letters, or [Game.Words]) with the game's
// random source. Players take turns, seat 0 first, one guess per turn
// whether it hits or not. A guess is a letter or the whole word:
//
//	{"letter": "e"}
//	{"word": "planet"}
//
// Letters are a to z (capitals are accepted and lowered); a letter or word
// already guessed is illegal, and a word must have the secret's length. A
// letter in the secret reveals it everywhere and scores a point per letter
// revealed. A correct word wins the game outright (and scores the letters it
// revealed). If the letters alone reveal the word, the highest score wins
// (ties share the win). Each wrong letter or word is a miss; after
// [DefaultMaxMisses] misses (or [Game.MaxMisses]) the game ends with no
// winner.
//
// Every player and spectator sees the same [View]: the word masked with '_',
// the guesses and the scores. The secret is in no view until the game is
// over; then [View.Word] reveals it.
package wordguess

import (
	_ "embed"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/internal/rules"
)

// Name is the game's id in game.start.
const Name = "wordguess"

// DefaultMaxMisses is the number of misses that ends a game when
// [Game.MaxMisses] is zero.
const DefaultMaxMisses = 8

//go:embed words.txt
var wordsText string

var defaultWords = strings.Fields(wordsText)

// DefaultWords returns a copy of the embedded word list the secret is drawn
// from when [Game.Words] is empty.
func DefaultWords() []string { return slices.Clone(defaultWords) }

// Game is the word-guessing game. The zero value uses the embedded word
// list and [DefaultMaxMisses]. A Game must not be modified once in use; it
// is then safe for concurrent use.
type Game struct {
	// Words, if not empty, replaces the embedded word list. Each word is 2
	// to 32 lowercase letters a to z. Games already started keep their word.
	Words []string
	// MaxMisses, if positive, replaces DefaultMaxMisses for games started
	// from now on.
	MaxMisses int
}

var _ chatfly.Game = Game{}

// Move is a move: exactly one of Letter (one letter) and Word.
type Move struct {
	Letter string `json:"letter,omitempty"`
	Word   string `json:"word,omitempty"`
}

// Guess is a guess in [View.History].
type Guess struct {
	// Seat is the seat that guessed.
	Seat int `json:"seat"`
	// Letter or Word is the guess.
	Letter string `json:"letter,omitempty"`
	Word   string `json:"word,omitempty"`
	// Hit reports a letter in the word or the right word.
	Hit bool `json:"hit"`
	// Points is the number of letters the guess revealed.
	Points int `json:"points"`
}

// View is what a player or spectator sees; all see the same but for Seat.
type View struct {
	// Seat is the viewer's seat, -1 for a spectator.
	Seat int `json:"seat"`
	// Players is the number of seats.
	Players int `json:"players"`
	// Pattern is the word with each letter not yet revealed by a letter
	// guess as '_' (a correct word guess leaves it as it was: see Word).
	Pattern string `json:"pattern"`
	// Length is the number of letters of the word.
	Length int `json:"length"`
	// Guessed lists the letters guessed, hits and misses, in order.
	Guessed []string `json:"guessed"`
	// Misses counts the wrong guesses; the game ends with no winner when
	// it reaches MaxMisses. MissesLeft is MaxMisses - Misses.
	Misses     int `json:"misses"`
	MaxMisses  int `json:"max_misses"`
	MissesLeft int `json:"misses_left"`
	// Scores are the points of each seat.
	Scores []int `json:"scores"`
	// History lists every guess in order.
	History []Guess `json:"history"`
	// Word is the secret word, only once the game is over.
	Word string `json:"word,omitempty"`
	// Turn lists the seat to guess (empty when over).
	Turn []int `json:"turn"`
	// Over reports the end of the game; Winners are then the winning
	// seats, empty if the misses ran out.
	Over    bool  `json:"over"`
	Winners []int `json:"winners"`
}

// state is the stored state. The seat of guess i is i % Players, and
// everything else is derived by replaying the guesses: a guess of one letter
// is a letter, a longer one a word.
type state struct {
	Word      string   `json:"w"`
	Players   int      `json:"n"`
	MaxMisses int      `json:"k"`
	Guesses   []string `json:"h"`
	// Ended marks a game ended by the Hub (a resignation, a player
	// leaving): over, and the word revealed.
	Ended bool `json:"e,omitempty"`
}

// End implements chatfly.GameEnder: the game is over and the word shown.
func (Game) End(data []byte) ([]byte, error) {
	s, _, err := decode(data)
	if err != nil {
		return nil, err
	}
	s.Ended = true
	return json.Marshal(s)
}

// Info describes the game.
func (Game) Info() chatfly.GameInfo {
	return chatfly.GameInfo{Name: Name, Title: "Word guess", MinPlayers: 2, MaxPlayers: 8}
}

// Start draws the secret word with rng.
func (g Game) Start(players []string, rng *rand.Rand) ([]byte, error) {
	if len(players) < 2 || len(players) > 8 {
		return nil, chatfly.Errorf(chatfly.ErrBadRequest, "word guess needs 2 to 8 players")
	}
	if rng == nil {
		return nil, errors.New("wordguess: Start needs a random source")
	}
	words := g.Words
	if len(words) == 0 {
		words = defaultWords
	}
	word := words[rng.IntN(len(words))]
	if !validWord(word) {
		return nil, errors.New("wordguess: Game.Words holds " + strconv.Quote(word) + ", not 2 to 32 letters a to z")
	}
	misses := g.MaxMisses
	if misses <= 0 {
		misses = DefaultMaxMisses
	}
	return json.Marshal(state{Word: word, Players: len(players), MaxMisses: misses, Guesses: []string{}})
}

// Move applies seat's guess.
func (Game) Move(data []byte, seat int, move json.RawMessage) ([]byte, error) {
	s, p, err := decode(data)
	if err != nil {
		return nil, err
	}
	switch {
	case p.over() || s.Ended:
		return nil, rules.GameOver()
	case seat < 0 || seat >= s.Players:
		return nil, rules.NotPlayer(seat)
	case seat != p.turn():
		return nil, rules.NotYourTurn("it is seat " + strconv.Itoa(p.turn()) + "'s turn")
	}
	guess, err := parseMove(move, len(s.Word))
	if err != nil {
		return nil, err
	}
	if err := p.apply(guess); err != nil {
		return nil, err
	}
	next := s
	next.Guesses = append(slices.Clip(s.Guesses), guess)
	return json.Marshal(next)
}

// View returns the [View] of the game; the secret word only once over.
func (Game) View(data []byte, seat int) (any, error) {
	s, p, err := decode(data)
	if err != nil {
		return nil, err
	}
	if err := rules.CheckSeat(seat, s.Players); err != nil {
		return nil, err
	}
	pattern := []byte(s.Word)
	for i := range pattern {
		if !p.guessed[pattern[i]-'a'] {
			pattern[i] = '_'
		}
	}
	v := View{
		Seat:       seat,
		Players:    s.Players,
		Pattern:    string(pattern),
		Length:     len(s.Word),
		Guessed:    []string{},
		Misses:     p.misses,
		MaxMisses:  s.MaxMisses,
		MissesLeft: s.MaxMisses - p.misses,
		Scores:     p.scores,
		History:    p.history,
		Turn:       []int{},
		Over:       p.over(),
		Winners:    p.winners(),
	}
	for _, g := range s.Guesses {
		if len(g) == 1 {
			v.Guessed = append(v.Guessed, g)
		}
	}
	if s.Ended {
		v.Over, v.Winners = true, []int{} // the Hub records who won
	}
	if v.Over {
		v.Word = s.Word
	} else {
		v.Turn = []int{p.turn()}
	}
	return v, nil
}

// Status reports the seat to guess, or the outcome.
func (Game) Status(data []byte) (chatfly.GameStatus, error) {
	s, p, err := decode(data)
	if err != nil {
		return chatfly.GameStatus{}, err
	}
	if s.Ended {
		return chatfly.GameStatus{Turn: []int{}, Over: true}, nil
	}
	if !p.over() {
		return chatfly.GameStatus{Turn: []int{p.turn()}}, nil
	}
	st := chatfly.GameStatus{Turn: []int{}, Over: true, Winners: p.winners()}
	if len(st.Winners) == 0 {
		st.Winners = nil
	}
	return st, nil
}

// parseMove returns the guess of move, lowered: one letter, or a word of
// length n.
func parseMove(move json.RawMessage, n int) (string, error) {
	fields, err := rules.Fields(move, "letter", "word")
	if err != nil {
		return "", err
	}
	rawLetter, isLetter := fields["letter"]
	rawWord, isWord := fields["word"]
	switch {
	case isLetter && isWord:
		return "", rules.Illegal(`guess a "letter" or a "word", not both`)
	case isLetter:
		s, ok := rules.String(rawLetter)
		s, letters := lower(s)
		if !ok || !letters || len(s) != 1 {
			return "", rules.Illegal(`"letter" must be one letter from a to z`)
		}
		return s, nil
	case isWord:
		s, ok := rules.String(rawWord)
		s, letters := lower(s)
		if !ok || !letters || s == "" {
			return "", rules.Illegal(`"word" must be letters from a to z`)
		}
		if len(s) != n {
			return "", rules.Illegal("the word has " + strconv.Itoa(n) + " letters")
		}
		return s, nil
	}
	return "", rules.Illegal(`missing "letter" or "word"`)
}

// lower lowers s and reports whether it holds only ASCII letters.
func lower(s string) (string, bool) {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c < 'a' || c > 'z':
			return s, false
		}
	}
	return string(b), true
}

func validWord(w string) bool {
	if len(w) < 2 || len(w) > 32 {
		return false
	}
	l, ok := lower(w)
	return ok && l == w
}

// progress is a state replayed: what the guesses so far revealed.
type progress struct {
	word    string
	players int
	max     int
	guessed [26]bool
	hidden  int // positions not revealed
	misses  int
	solver  int // seat that guessed the word, -1
	scores  []int
	history []Guess
}

// decode decodes a stored state and replays it.
func decode(data []byte) (state, *progress, error) {
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return s, nil, rules.BadState(Name, err)
	}
	if !validWord(s.Word) || s.Players < 2 || s.Players > 8 || s.MaxMisses < 1 {
		return s, nil, rules.BadState(Name, nil)
	}
	p := &progress{word: s.Word, players: s.Players, max: s.MaxMisses, hidden: len(s.Word), solver: -1,
		scores: make([]int, s.Players), history: []Guess{}}
	for _, g := range s.Guesses {
		if l, ok := lower(g); p.over() || !ok || l != g || (len(g) != 1 && len(g) != len(s.Word)) {
			return s, nil, rules.BadState(Name, nil)
		}
		if err := p.apply(g); err != nil {
			return s, nil, rules.BadState(Name, err)
		}
	}
	return s, p, nil
}

// turn returns the seat to guess.
func (p *progress) turn() int { return len(p.history) % p.players }

func (p *progress) over() bool { return p.solver >= 0 || p.hidden == 0 || p.misses >= p.max }

// winners returns the winning seats, empty before the end and when the
// misses ran out.
func (p *progress) winners() []int {
	w := []int{}
	switch {
	case p.solver >= 0:
		w = append(w, p.solver)
	case p.hidden == 0:
		best := slices.Max(p.scores)
		for seat, score := range p.scores {
			if score == best {
				w = append(w, seat)
			}
		}
	}
	return w
}

// apply applies guess g (lowercase: one letter, or a word of the secret's
// length) by the seat whose turn it is, or returns the error for a repeated
// guess.
func (p *progress) apply(g string) error {
	seat := p.turn()
	entry := Guess{Seat: seat}
	if len(g) == 1 {
		c := g[0] - 'a'
		if p.guessed[c] {
			return rules.Illegal("the letter " + strconv.Quote(g) + " was already guessed")
		}
		p.guessed[c] = true
		entry.Letter = g
		entry.Points = strings.Count(p.word, g)
		entry.Hit = entry.Points > 0
		p.hidden -= entry.Points
	} else {
		for _, h := range p.history {
			if h.Word == g {
				return rules.Illegal("the word " + strconv.Quote(g) + " was already guessed")
			}
		}
		entry.Word = g
		if g == p.word {
			entry.Hit, entry.Points = true, p.hidden
			p.hidden, p.solver = 0, seat
		}
	}
	if entry.Hit {
		p.scores[seat] += entry.Points
	} else {
		p.misses++
	}
	p.history = append(p.history, entry)
	return nil
}
