package wordguess

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/gametest"
)

// with returns a Game whose secret is always word.
func with(word string) Game { return Game{Words: []string{word}} }

func view(t gametest.TB, g Game, state []byte, seat int) View {
	t.Helper()
	return gametest.View[View](t, g, state, seat)
}

func letter(l string) string { return fmt.Sprintf(`{"letter":%q}`, l) }
func word(w string) string   { return fmt.Sprintf(`{"word":%q}`, w) }

func TestWordList(t *testing.T) {
	words := DefaultWords()
	if len(words) < 300 {
		t.Fatalf("%d words, want a few hundred", len(words))
	}
	for i, w := range words {
		if len(w) < 5 || len(w) > 10 || !validWord(w) {
			t.Errorf("word %q: want 5 to 10 letters a to z", w)
		}
		if i > 0 && words[i-1] >= w {
			t.Errorf("words %q, %q: not sorted or repeated", words[i-1], w)
		}
	}
	words[0] = "changed"
	if DefaultWords()[0] == "changed" {
		t.Fatal("DefaultWords returned the package's own slice")
	}
}

func TestInfo(t *testing.T) {
	gametest.CheckInfo(t, Game{})
	for _, words := range [][]string{{"Planet"}, {"x"}, {"two words"}, {"café"}} {
		if _, err := (Game{Words: words}).Start(gametest.Players(2), gametest.Rand(1)); err == nil {
			t.Errorf("Start with Words %q succeeded", words)
		}
	}
	if _, err := (Game{}).Start(gametest.Players(2), nil); err == nil {
		t.Error("Start without a random source succeeded")
	}
}

func TestIllegalMoves(t *testing.T) {
	g := with("planet")
	fresh := gametest.Start(t, g, 3, 1)
	mid := gametest.Play(t, g, fresh, "0:"+letter("e"), "1:"+word("planes"), "2:"+letter("x"))
	won := gametest.Play(t, g, fresh, "0:"+word("planet"))
	lost := gametest.Start(t, Game{Words: []string{"planet"}, MaxMisses: 1}, 2, 1)
	lost = gametest.Play(t, g, lost, "0:"+letter("z"))
	tests := []struct {
		name  string
		state []byte
		seat  int
		move  string
		want  error
	}{
		{"not json", fresh, 0, `e`, nil},
		{"truncated", fresh, 0, `{"letter":"e"`, nil},
		{"null", fresh, 0, `null`, nil},
		{"bare string", fresh, 0, `"e"`, nil},
		{"empty object", fresh, 0, `{}`, nil},
		{"both", fresh, 0, `{"letter":"e","word":"planet"}`, nil},
		{"unknown field", fresh, 0, `{"letter":"e","hint":true}`, nil},
		{"duplicate field", fresh, 0, `{"letter":"e","letter":"a"}`, nil},
		{"trailing data", fresh, 0, `{"letter":"e"},`, nil},
		{"letter null", fresh, 0, `{"letter":null}`, nil},
		{"letter number", fresh, 0, `{"letter":5}`, nil},
		{"letter empty", fresh, 0, letter(""), nil},
		{"two letters", fresh, 0, letter("ab"), nil},
		{"digit", fresh, 0, letter("1"), nil},
		{"accented letter", fresh, 0, letter("é"), nil},
		{"kelvin sign", fresh, 0, letter("\u212a"), nil},
		{"space", fresh, 0, letter(" "), nil},
		{"word null", fresh, 0, `{"word":null}`, nil},
		{"word empty", fresh, 0, word(""), nil},
		{"word too short", fresh, 0, word("plane"), nil},
		{"word too long", fresh, 0, word("planets"), nil},
		{"word with a digit", fresh, 0, word("plan3t"), nil},
		{"word with a space", fresh, 0, word("pla et"), nil},
		{"repeated letter", mid, 0, letter("e"), nil},
		{"repeated letter, capital", mid, 0, letter("E"), nil},
		{"repeated miss", mid, 0, letter("x"), nil},
		{"repeated word", mid, 0, word("planes"), nil},
		{"repeated word, capitals", mid, 0, word("PLANES"), nil},
		{"out of turn", fresh, 1, letter("e"), chatfly.ErrNotYourTurn},
		{"out of turn, last seat", mid, 2, letter("a"), chatfly.ErrNotYourTurn},
		{"spectator", fresh, -1, letter("e"), chatfly.ErrNotPlayer},
		{"no such seat", fresh, 3, letter("e"), chatfly.ErrNotPlayer},
		{"after a win", won, 1, letter("e"), chatfly.ErrGameOver},
		{"after a loss", lost, 1, letter("e"), chatfly.ErrGameOver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []error
			if tt.want != nil {
				want = append(want, tt.want)
			}
			err := gametest.Illegal(t, g, tt.state, tt.seat, tt.move, want...)
			if tt.want == nil && chatfly.CodeOf(err) != chatfly.ErrIllegalMove.Code {
				t.Fatalf("code %q, want %q (%v)", chatfly.CodeOf(err), chatfly.ErrIllegalMove.Code, err)
			}
		})
	}
}

func TestCapitals(t *testing.T) {
	g := with("planet")
	state := gametest.Play(t, g, gametest.Start(t, g, 2, 1), "0:"+letter("E"), "1:"+word("PlaNet"))
	v := view(t, g, state, -1)
	if !slices.Equal(v.Guessed, []string{"e"}) || !v.Over || !slices.Equal(v.Winners, []int{1}) {
		t.Fatalf("view %+v", v)
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		game    Game
		players int
		moves   []string
		winners []int
		scores  []int
		pattern string
		misses  int
	}{
		{"word guessed", with("planet"), 3,
			[]string{"0:" + letter("e"), "1:" + letter("x"), "2:" + word("planet")},
			[]int{2}, []int{1, 0, 5}, "____e_", 1},
		{"word guessed by a lower score", with("banana"), 2,
			[]string{"0:" + letter("a"), "1:" + word("banana")},
			[]int{1}, []int{3, 3}, "_a_a_a", 0},
		{"revealed by letters", with("planet"), 3,
			[]string{"0:" + letter("p"), "1:" + letter("l"), "2:" + letter("z"), "0:" + letter("a"), "1:" + word("planer"), "2:" + letter("n"), "0:" + letter("e"), "1:" + letter("t")},
			[]int{0}, []int{3, 2, 1}, "planet", 2},
		{"revealed by letters, tie", with("noon"), 2,
			[]string{"0:" + letter("n"), "1:" + letter("o")},
			[]int{0, 1}, []int{2, 2}, "noon", 0},
		{"misses ran out", with("planet"), 2,
			[]string{"0:" + letter("q"), "1:" + letter("z"), "0:" + letter("p"), "1:" + word("plants"), "0:" + letter("x"), "1:" + letter("j"), "0:" + letter("k"), "1:" + letter("v"), "0:" + letter("w")},
			nil, []int{1, 0}, "p_____", 8},
		{"fewer misses allowed", Game{Words: []string{"planet"}, MaxMisses: 2}, 2,
			[]string{"0:" + letter("q"), "1:" + letter("z")},
			nil, []int{0, 0}, "______", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := gametest.Start(t, tt.game, tt.players, 1)
			for i, m := range tt.moves {
				if v := view(t, tt.game, state, -1); v.Over || v.Word != "" {
					t.Fatalf("over or revealed after %d moves: %+v", i, v)
				}
				state = gametest.Play(t, tt.game, state, m)
			}
			st := gametest.Status(t, tt.game, state)
			if !st.Over || !slices.Equal(st.Winners, tt.winners) || len(st.Turn) != 0 {
				t.Fatalf("status %+v, want winners %v", st, tt.winners)
			}
			v := view(t, tt.game, state, 0)
			if !v.Over || !slices.Equal(v.Winners, append([]int{}, tt.winners...)) || !slices.Equal(v.Scores, tt.scores) ||
				v.Pattern != tt.pattern || v.Misses != tt.misses || v.Word != tt.game.Words[0] || len(v.History) != len(tt.moves) {
				t.Fatalf("view %+v", v)
			}
		})
	}
}

func TestView(t *testing.T) {
	g := with("planet")
	state := gametest.Play(t, g, gametest.Start(t, g, 3, 1), "0:"+letter("e"), "1:"+word("planes"), "2:"+letter("X"))
	want := `{"seat":-1,"players":3,"pattern":"____e_","length":6,"guessed":["e","x"],"misses":2,"max_misses":8,"misses_left":6,"scores":[1,0,0],` +
		`"history":[{"seat":0,"letter":"e","hit":true,"points":1},{"seat":1,"word":"planes","hit":false,"points":0},{"seat":2,"letter":"x","hit":false,"points":0}],` +
		`"turn":[0],"over":false,"winners":[]}`
	if got := gametest.ViewJSON(t, g, state, -1); string(got) != want {
		t.Fatalf("spectator view\n%s\nwant\n%s", got, want)
	}
	for seat := range 3 {
		got := gametest.ViewJSON(t, g, state, seat)
		if !bytes.Equal(got, bytes.Replace([]byte(want), []byte(`"seat":-1`), []byte(fmt.Sprintf(`"seat":%d`, seat)), 1)) {
			t.Fatalf("view of seat %d differs from the spectator's beyond the seat:\n%s", seat, got)
		}
	}
	for _, seat := range []int{-2, 3} {
		if _, err := g.View(state, seat); chatfly.CodeOf(err) != chatfly.ErrNotPlayer.Code {
			t.Fatalf("View(seat %d) error %v, want not_player", seat, err)
		}
	}
}

func TestState(t *testing.T) {
	g := with("planet")
	state := gametest.Play(t, g, gametest.Start(t, g, 3, 1), "0:"+letter("E"), "1:"+word("planes"))
	if want := `{"w":"planet","n":3,"k":8,"h":["e","planes"]}`; string(state) != want {
		t.Fatalf("state %s, want %s", state, want)
	}
	for _, bad := range []string{
		``, `[]`,
		`{"w":"Planet","n":3,"k":8,"h":[]}`,
		`{"w":"planet","n":1,"k":8,"h":[]}`,
		`{"w":"planet","n":9,"k":8,"h":[]}`,
		`{"w":"planet","n":3,"k":0,"h":[]}`,
		`{"w":"planet","n":3,"k":8,"h":["e","e"]}`,
		`{"w":"planet","n":3,"k":8,"h":["E"]}`,
		`{"w":"planet","n":3,"k":8,"h":["ab"]}`,
		`{"w":"planet","n":3,"k":8,"h":["planet","e"]}`,
		`{"w":"planet","n":3,"k":1,"h":["z","e"]}`,
	} {
		_, err1 := g.Move([]byte(bad), 0, json.RawMessage(letter("a")))
		_, err2 := g.View([]byte(bad), 0)
		_, err3 := g.Status([]byte(bad))
		for _, err := range []error{err1, err2, err3} {
			if err == nil || chatfly.CodeOf(err) != chatfly.ErrInternal.Code {
				t.Fatalf("state %q: error %v, want an internal error", bad, err)
			}
		}
	}
}

// views returns the encoded views of every seat and a spectator.
func views(t gametest.TB, g Game, state []byte, players int) [][]byte {
	t.Helper()
	var vs [][]byte
	for seat := -1; seat < players; seat++ {
		vs = append(vs, gametest.ViewJSON(t, g, state, seat))
	}
	return vs
}

// TestSecretNotInViews plays words of the list (each secret solved after
// two letters, lost with wrong words, and played with letters in a fixed
// order until the end) and checks the raw encoded views: the secret is in
// none of them before the end, and in all of them after. Every word of the
// list is covered by TestNoWordInViewKeys.
func TestSecretNotInViews(t *testing.T) {
	var letters []string
	for _, c := range "etaoinshrdlucmfwypvbgkjqxz" {
		letters = append(letters, letter(string(c)))
	}
	for n, secret := range defaultWords {
		if n%16 != 0 {
			continue
		}
		g := with(secret)
		paths := [][]string{{letter("e"), letter("s"), word(secret)}, nil}
		for i := range DefaultMaxMisses {
			paths[1] = append(paths[1], word(strings.Repeat("z", len(secret)-1)+string(rune('a'+i))))
		}
		paths = append(paths, letters)
		for _, path := range paths {
			state := gametest.Start(t, g, 2, 1)
			for i := 0; ; i++ {
				over := gametest.Status(t, g, state).Over
				for _, v := range views(t, g, state, 2) {
					if in := bytes.Contains(v, []byte(secret)); in != over {
						t.Fatalf("secret %q, game over %v, but in the view %v: %s", secret, over, in, v)
					}
				}
				if over {
					break
				}
				if i == len(path) {
					t.Fatalf("secret %q: not over after %v", secret, path)
				}
				state = gametest.Move(t, g, state, i%2, path[i])
			}
		}
	}
}

// TestNoWordInViewKeys checks that no word of the list can be found in the
// fixed text of a view (its keys), which would defeat a raw-bytes search for
// the secret.
func TestNoWordInViewKeys(t *testing.T) {
	g := with("zyzyzy")
	state := gametest.Play(t, g, gametest.Start(t, g, 2, 1), "0:"+letter("z"), "1:"+word("qqqqqq"), "0:"+word("zyzyzy"))
	v := string(gametest.ViewJSON(t, g, state, -1))
	for _, key := range []string{"pattern", "guessed", "misses_left", "scores", "history", "letter", "points", "winners"} {
		if !strings.Contains(v, `"`+key+`"`) {
			t.Fatalf("view without %q: %s", key, v)
		}
	}
	for _, w := range defaultWords {
		if strings.Contains(v, w) {
			t.Errorf("the word %q is part of a view's keys: %s", w, v)
		}
	}
}

// hideAgain returns a state in which the secret's letters not revealed yet
// are replaced by other letters not guessed yet, or false if there is no
// such word that was not guessed as a wrong word. Such a state must look
// the same to everyone.
func hideAgain(t *rapid.T, data []byte) ([]byte, bool) {
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("state: %v", err)
	}
	var unguessed []byte
	for c := byte('a'); c <= 'z'; c++ {
		if !slices.Contains(s.Guesses, string(c)) {
			unguessed = append(unguessed, c)
		}
	}
	w := []byte(s.Word)
	for i, c := range w {
		if !slices.Contains(s.Guesses, string(c)) {
			w[i] = rapid.SampledFrom(unguessed).Draw(t, "letter")
		}
	}
	if slices.Contains(s.Guesses, string(w)) {
		return nil, false
	}
	s.Word = string(w)
	alt, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("encoding state: %v", err)
	}
	return alt, true
}

// legal lists the letters not guessed and up to three words of the list
// that fit the pattern and were not guessed. With skill, it knows the
// secret: it lists its letters not guessed, one wrong letter and the word.
func legal(t *rapid.T, g Game, skill bool) gametest.Legal {
	return func(data []byte, seat int) []json.RawMessage {
		v := view(t, g, data, seat)
		var moves []json.RawMessage
		if skill {
			var s state
			if err := json.Unmarshal(data, &s); err != nil {
				t.Fatalf("state: %v", err)
			}
			for _, c := range s.Word {
				if !slices.Contains(v.Guessed, string(c)) {
					moves = append(moves, json.RawMessage(letter(string(c))))
				}
			}
			for c := 'a'; c <= 'z'; c++ {
				if !strings.ContainsRune(s.Word, c) && !slices.Contains(v.Guessed, string(c)) {
					moves = append(moves, json.RawMessage(letter(string(c))))
					break
				}
			}
			return append(moves, json.RawMessage(word(s.Word)))
		}
		for c := 'a'; c <= 'z'; c++ {
			if !slices.Contains(v.Guessed, string(c)) {
				moves = append(moves, json.RawMessage(letter(string(c))))
			}
		}
		fits := func(w string) bool {
			if len(w) != len(v.Pattern) {
				return false
			}
			for i := range w {
				if p := v.Pattern[i]; p != '_' && p != w[i] || p == '_' && slices.Contains(v.Guessed, w[i:i+1]) {
					return false
				}
			}
			return !slices.ContainsFunc(v.History, func(h Guess) bool { return h.Word == w })
		}
		n := 0
		for _, w := range defaultWords {
			if n < 3 && fits(w) {
				moves = append(moves, json.RawMessage(word(w)))
				n++
			}
		}
		return moves
	}
}

// TestSecretNeverLeaks plays random games and, at every step before the
// end, checks that replacing the letters not revealed yet by any other
// letters not guessed changes no view, byte for byte: the views carry no
// hint of the secret beyond the revealed letters.
func TestSecretNeverLeaks(t *testing.T) {
	g := Game{}
	rapid.Check(t, func(t *rapid.T) {
		players := rapid.IntRange(2, 8).Draw(t, "players")
		state := gametest.Start(t, g, players, rapid.Uint64().Draw(t, "seed"))
		pick := legal(t, g, rapid.Bool().Draw(t, "skill"))
		for {
			st := gametest.Status(t, g, state)
			if st.Over {
				return
			}
			if alt, ok := hideAgain(t, state); ok {
				want, got := views(t, g, state, players), views(t, g, alt, players)
				for i := range want {
					if !bytes.Equal(want[i], got[i]) {
						t.Fatalf("the view of seat %d depends on hidden letters:\n%s\n%s", i-1, want[i], got[i])
					}
				}
			}
			move := rapid.SampledFrom(pick(state, st.Turn[0])).Draw(t, "move")
			state = gametest.Move(t, g, state, st.Turn[0], string(move))
		}
	})
}

func TestRandomPlay(t *testing.T) {
	g := Game{}
	rapid.Check(t, func(t *rapid.T) {
		players := rapid.IntRange(2, 8).Draw(t, "players")
		skill := rapid.Bool().Draw(t, "skill")
		// At most one hit per letter of the longest word, and the misses.
		r := gametest.PlayRandom(t, g, players, 10+DefaultMaxMisses, legal(t, g, skill))
		v := view(t, g, r.State, -1)
		switch {
		case v.Word == "" || len(v.Word) != v.Length:
			t.Fatalf("over without the word revealed: %+v", v)
		case v.Misses == DefaultMaxMisses && len(r.Status.Winners) != 0:
			t.Fatalf("winners %v after running out of misses", r.Status.Winners)
		case v.Misses < DefaultMaxMisses && len(r.Status.Winners) == 0:
			t.Fatalf("no winner though the word was found: %+v", v)
		}
		for _, w := range r.Status.Winners {
			if last := v.History[len(v.History)-1]; last.Word == "" && v.Scores[w] != slices.Max(v.Scores) {
				t.Fatalf("winner %d without the best score: %+v", w, v)
			}
		}
	})
}

func TestStartDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { gametest.CheckStart(t, Game{}) })
}

func TestStartDrawsWords(t *testing.T) {
	seen := map[string]bool{}
	for seed := range uint64(100) {
		var s state
		if err := json.Unmarshal(gametest.Start(t, Game{}, 2, seed), &s); err != nil {
			t.Fatal(err)
		}
		seen[s.Word] = true
	}
	if len(seen) < 50 {
		t.Fatalf("100 seeds drew %d different words", len(seen))
	}
}
