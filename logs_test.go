package chatfly_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/hangstore"
	"github.com/chatfly/chatfly/internal/logrec"
)

// A storage that stops answering in the middle of a send is logged once,
// at level Error, with the frame's connection, session, action and room,
// and Receive returns an error wrapping ErrUnavailable.
func TestStorageFailureIsLogged(t *testing.T) {
	var logs logrec.Recorder
	th := newTestHub(t, nil)
	hs := hangstore.New(th.store)
	th.hub = chatfly.New(hs.Storage(), th.tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), StorageTimeout: 50 * time.Millisecond, Now: th.clock.Now, Logger: logs.Logger()})
	conn, w := th.hello("Ada")
	th.join(conn, "lobby")

	hs.HangIf(func(k chatfly.Key) bool { return k.Sort == "seq" })
	wantUnavailable(t, th, conn, `{"action":"send","id":"m","room":"lobby","text":"hi"}`)
	recs := logs.Find("chatfly: handling frame")
	require.Len(t, recs, 1)
	assert.Equal(t, slog.LevelError, recs[0].Level)
	assert.Equal(t, conn, recs[0].Attrs["conn"])
	assert.Equal(t, w["session"], recs[0].Attrs["session"])
	assert.Equal(t, "send", recs[0].Attrs["action"])
	assert.Equal(t, "lobby", recs[0].Attrs["room"])
	assert.Contains(t, recs[0].Attrs["err"], "unavailable")

	// Before the frame is decoded (the connection record itself cannot be
	// read), the log has what is known: the connection.
	hs.HangAll()
	wantUnavailable(t, th, conn, `{"action":"ping","id":1}`)
	recs = logs.Find("chatfly: handling frame")
	require.Len(t, recs, 2)
	assert.Equal(t, conn, recs[1].Attrs["conn"])
	assert.NotContains(t, recs[1].Attrs, "action")
}

// The text of a hook's error that is not an *Error goes to the log, never
// to the client, which gets the generic "rejected"; an *Error from a hook
// reaches the client as it is; a hook that fails past the frame's deadline
// is answered "unavailable".
func TestHookErrorsDoNotLeak(t *testing.T) {
	const secret = "pq: password authentication failed for user app at 10.0.3.7"
	var logs logrec.Recorder
	hookErr := func(ctx context.Context, text string) error {
		switch text {
		case "own":
			return chatfly.Errorf(chatfly.ErrForbidden, "links are for members only")
		case "wrapped":
			return errors.Join(errors.New(secret), chatfly.ErrMuted)
		case "slow":
			<-ctx.Done() // a hook that waits past StorageTimeout
			return ctx.Err()
		case "plain":
			return errors.New(secret)
		}
		return nil
	}
	th := newTestHub(t, &chatfly.Options{
		Logger:         logs.Logger(),
		StorageTimeout: 50 * time.Millisecond,
		OnMessage: func(ctx context.Context, _ chatfly.Session, m *chatfly.Message) error {
			return hookErr(ctx, m.Text)
		},
		Identify: func(ctx context.Context, r *chatfly.ConnectRequest) (*chatfly.Identity, error) {
			return nil, hookErr(ctx, r.Header.Get("X-Test"))
		},
	})
	conn, _ := th.hello("Ada")
	th.join(conn, "lobby")
	for text, want := range map[string][2]string{
		"plain":   {"rejected", "rejected"},
		"own":     {"forbidden", "links are for members only"},
		"wrapped": {"muted", chatfly.ErrMuted.Message},
	} {
		r := th.reply(conn, `{"action":"send","id":1,"room":"lobby","text":"`+text+`"}`)
		assert.Equal(t, want, [2]string{r["code"].(string), r["message"].(string)}, text)
	}
	wantUnavailable(t, th, conn, `{"action":"send","id":"s","room":"lobby","text":"slow"}`)

	recs := logs.Find("chatfly: OnMessage hook failed; the client is told rejected")
	require.Len(t, recs, 1)
	assert.Equal(t, secret, recs[0].Attrs["err"])
	assert.Equal(t, "send", recs[0].Attrs["action"])
	assert.Equal(t, "lobby", recs[0].Attrs["room"])
	assert.Equal(t, conn, recs[0].Attrs["conn"])
	assert.Len(t, logs.Find("chatfly: OnMessage hook failed; the client is told unavailable"), 1)

	err := th.hub.Connect(context.Background(), &chatfly.ConnectRequest{ConnID: "x", Header: map[string][]string{"X-Test": {"plain"}}})
	var ce *chatfly.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, *chatfly.ErrRejected, *ce, "the identity hook's text is not returned for the upgrade's answer")
	recs = logs.Find("chatfly: Identify hook failed; the client is told rejected")
	require.Len(t, recs, 1)
	assert.Equal(t, "x", recs[0].Attrs["conn"])
	assert.Equal(t, secret, recs[0].Attrs["err"])
	for _, frame := range th.tr.raw[conn] {
		assert.NotContains(t, frame, "password", "the hook's text in a frame")
	}
}
