package builtin_test

import (
	"testing"

	"github.com/chatfly/chatfly/games/builtin"
	"github.com/chatfly/chatfly/games/connectfour"
	"github.com/chatfly/chatfly/games/gametest"
	"github.com/chatfly/chatfly/games/rps"
	"github.com/chatfly/chatfly/games/tictactoe"
	"github.com/chatfly/chatfly/games/wordguess"
)

func TestAll(t *testing.T) {
	var names []string
	for _, g := range builtin.All() {
		gametest.CheckInfo(t, g)
		names = append(names, g.Info().Name)
	}
	want := []string{tictactoe.Name, connectfour.Name, rps.Name, wordguess.Name}
	if len(names) != len(want) {
		t.Fatalf("All() names %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("All() names %v, want %v", names, want)
		}
	}
	a := builtin.All()
	a[0] = nil
	if builtin.All()[0] == nil {
		t.Fatal("All returned a shared slice")
	}
}
