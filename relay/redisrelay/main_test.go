package redisrelay_test

import (
	"testing"

	"github.com/chatfly/chatfly/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }
