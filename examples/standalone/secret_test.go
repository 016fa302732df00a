package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
)

// TestSecretFlag: -secret, or $CHATFLY_SECRET, of at least 32 bytes;
// required with a table; with memory storage a warning and a random secret.
func TestSecretFlag(t *testing.T) {
	good := strings.Repeat("g", 32)
	cases := []struct {
		args    []string
		env     string
		want    string // the secret; "" for none
		wantErr string // part of the error
	}{
		{args: nil, want: ""},
		{args: []string{"-secret", good}, want: good},
		{args: nil, env: good, want: good},
		{args: []string{"-secret", good + "flag"}, env: good, want: good + "flag"},
		{args: []string{"-table", "chat", "-secret", good}, want: good},
		{args: []string{"-table", "chat"}, env: good, want: good},
		{args: []string{"-table", "chat"}, wantErr: "-table needs -secret or CHATFLY_SECRET"},
		{args: []string{"-secret", "short"}, wantErr: "at least 32"},
		{args: []string{"-table", "chat"}, env: "short", wantErr: "at least 32"},
	}
	for _, c := range cases {
		f := parseStorageFlags(t, c.args...)
		f.Getenv = func(k string) string {
			if k == "CHATFLY_SECRET" {
				return c.env
			}
			return ""
		}
		var logged bytes.Buffer
		secret, err := f.HubSecret(slog.New(slog.NewTextHandler(&logged, nil)))
		if c.wantErr != "" {
			assert.ErrorContains(t, err, c.wantErr, "%q env %q", c.args, c.env)
			assert.NotContains(t, err.Error(), "short", "the error must not show the secret")
			continue
		}
		require.NoError(t, err, "%q env %q", c.args, c.env)
		assert.Equal(t, c.want, string(secret), "%q env %q", c.args, c.env)
		assert.Equal(t, c.want == "", strings.Contains(logged.String(), "random secret"), "warning for %q: %s", c.args, logged.String())
	}
}

// A restart on the same table with the same -secret: people resume their
// identity, the owner of a custom room still owns it and can moderate; with
// another secret the old tokens are refused.
func TestRestartWithTheSameSecret(t *testing.T) {
	endpoint := localDynamoDB(t)
	args := func(secret string) []string {
		return []string{"-dynamodb-endpoint", endpoint, "-table", "restart-test", "-create-table", "-secret", secret}
	}
	url, stop := serveFlags(t, args(string(secret))...)
	olga, gus := dialAs(t, url, &client.Options{Name: "Olga"}), dialAs(t, url, &client.Options{Name: "Gus"})
	ev, err := olga.Do(t.Context(), "room.create", map[string]any{"name": "Book club", "visibility": "private"})
	require.NoError(t, err)
	var created struct {
		Room chatfly.RoomInfo `json:"room"`
	}
	require.NoError(t, json.Unmarshal(ev.Raw, &created))
	room := created.Room.ID
	for _, c := range []*client.Client{olga, gus} {
		_, err := c.Join(t.Context(), room, 0)
		require.NoError(t, err)
	}
	stop()
	<-olga.Done()

	url, stop = serveFlags(t, args(string(secret))...)
	olga2 := dialAs(t, url, &client.Options{Token: olga.Welcome().Token})
	gus2 := dialAs(t, url, &client.Options{Token: gus.Welcome().Token})
	require.Equal(t, olga.Welcome().Session, olga2.Welcome().Session)
	j, err := olga2.Join(t.Context(), room, 0)
	require.NoError(t, err)
	i := slices.IndexFunc(j.Members, func(m chatfly.Member) bool { return m.ID == olga.Welcome().Session })
	require.True(t, i >= 0 && j.Members[i].Role == "owner", "Olga after the restart: %+v", j.Members)
	_, err = gus2.Join(t.Context(), room, 0)
	require.NoError(t, err)
	_, err = olga2.Do(t.Context(), "room.kick", map[string]any{"room": room, "member": gus2.Welcome().Session})
	require.NoError(t, err, "the owner moderates after the restart")
	stop()
	<-olga2.Done()

	// Another secret: the tokens are refused (the client then says hello
	// with no name: an error).
	url, _ = serveFlags(t, args(strings.Repeat("o", 32))...)
	_, err = client.Dial(t.Context(), url, &client.Options{Token: olga.Welcome().Token})
	require.ErrorIs(t, err, chatfly.ErrInvalidToken, "an old token on another secret")
}
