package tictactoe_test

import (
	"testing"

	"github.com/chatfly/chatfly/games/gametest"
)

func TestMain(m *testing.M) { gametest.Main(m, 50) }
