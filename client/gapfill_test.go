package client_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly/client"
)

func msgLine(room string, seq int64) string {
	return fmt.Sprintf(`{"type":"message","room":%q,"seq":%d,"from":{"id":"u","name":"U"},"text":"m%d","ts":1}`, room, seq, seq)
}

func msgLines(room string, from, to int64) string {
	var l []string
	for s := from; s <= to; s++ {
		l = append(l, msgLine(room, s))
	}
	return strings.Join(l, ",")
}

// joinAt answers a join of lobby with the room at seq.
func (s *sconn) joinAt(seq int64) {
	s.t.Helper()
	j := s.read("join")
	s.write(reply(j, "joined", fmt.Sprintf(`"room":{"id":"lobby","seq":%d},"members":[],"history":[]`, seq)))
}

// seqs reads n events and returns their seqs, failing on other events.
func seqs(t *testing.T, c *client.Client, n int) []int64 {
	t.Helper()
	var got []int64
	for range n {
		ev, ok := <-c.Events()
		require.True(t, ok, "events closed after %v: %v", got, c.Err())
		require.Equal(t, "message", ev.Type, "event %s", ev.Raw)
		assert.Equal(t, fmt.Sprintf("m%d", ev.Seq), ev.Text)
		got = append(got, ev.Seq)
	}
	return got
}

func span(from, to int64) []int64 {
	var s []int64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// A message lost before 14 (a relay is at most once) is fetched with
// history; 12 to 15 arrive in order, 15 after the missing ones although the
// server sent it before the history reply.
func TestGapFilledFromHistory(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		s.joinAt(10)
		s.write(msgLine("lobby", 11))
		s.write(msgLine("lobby", 14), msgLine("lobby", 15))
		h := s.read("history")
		if h.str("room") != "lobby" || string(h.m["before"]) != "14" || string(h.m["limit"]) != "2" {
			s.fail("history %s, want room lobby before 14 limit 2", h.raw)
		}
		s.write(reply(h, "history", `"room":"lobby","messages":[`+msgLines("lobby", 12, 13)+`],"more":true`))
		s.write(msgLine("lobby", 16))
		s.waitClose()
	})
	c := dial(t, f, &client.Options{Name: "Ada"})
	_, err := c.Join(testCtx(t), "lobby", 0)
	require.NoError(t, err)
	assert.Equal(t, span(11, 16), seqs(t, c, 6))
}

// A gap wider than a history page is fetched page by page.
func TestGapFilledAcrossPages(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		s.joinAt(0)
		s.write(msgLine("lobby", 1), msgLine("lobby", 152))
		h := s.read("history")
		if string(h.m["before"]) != "152" || string(h.m["limit"]) != "100" {
			s.fail("first page %s", h.raw)
		}
		s.write(reply(h, "history", `"room":"lobby","messages":[`+msgLines("lobby", 52, 151)+`],"more":true`))
		h = s.read("history")
		if string(h.m["before"]) != "52" || string(h.m["limit"]) != "50" {
			s.fail("second page %s", h.raw)
		}
		s.write(reply(h, "history", `"room":"lobby","messages":[`+msgLines("lobby", 2, 51)+`],"more":true`))
		s.waitClose()
	})
	c := dial(t, f, &client.Options{Name: "Ada"})
	_, err := c.Join(testCtx(t), "lobby", 0)
	require.NoError(t, err)
	assert.Equal(t, span(1, 152), seqs(t, c, 152))
}

// When history fails, what waited is delivered with the gap; later
// messages flow again.
func TestGapFillFails(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		s.joinAt(10)
		s.write(msgLine("lobby", 13))
		h := s.read("history")
		s.write(msgLine("lobby", 14))
		s.write(errorReply(h, "rate_limited", "slow down"))
		s.write(msgLine("lobby", 15))
		s.waitClose()
	})
	c := dial(t, f, &client.Options{Name: "Ada"})
	_, err := c.Join(testCtx(t), "lobby", 0)
	require.NoError(t, err)
	assert.Equal(t, []int64{13, 14, 15}, seqs(t, c, 3))
}

// With NoGapFill, and in rooms not joined by this client, messages are
// delivered as they come.
func TestNoGapFill(t *testing.T) {
	script := func(s *sconn) {
		s.hello()
		s.joinAt(10)
		s.write(msgLine("lobby", 11), msgLine("lobby", 14), msgLine("other", 5), msgLine("other", 9))
		s.write(msgLine("lobby", 15))
		s.waitClose()
	}
	c := dial(t, newFakeServer(t, script), &client.Options{Name: "Ada", NoGapFill: true})
	_, err := c.Join(testCtx(t), "lobby", 0)
	require.NoError(t, err)
	assert.Equal(t, []int64{11, 14, 5, 9, 15}, seqs(t, c, 5))
}

// After leaving a room, its messages are no longer tracked.
func TestGapFillStopsAfterLeave(t *testing.T) {
	f := newFakeServer(t, func(s *sconn) {
		s.hello()
		s.joinAt(10)
		l := s.read("leave")
		s.write(reply(l, "left", `"room":"lobby"`))
		s.write(msgLine("lobby", 20))
		s.waitClose()
	})
	c := dial(t, f, &client.Options{Name: "Ada"})
	_, err := c.Join(testCtx(t), "lobby", 0)
	require.NoError(t, err)
	require.NoError(t, c.Leave(testCtx(t), "lobby"))
	assert.Equal(t, []int64{20}, seqs(t, c, 1))
}
