package chatfly_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShortSecretIsRefused(t *testing.T) {
	store, tr := memstore.New(nil), newRecTransport()
	for _, n := range []int{1, 16, chatfly.MinSecretBytes - 1} {
		secret := []byte(strings.Repeat("s", n))
		require.Error(t, chatfly.CheckSecret(secret))
		require.PanicsWithValue(t, chatfly.CheckSecret(secret).Error(), func() {
			chatfly.New(store, tr, &chatfly.Options{Secret: secret})
		}, "%d-byte secret", n)
	}
	assert.ErrorContains(t, chatfly.CheckSecret(nil), "at least 32")
	ok := []byte(strings.Repeat("s", chatfly.MinSecretBytes))
	require.NoError(t, chatfly.CheckSecret(ok))
	require.NotPanics(t, func() { chatfly.New(store, tr, &chatfly.Options{Secret: ok}) })
	require.NotPanics(t, func() { chatfly.New(store, tr, nil) }, "no secret: a random one")
}

// A verified user's session id is keyed with the secret: the same on every
// Hub with the same secret (roles and bans follow the user), different with
// another secret, and not the plain hash of the user id anyone can compute.
func TestVerifiedSessionIDIsKeyedWithSecret(t *testing.T) {
	verified := func(secret string) string {
		th := newTestHub(t, &chatfly.Options{
			Secret: []byte(secret),
			Identify: func(context.Context, *chatfly.ConnectRequest) (*chatfly.Identity, error) {
				return &chatfly.Identity{UserID: "42", Name: "Vera"}, nil
			},
		})
		w := th.reply(th.connect(), `{"action":"hello","id":1}`)
		require.Equal(t, "welcome", w["type"], w)
		return w["session"].(string)
	}
	a := strings.Repeat("a", 32)
	id := verified(a)
	assert.Equal(t, id, verified(a), "same secret, same user: same session id")
	assert.NotEqual(t, id, verified(strings.Repeat("b", 32)), "another secret: another session id")
	sum := sha256.Sum256([]byte("chatfly-user:42"))
	assert.NotEqual(t, "u"+base64.RawURLEncoding.EncodeToString(sum[:16]), id, "the unkeyed hash of the user id")
}

// Look-alikes of a name in the room are taken; invisible marks are refused.
func TestLookAlikeNames(t *testing.T) {
	cases := []struct {
		name, want string // want: "ok", "name_taken" or "invalid_name"
	}{
		{"bob", "name_taken"},
		{"BOB", "name_taken"},
		{"B0b", "name_taken"},             // digit zero
		{"Вob", "name_taken"},             // Cyrillic capital ve
		{"Bоb", "name_taken"},             // Cyrillic small o
		{"Βοb", "name_taken"},             // Greek capital beta, small omicron
		{"Ｂｏｂ", "name_taken"},             // fullwidth
		{"𝐁𝐨𝐛", "name_taken"},             // mathematical bold
		{"Bob\u00a0", "name_taken"},       // trailing no-break space
		{"Bob\ufe0f", "invalid_name"},     // variation selector on a letter
		{"Bob\u17b5", "invalid_name"},     // invisible Khmer vowel
		{"Bob\U000e0100", "invalid_name"}, // ideographic variation selector
		{"Bo\u034fb", "invalid_name"},     // combining grapheme joiner
		{"B\u200dob", "invalid_name"},     // zero-width joiner
		{"Bob\ue000", "invalid_name"},     // private use
		{"Bób", "ok"},                     // an accent is visible
		{"Bobby", "ok"},
		{"Ann  Lee", "ok"},
		{"Ann Lee", "name_taken"}, // white space collapses, as HTML shows it
		{"Ana❤", "ok"},
		{"Ana❤\ufe0f", "name_taken"}, // emoji presentation: same name
		{"Ana❤\ufe0f\ufe0f", "invalid_name"},
		{"Ho11y", "ok"},
		{"Holly", "name_taken"}, // 1 looks like l
		{"Olga", "ok"},
		{"0lga", "name_taken"},
	}
	th := newTestHub(t, nil)
	bob, _ := th.hello("Bob")
	th.join(bob, "lobby")
	for _, c := range cases {
		conn := th.connect()
		r := th.reply(conn, `{"action":"hello","id":1,"name":`+jsonString(c.name)+`}`)
		if r["type"] == "welcome" {
			r = th.reply(conn, `{"action":"join","id":2,"room":"lobby"}`)
		}
		got := "ok"
		if r["type"] == "error" {
			got = r["code"].(string)
		}
		assert.Equal(t, c.want, got, "%+q: %v", c.name, r)
	}
}

// The uniqueness key of a plain ASCII name is its lower case, as it was
// before look-alike folding: name items stored by earlier versions still
// hold their names.
func TestASCIINameKeysAreStable(t *testing.T) {
	th := newTestHub(t, nil)
	for _, name := range []string{"Alice Smith", "bob_the-builder", "X Æ", "Zoë", "mr.Robot!"} {
		conn, _ := th.hello(name)
		th.join(conn, "lobby")
	}
	for _, key := range []string{"alice smith", "bob_the-builder", "x æ", "zoë", "mr.robot!"} {
		_, err := th.store.Get(context.Background(), chatfly.Key{Partition: "room#lobby", Sort: "name#" + key})
		assert.NoError(t, err, key)
	}
}

// RevokeSession closes the live connection with 4003 and makes every token
// of the session invalid, on every Hub sharing the storage; other sessions
// and new sessions are not affected.
func TestRevokeSession(t *testing.T) {
	th := newTestHub(t, nil)
	ctx := context.Background()
	ada, w := th.hello("Ada")
	th.join(ada, "lobby")
	_, lin := th.hello("Lin")
	sid, tok := w["session"].(string), w["token"].(string)

	require.NoError(t, th.hub.RevokeSession(ctx, sid))
	th.tr.mu.Lock()
	code := th.tr.closed[ada]
	th.tr.mu.Unlock()
	require.Equal(t, chatfly.CloseRevoked, code)
	require.NoError(t, th.hub.Disconnect(ctx, ada))

	conn := th.connect()
	th.wantError(conn, `{"action":"hello","token":"`+tok+`"}`, "invalid_token")
	w2 := th.reply(conn, `{"action":"hello","name":"Ada"}`) // a new session is possible
	require.Equal(t, "welcome", w2["type"])
	require.NotEqual(t, sid, w2["session"])
	th.join(conn, "lobby") // and the name is free again

	// Another Hub with the same secret and storage refuses it too.
	secret := []byte(strings.Repeat("k", 32))
	th2 := newTestHub(t, &chatfly.Options{Secret: secret})
	hub2 := chatfly.New(th2.store, newRecTransport(), &chatfly.Options{Secret: secret, Now: th2.clock.Now})
	_, w3 := th2.hello("Kim")
	require.NoError(t, hub2.RevokeSession(ctx, w3["session"].(string)))
	th2.wantError(th2.connect(), `{"action":"hello","token":"`+w3["token"].(string)+`"}`, "invalid_token")

	// Lin's token still resumes; revoking an unknown session is no error.
	resumed := th.reply(th.connect(), `{"action":"hello","token":"`+lin["token"].(string)+`"}`)
	require.Equal(t, lin["session"], resumed["session"])
	require.NoError(t, th.hub.RevokeSession(ctx, "no-such-session"))
	require.ErrorIs(t, th.hub.RevokeSession(ctx, ""), chatfly.ErrBadRequest)
}
