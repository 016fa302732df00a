package chatfly_test

import (
	"context"
	"testing"

	"github.com/chatfly/chatfly"
)

// TestHelloWithoutName: the web app with IdentifiedUsers says hello without
// a name first. A connection the Identify hook verified is welcomed as its
// user; any other gets invalid_name, stays open, and may say hello with a
// name, the empty hello not counting against its address's new sessions.
func TestHelloWithoutName(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{
		AddressLimits: chatfly.AddressLimits{SessionsPerHour: 1},
		Identify: func(_ context.Context, req *chatfly.ConnectRequest) (*chatfly.Identity, error) {
			if req.Header.Get("Cookie") == "user=42" {
				return &chatfly.Identity{UserID: "42", Name: "Verified Vera"}, nil
			}
			return nil, nil
		},
	})
	ctx := context.Background()
	if err := th.hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "vera", Header: map[string][]string{"Cookie": {"user=42"}}, RemoteAddr: "203.0.113.5:1000"}); err != nil {
		t.Fatal(err)
	}
	if w := th.reply("vera", `{"action":"hello","id":1}`); w["type"] != "welcome" || w["name"] != "Verified Vera" || w["user"] != "42" {
		t.Fatalf("verified hello without a name: %v", w)
	}
	if err := th.hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "anon", RemoteAddr: "203.0.113.5:1001"}); err != nil {
		t.Fatal(err)
	}
	th.wantError("anon", `{"action":"hello","id":1}`, "invalid_name")
	th.wantError("anon", `{"action":"hello","id":2,"name":""}`, "invalid_name")
	if w := th.reply("anon", `{"action":"hello","id":3,"name":"Ada"}`); w["type"] != "welcome" || w["name"] != "Ada" || w["user"] != nil {
		t.Fatalf("hello with a name after the empty ones: %v", w)
	}
	if err := th.hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "more", RemoteAddr: "203.0.113.5:1002"}); err != nil {
		t.Fatal(err)
	}
	th.wantError("more", `{"action":"hello","id":1,"name":"Bob"}`, "too_many") // the one new session of the hour was Ada's
}
