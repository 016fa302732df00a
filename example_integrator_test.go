package chatfly_test

import (
	"context"
	"fmt"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

// OnJoin lets signed-in users into a document's room, the document's
// editors as moderators, and keeps anonymous visitors out.
func ExampleOptions_onJoin() {
	ctx := context.Background()
	editors := map[string]bool{"u-7": true}
	hub := chatfly.New(memstore.New(nil), printTransport{}, &chatfly.Options{
		Identify: func(_ context.Context, r *chatfly.ConnectRequest) (*chatfly.Identity, error) {
			if id := r.Header.Get("X-User"); id != "" { // a real app reads its session cookie
				return &chatfly.Identity{UserID: id, Name: "Editor " + id}, nil
			}
			return nil, nil
		},
		OnJoin: func(_ context.Context, r chatfly.JoinRequest) (chatfly.JoinDecision, error) {
			switch {
			case r.Session.UserID() == "":
				return chatfly.JoinDecision{}, chatfly.Errorf(chatfly.ErrForbidden, "sign in to discuss "+r.Room.Name)
			case editors[r.Session.UserID()]:
				return chatfly.JoinDecision{Role: chatfly.RoleModerator}, nil
			}
			return chatfly.JoinDecision{}, nil
		},
	})
	_, _ = hub.OpenRoom(ctx, chatfly.RoomConfig{ID: "doc-42", Name: "Q3 plan"})

	_ = hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "anon"})
	_ = hub.Receive(ctx, "anon", []byte(`{"action":"hello","name":"Guest"}`))
	_ = hub.Receive(ctx, "anon", []byte(`{"action":"join","room":"doc-42"}`))

	_ = hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "ed", Header: map[string][]string{"X-User": {"u-7"}}})
	_ = hub.Receive(ctx, "ed", []byte(`{"action":"hello"}`))
	_ = hub.Receive(ctx, "ed", []byte(`{"action":"join","room":"doc-42"}`))

	room, _ := hub.Room(ctx, "doc-42")
	members, _ := room.Members(ctx)
	fmt.Println(members[0].Name, members[0].Role)
	// Output:
	// anon <- welcome Guest
	// anon <- error forbidden
	// ed <- welcome Editor u-7
	// ed <- joined
	// Editor u-7 moderator
}

// The application moderates a room and pushes its own events into it from
// the server: announced to the room like the moderators' actions.
func ExampleRoom_admin() {
	ctx := context.Background()
	hub := chatfly.New(memstore.New(nil), printOnly{conn: "c2"}, nil)
	room, _ := hub.OpenRoom(ctx, chatfly.RoomConfig{ID: "match-9"})
	for _, c := range []struct{ conn, name string }{{"c1", "Ada"}, {"c2", "Lin"}} {
		_ = hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: c.conn})
		_ = hub.Receive(ctx, c.conn, []byte(`{"action":"hello","name":"`+c.name+`"}`))
		_ = hub.Receive(ctx, c.conn, []byte(`{"action":"join","room":"match-9"}`))
	}
	fmt.Println("--")
	_ = room.Publish(ctx, "score", map[string]int{"home": 2, "away": 1})
	members, _ := room.Members(ctx)
	for _, m := range members {
		if m.Name == "Lin" {
			_ = room.Mute(ctx, m.ID, 10*time.Minute)
		}
	}
	info, _ := room.Update(ctx, chatfly.RoomUpdate{Name: "Final"})
	fmt.Println(info.Name)
	// Output:
	// c2 <- welcome Lin
	// c2 <- joined
	// --
	// c2 <- custom
	// c2 <- moderation
	// c2 <- message #1 in match-9 from system: Lin was muted for 10 minutes
	// c2 <- moderation
	// c2 <- message #2 in match-9 from system: The room was updated: renamed the room to Final
	// Final
}

// printOnly prints like printTransport the events of one connection.
type printOnly struct {
	printTransport
	conn string
}

func (t printOnly) Send(ctx context.Context, conn string, frame []byte) error {
	if conn != t.conn {
		return nil
	}
	return t.printTransport.Send(ctx, conn, frame)
}
