package chatfly_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
)

// The welcome advertises the server's limits, so that a client refuses
// what the server would refuse and paces itself; an unlimited rate is left
// out.
func TestWelcomeLimits(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{MaxFrameBytes: 9000, MaxTextRunes: 300, TypingInterval: 4 * time.Second,
		RateLimit: chatfly.RateLimit{Count: 7, Window: 3 * time.Second}})
	_, w := th.hello("Ada")
	require.Equal(t, map[string]any{
		"frameBytes": 9000.0, "textRunes": 300.0, "nameRunes": float64(chatfly.DefaultMaxNameRunes),
		"topicRunes": 200.0, "reasonRunes": 200.0, "eventBytes": float64(chatfly.DefaultMaxEventBytes),
		"historyPage": 100.0, "rooms": 10.0, "typingInterval": 4000.0,
		"rate": map[string]any{"count": 7.0, "window": 3000.0},
	}, w["limits"])

	th = newTestHub(t, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: -1}})
	_, w = th.hello("Ada")
	require.NotContains(t, w["limits"], "rate")
	require.Equal(t, float64(chatfly.DefaultMaxFrameBytes), w["limits"].(map[string]any)["frameBytes"])
}
