package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
)

// The identity part of the abuse suite (issue 13): secrets, tokens, names.

var testSecret = []byte("e2e identity test secret, 32+ bytes")

// A revoked session's live socket is closed with 4003, and its token no
// longer resumes it; a new session with the same name is possible.
func TestRevokedSessionIsClosedAndItsTokenRefused(t *testing.T) {
	s := startServer(t, serverConfig{hub: &chatfly.Options{Secret: testSecret}})
	ada, lin := s.dial("Ada", nil), s.dial("Lin", nil)
	join(t, ada, "lobby")
	join(t, lin, "lobby")
	require.NoError(t, s.hub.RevokeSession(ctx(t), ada.Welcome().Session))
	<-ada.Done()
	require.Equal(t, int(chatfly.CloseRevoked), ada.CloseCode(), "close: %v", ada.Err())
	if p := next(t, lin, "presence"); p.Event != "leave" || p.Member.Name != "Ada" {
		t.Fatalf("Lin saw %+v, want Ada leave", p)
	}

	_, err := client.Dial(ctx(t), s.url, &client.Options{Token: ada.Welcome().Token})
	require.ErrorIs(t, err, chatfly.ErrInvalidToken)
	again := s.dial("", &client.Options{Token: ada.Welcome().Token, Name: "Ada"}) // falls back to the name
	require.NotEqual(t, ada.Welcome().Session, again.Welcome().Session)
	join(t, again, "lobby")

	// Lin's token is not affected.
	_ = lin.Close()
	require.Equal(t, lin.Welcome().Session, s.dial("", &client.Options{Token: lin.Welcome().Token}).Welcome().Session)
}

// Look-alikes of a name in the room are name_taken over the wire; names
// with invisible marks are refused at hello.
func TestLookAlikeNamesOverWebSocket(t *testing.T) {
	s := startServer(t, serverConfig{})
	join(t, s.dial("Bob", nil), "lobby")
	for _, name := range []string{"B0B", "Воb", "Ｂｏｂ"} { // zero; Cyrillic Ve; fullwidth
		_, err := s.dial(name, nil).Join(ctx(t), "lobby", 0)
		require.ErrorIs(t, err, chatfly.ErrNameTaken, "%+q", name)
	}
	for _, name := range []string{"Bob\ufe0f", "Bob\u17b5", "Bob\U000e0100"} {
		_, err := client.Dial(ctx(t), s.url, &client.Options{Name: name})
		require.ErrorIs(t, err, chatfly.ErrInvalidName, "%+q", name)
	}
}

// welcomeRecorder is the Transport of a server that crashes: it keeps the
// last welcome and drops everything else.
type welcomeRecorder struct{ token string }

func (w *welcomeRecorder) Send(_ context.Context, _ string, frame []byte) error {
	var ev struct{ Type, Token string }
	if json.Unmarshal(frame, &ev) == nil && ev.Type == "welcome" {
		w.token = ev.Token
	}
	return nil
}

func (w *welcomeRecorder) Close(context.Context, string, chatfly.CloseCode, string) error { return nil }

// After a crash (no disconnect: the membership and the name stay in shared
// storage until PresenceTTL), a server with the same secret resumes the
// person, whose own stale membership then does not hold their name; with
// another secret they come back as a stranger, and the ghost holds the name.
func TestCrashGhostDoesNotHoldTheNameWithTheSameSecret(t *testing.T) {
	forEachStore(t, func(t *testing.T, st storeKind) {
		store := st.make(t)
		rec := &welcomeRecorder{}
		crashed := chatfly.New(store, rec, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Secret: testSecret})
		require.NoError(t, crashed.Connect(ctx(t), &chatfly.ConnectRequest{ConnID: "ghost"}))
		for _, f := range []string{`{"action":"hello","name":"Ada"}`, `{"action":"join","room":"lobby"}`} {
			require.NoError(t, crashed.Receive(ctx(t), "ghost", []byte(f)))
		}
		require.NotEmpty(t, rec.token)

		other := startServer(t, serverConfig{store: store, hub: &chatfly.Options{Secret: []byte(strings.Repeat("x", 32))}})
		_, err := client.Dial(ctx(t), other.url, &client.Options{Token: rec.token})
		require.ErrorIs(t, err, chatfly.ErrInvalidToken, "another secret")
		_, err = other.dial("Ada", nil).Join(ctx(t), "lobby", 0)
		require.ErrorIs(t, err, chatfly.ErrNameTaken, "another secret: the ghost holds the name")

		same := startServer(t, serverConfig{store: store, hub: &chatfly.Options{Secret: testSecret}})
		ada := same.dial("", &client.Options{Token: rec.token})
		require.Equal(t, "Ada", ada.Welcome().Name)
		j := join(t, ada, "lobby")
		require.Len(t, j.Members, 1, "Ada is herself, not a second Ada: %+v", j.Members)
		_, err = ada.Send(ctx(t), "lobby", "back")
		require.NoError(t, err)
	})
}
