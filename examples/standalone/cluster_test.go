package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/internal/redistest"
)

// TestClusterOverRedis runs three servers on one Redis (-redis: storage and
// relay) and one person on each: what one says reaches the two others
// (through the relay), typing too, and reconnecting with the resume token to
// another server closes the first connection with 4001.
func TestClusterOverRedis(t *testing.T) {
	for _, b := range []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"miniredis", func(t *testing.T) string { return redistest.MiniredisAddr(t) }},
		{"redis-server", func(t *testing.T) string { return redistest.StartServer(t).Addr }},
	} {
		t.Run(b.name, func(t *testing.T) {
			args := []string{"-redis", "redis://" + b.addr(t), "-secret", string(secret)}
			var urls []string
			for range 3 {
				url, _ := serveFlags(t, args...)
				urls = append(urls, url)
			}
			var people []*client.Client
			for i, name := range []string{"Ada", "Lin", "Cy"} {
				c := dialAs(t, urls[i], &client.Options{Name: name})
				_, err := c.Join(t.Context(), "lobby", 0)
				require.NoError(t, err)
				people = append(people, c)
			}
			ada, lin, cy := people[0], people[1], people[2]
			_, err := ada.Send(t.Context(), "lobby", "hello, cluster")
			require.NoError(t, err)
			for _, c := range []*client.Client{lin, cy} {
				ev := nextOf(t, c, "message")
				assert.Equal(t, "hello, cluster", ev.Text)
				assert.Equal(t, "Ada", ev.From.Name)
			}
			require.NoError(t, lin.Typing(t.Context(), "lobby"))
			assert.Equal(t, "Lin", nextOf(t, ada, "typing").Member.Name)

			again := dialAs(t, urls[1], &client.Options{Token: ada.Welcome().Token})
			assert.Equal(t, ada.Welcome().Session, again.Welcome().Session)
			select {
			case <-ada.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("Ada's first connection, on another server, was not closed")
			}
			var ce *client.CloseError
			require.True(t, errors.As(ada.Err(), &ce), "%v", ada.Err())
			assert.Equal(t, 4001, ce.Code)
		})
	}
}

// nextOf returns c's next event of type typ, skipping others.
func nextOf(t *testing.T, c *client.Client, typ string) client.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			require.True(t, ok, "connection ended: %v", c.Err())
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}
