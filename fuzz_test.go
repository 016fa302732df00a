package chatfly_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

// FuzzReceive feeds arbitrary frames to a Hub whose connection has joined a
// room. Whatever the frame, the Hub must answer with valid JSON (recTransport
// panics otherwise), never panic, and keep the connection usable.
func FuzzReceive(f *testing.F) {
	for _, seed := range []string{
		`{"action":"send","id":1,"room":"lobby","text":"hi"}`,
		`{"action":"join","id":"x","room":"random","after":3}`,
		`{"action":"history","room":"lobby","before":-5,"limit":1000000}`,
		`{"action":"hello","token":"a.b"}`,
		`{"action":"typing","room":"lobby","id":[1]}`,
		`{"action":"leave","room":"lobby"}`,
		`{"action":"rooms"}`,
		`{"action":"send","room":"lobby","text":"\u202e\u0000"}`,
		`{"action":"send","room":"lobby","text":1}`,
		`{"action":null}`,
		`{}`, `[]`, `"x"`, `{"action":"ping"`, "\xff\xfe",
		`{"action":"ping","id":"` + strings.Repeat("a", 65) + `"}`, `{"action":"ping","id":null}`,
		"{\"action\":\"send\",\"room\":\"lobby\",\"text\":\"\xed\xa0\x80\"}", `{"action":"ping","ID":"x","id":1e999}`,
	} {
		f.Add([]byte(seed))
	}
	ctx := context.Background()
	tr := newRecTransport()
	hub := chatfly.New(memstore.New(nil), tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), RateLimit: chatfly.RateLimit{Count: -1}})
	if err := hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "fz"}); err != nil {
		f.Fatal(err)
	}
	for _, fr := range []string{`{"action":"hello","name":"Fuzz"}`, `{"action":"join","room":"lobby"}`} {
		if err := hub.Receive(ctx, "fz", []byte(fr)); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if err := hub.Receive(ctx, "fz", frame); err != nil {
			t.Fatalf("Receive(%q): %v", frame, err)
		}
		tr.take("fz")
		if err := hub.Receive(ctx, "fz", []byte(`{"action":"ping","id":1}`)); err != nil {
			t.Fatal(err)
		}
		evs := tr.take("fz")
		if len(evs) == 0 || evs[len(evs)-1]["type"] != "pong" {
			t.Fatalf("after %q the connection no longer answers ping: %v", frame, evs)
		}
	})
}
