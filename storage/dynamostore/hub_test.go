package dynamostore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/dynamostore"
)

// recorder is a Transport that keeps the frames sent to each connection.
type recorder struct {
	mu     sync.Mutex
	frames map[string][]string
}

func (r *recorder) Send(_ context.Context, conn string, frame []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frames == nil {
		r.frames = make(map[string][]string)
	}
	r.frames[conn] = append(r.frames[conn], string(frame))
	return nil
}

func (r *recorder) Close(context.Context, string, chatfly.CloseCode, string) error { return nil }

// received returns the frames sent to conn that contain s.
func (r *recorder) received(conn, s string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, f := range r.frames[conn] {
		if strings.Contains(f, s) {
			out = append(out, f)
		}
	}
	return out
}

// TestHubChat runs a chat on a Hub over the Store: members of a room get
// each other's messages, and a newcomer gets the history. Sending a message
// never Scans, and its DynamoDB calls depend on the room's members only,
// not on how many other connections the table holds.
func TestHubChat(t *testing.T) {
	forEachBackend(t, func(t *testing.T, endpoint string) {
		calls := new(callCounter)
		client := newClient(t, endpoint, calls.middleware)
		store, err := dynamostore.Open(client, newTable(t, client), nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := new(recorder)
		hub := chatfly.New(store, tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), RateLimit: chatfly.RateLimit{Count: -1}})
		ctx := t.Context()
		receive := func(conn, frame string) {
			t.Helper()
			if err := hub.Receive(ctx, conn, []byte(frame)); err != nil {
				t.Fatalf("Receive(%s, %s): %v", conn, frame, err)
			}
		}
		enter := func(conn, name, room string) {
			t.Helper()
			if err := hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: conn}); err != nil {
				t.Fatal(err)
			}
			receive(conn, `{"action":"hello","id":1,"name":"`+name+`"}`)
			receive(conn, `{"action":"join","id":2,"room":"`+room+`"}`)
		}
		bystanders := 0
		addBystanders := func(n int) {
			for range n {
				bystanders++
				enter(fmt.Sprintf("by%d", bystanders), fmt.Sprintf("By%d", bystanders), "random")
			}
		}
		send := func(conn, text string) string {
			t.Helper()
			return calls.calls(t, func() error {
				return hub.Receive(ctx, conn, []byte(`{"action":"send","id":3,"room":"lobby","text":"`+text+`"}`))
			})
		}

		enter("a", "Ada", "lobby")
		enter("b", "Bob", "lobby")
		addBystanders(5)
		first := send("a", "hello")
		if got := tr.received("b", `"text":"hello"`); len(got) != 1 {
			t.Fatalf("b got %q", tr.frames["b"])
		}
		addBystanders(25)
		if again := send("b", "hi"); again != first {
			t.Errorf("calls to send a message: %s with 5 other connections, %s with 30", first, again)
		}
		if got := tr.received("a", `"text":"hi"`); len(got) != 1 {
			t.Fatalf("a got %q", tr.frames["a"])
		}
		if strings.Contains(first, "Scan") {
			t.Errorf("sending a message: %s", first)
		}
		t.Logf("calls to send a message to a room of 2: %s", first)

		// A newcomer gets the history.
		enter("c", "Cy", "lobby")
		joined := tr.received("c", `"type":"joined"`)
		if len(joined) != 1 || !strings.Contains(joined[0], `"text":"hello"`) || !strings.Contains(joined[0], `"text":"hi"`) {
			t.Fatalf("c's join: %q", tr.frames["c"])
		}
		if n := calls.get("Scan"); n != 0 {
			t.Errorf("%d Scans", n)
		}
		if err := hub.Disconnect(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	})
}
