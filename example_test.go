package chatfly_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

// printTransport prints a short line for every event it delivers. A real
// program uses transport/wstransport or the API Gateway transport.
type printTransport struct{}

func (printTransport) Send(_ context.Context, conn string, frame []byte) error {
	for _, line := range strings.Split(string(frame), "\n") {
		var ev struct {
			Type, Room, Name, Text, Event, Code string
			Seq                                 int64
			From, Member                        *chatfly.Member
		}
		_ = json.Unmarshal([]byte(line), &ev)
		switch ev.Type {
		case "welcome":
			fmt.Printf("%s <- welcome %s\n", conn, ev.Name)
		case "message":
			from := "system"
			if ev.From != nil {
				from = ev.From.Name
			}
			fmt.Printf("%s <- message #%d in %s from %s: %s\n", conn, ev.Seq, ev.Room, from, ev.Text)
		case "presence":
			fmt.Printf("%s <- %s %s %s\n", conn, ev.Member.Name, ev.Event, ev.Room)
		case "error":
			fmt.Printf("%s <- error %s\n", conn, ev.Code)
		default:
			fmt.Printf("%s <- %s\n", conn, ev.Type)
		}
	}
	return nil
}

func (printTransport) Close(context.Context, string, chatfly.CloseCode, string) error { return nil }

// A Hub over memory storage. The host adapter (here, the example itself)
// feeds it connections and frames; the Hub answers through the Transport.
func Example() {
	ctx := context.Background()
	hub := chatfly.New(memstore.New(nil), printTransport{}, &chatfly.Options{Rooms: chatfly.DefaultRooms()})

	for _, c := range []struct{ conn, name string }{{"c1", "Ada"}, {"c2", "Lin"}} {
		_ = hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: c.conn})
		_ = hub.Receive(ctx, c.conn, []byte(`{"action":"hello","name":"`+c.name+`"}`))
		_ = hub.Receive(ctx, c.conn, []byte(`{"action":"join","room":"lobby"}`))
	}
	_ = hub.Receive(ctx, "c1", []byte(`{"action":"send","room":"lobby","text":"hi Lin"}`))
	_ = hub.Receive(ctx, "c2", []byte(`{"action":"send","room":"nowhere","text":"?"}`))
	_ = hub.Disconnect(ctx, "c1")
	// Unordered output:
	// c1 <- welcome Ada
	// c1 <- joined
	// c2 <- welcome Lin
	// c1 <- Lin join lobby
	// c2 <- joined
	// c1 <- message #1 in lobby from Ada: hi Lin
	// c2 <- message #1 in lobby from Ada: hi Lin
	// c1 <- sent
	// c2 <- error not_member
	// c2 <- Ada leave lobby
}

// An application gives a document its own room and posts into it.
func ExampleHub_OpenRoom() {
	ctx := context.Background()
	hub := chatfly.New(memstore.New(nil), printTransport{}, &chatfly.Options{Rooms: chatfly.DefaultRooms()})

	room, err := hub.OpenRoom(ctx, chatfly.RoomConfig{ID: "doc-42", Topic: "Q3 plan"})
	if err != nil {
		panic(err)
	}
	_, _ = room.Post(ctx, chatfly.Member{}, "Ada shared the document")
	_, _ = room.Post(ctx, chatfly.Member{ID: "bot:summary", Name: "Summary bot"}, "3 comments so far")

	history, _ := room.History(ctx, 0, 10)
	for _, m := range history {
		fmt.Println(m.Seq, m.System, m.From.Name, m.Text)
	}
	// Output:
	// 1 true  Ada shared the document
	// 2 false Summary bot 3 comments so far
}

// welcomeKeeper prints like printTransport, also prints closes, and keeps
// the last welcome frame.
type welcomeKeeper struct {
	printTransport
	last struct{ Session, Token string }
}

func (t *welcomeKeeper) Send(ctx context.Context, conn string, frame []byte) error {
	if strings.Contains(string(frame), `"type":"welcome"`) {
		_ = json.Unmarshal(frame, &t.last)
	}
	return t.printTransport.Send(ctx, conn, frame)
}

func (t *welcomeKeeper) Close(_ context.Context, conn string, code chatfly.CloseCode, _ string) error {
	fmt.Printf("%s closed with %d\n", conn, code)
	return nil
}

// A leaked resume token is revoked: the live connection is closed, and the
// token no longer resumes the session, on any Hub sharing the Storage.
func ExampleHub_RevokeSession() {
	ctx := context.Background()
	tr := &welcomeKeeper{}
	hub := chatfly.New(memstore.New(nil), tr, &chatfly.Options{Rooms: chatfly.DefaultRooms()})

	_ = hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "c1"})
	_ = hub.Receive(ctx, "c1", []byte(`{"action":"hello","name":"Ada"}`))
	session, token := tr.last.Session, tr.last.Token

	if err := hub.RevokeSession(ctx, session); err != nil {
		panic(err)
	}
	_ = hub.Disconnect(ctx, "c1") // the host adapter reports the close

	_ = hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "c2"})
	_ = hub.Receive(ctx, "c2", []byte(`{"action":"hello","token":"`+token+`"}`))
	// Output:
	// c1 <- welcome Ada
	// c1 closed with 4003
	// c2 <- error invalid_token
}
