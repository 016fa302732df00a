package budget

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/storagetest"
)

// Budget is the storage budget of one protocol action, in sequential
// rounds (see [Store]) until the reply.
type Budget struct {
	// Action names the row: the protocol action and where it is done.
	Action string
	// Handler is the most rounds the action may take after the frame's
	// prelude (the rounds a ping takes).
	Handler int
	// Lambda is the most rounds of the whole frame handled by
	// Hub.Receive (the Lambda host's path), prelude included; 0: no
	// budget of its own.
	Lambda int
	// Standalone is the most rounds of the whole frame handled by a
	// chatfly.Conn (the standalone host's path); 0: not measured.
	Standalone int
}

// Budgets are issue 15's budgets per action. Send is ≤ 3 rounds on the
// standalone host and ≤ 4 on the Lambda host (whose prelude costs one),
// join ≤ 5, typing ≤ 2; the others are kept where they are.
var Budgets = []Budget{
	{Action: "send", Handler: 3, Lambda: 4, Standalone: 3},
	{Action: "send in a custom room", Handler: 3, Lambda: 4},
	{Action: "join", Handler: 3, Lambda: 5, Standalone: 5},
	{Action: "join a custom room", Handler: 3, Lambda: 5},
	{Action: "join again", Handler: 2, Lambda: 5},
	{Action: "typing", Handler: 1, Lambda: 2, Standalone: 2},
	{Action: "history", Handler: 1},
	{Action: "leave", Handler: 3},
}

// transport keeps the last frame sent to each connection, and when it
// was sent.
type transport struct {
	mu   sync.Mutex
	last map[string][]byte
	at   map[string]time.Time
}

func (tr *transport) Send(_ context.Context, conn string, frame []byte) error {
	tr.mu.Lock()
	tr.last[conn], tr.at[conn] = frame, time.Now()
	tr.mu.Unlock()
	return nil
}

func (tr *transport) Close(context.Context, string, chatfly.CloseCode, string) error { return nil }

// Delay is the latency Check adds to every storage call, long enough for
// the Hub's parallel calls to overlap on a loaded machine.
const Delay = 10 * time.Millisecond

// run is one Check: a Hub over a measured Storage.
type run struct {
	t     *testing.T
	hub   *chatfly.Hub
	st    chatfly.Storage
	tr    *transport
	clock *storagetest.FakeClock
	conns map[string]*chatfly.Conn // connections opened as the standalone host does
}

// do handles frame from conn, checks that the reply (the last frame sent
// to conn) has type want, and returns the frame's cost.
func (r *run) do(conn, frame, want string) Cost {
	r.t.Helper()
	take(r.st, time.Time{})
	receive := func() error { return r.hub.Receive(r.t.Context(), conn, []byte(frame)) }
	if cn := r.conns[conn]; cn != nil {
		receive = func() error { return cn.Receive(r.t.Context(), []byte(frame)) }
	}
	if err := receive(); err != nil {
		r.t.Fatalf("Receive(%s): %v", frame, err)
	}
	r.tr.mu.Lock()
	last, at := r.tr.last[conn], r.tr.at[conn]
	r.tr.mu.Unlock()
	c := take(r.st, at)
	var reply struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(last, &reply); err != nil || reply.Type != want {
		r.t.Fatalf("%s: the reply is %s, want a %q", frame, last, want)
	}
	return c
}

// enter connects conn as the Lambda host does (Hub.Connect, then frames by
// id) and says hello.
func (r *run) enter(conn, name string) {
	r.t.Helper()
	if err := r.hub.Connect(r.t.Context(), r.request(conn)); err != nil {
		r.t.Fatal(err)
	}
	r.do(conn, `{"action":"hello","id":1,"name":"`+name+`"}`, "welcome")
}

// open connects conn as the standalone host does (a Conn) and says hello.
func (r *run) open(conn, name string) {
	r.t.Helper()
	cn, err := r.hub.Open(r.t.Context(), r.request(conn))
	if err != nil {
		r.t.Fatal(err)
	}
	r.conns[conn] = cn
	r.do(conn, `{"action":"hello","id":1,"name":"`+name+`"}`, "welcome")
}

func (r *run) request(conn string) *chatfly.ConnectRequest {
	return &chatfly.ConnectRequest{ConnID: conn, RemoteAddr: "192.0.2.1:1000"}
}

// Check measures each action of [Budgets] through a Hub over newStore's
// Storage (given the Hub's clock, for the Storage's expiry) and fails t
// where one takes more rounds than its budget. It logs every cost.
func Check(t *testing.T, newStore func(now func() time.Time) chatfly.Storage) {
	ck := storagetest.NewFakeClock(time.Now().Truncate(time.Second))
	st := Wrap(newStore(ck.Now), Delay)
	tr := &transport{last: map[string][]byte{}, at: map[string]time.Time{}}
	r := &run{t: t, st: st, tr: tr, clock: ck, conns: map[string]*chatfly.Conn{},
		hub: chatfly.New(st, tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Now: ck.Now})}
	r.enter("a", "Ada")
	r.enter("b", "Bob")
	r.enter("c", "Cy")
	for _, conn := range []string{"a", "b"} {
		r.do(conn, `{"action":"join","id":2,"room":"lobby"}`, "joined")
	}
	r.do("a", `{"action":"send","id":3,"room":"lobby","text":"hi"}`, "sent")

	prelude := r.do("a", `{"action":"ping","id":4}`, "pong")
	t.Logf("prelude (ping): %v", prelude)
	costs := map[string]Cost{}
	costs["send"] = r.do("a", `{"action":"send","id":5,"room":"lobby","text":"hello"}`, "sent")
	costs["join"] = r.do("c", `{"action":"join","id":6,"room":"lobby"}`, "joined")
	costs["join again"] = r.do("c", `{"action":"join","id":7,"room":"lobby"}`, "joined")
	costs["typing"] = r.do("a", `{"action":"typing","id":8,"room":"lobby"}`, "ok")
	costs["history"] = r.do("a", `{"action":"history","id":9,"room":"lobby"}`, "history")
	costs["leave"] = r.do("c", `{"action":"leave","id":10,"room":"lobby"}`, "left")

	// A public custom room: its first message is noted in the room (the
	// directory shows it at once), the next ones are not.
	r.do("a", `{"action":"room.create","id":11,"name":"club","visibility":"public"}`, "room.created")
	var created struct {
		Room struct {
			ID string `json:"id"`
		} `json:"room"`
	}
	if err := json.Unmarshal(tr.last["a"], &created); err != nil {
		t.Fatal(err)
	}
	club := created.Room.ID
	r.do("a", `{"action":"join","id":12,"room":"`+club+`"}`, "joined")
	costs["join a custom room"] = r.do("b", `{"action":"join","id":13,"room":"`+club+`"}`, "joined")
	t.Logf("the first message of a custom room: %v", r.do("a", `{"action":"send","id":14,"room":"`+club+`","text":"first"}`, "sent"))
	t.Logf("the first message of its second writer: %v", r.do("b", `{"action":"send","id":15,"room":"`+club+`","text":"second"}`, "sent"))
	var worst Cost
	calls := 0
	const sends = 32
	for i := range sends {
		ck.Advance(250 * time.Millisecond)
		c := r.do("a", `{"action":"send","id":16,"room":"`+club+`","text":"n`+strconv.Itoa(i)+`"}`, "sent")
		calls += c.Calls - prelude.Calls
		if c.Replied >= worst.Replied {
			worst = c
		}
	}
	costs["send in a custom room"] = worst
	perSend := float64(calls) / sends
	t.Logf("%d more sends in the custom room: %.2f calls each after the prelude", sends, perSend)
	if perSend > 3.25 {
		t.Errorf("sends in a custom room: %.2f calls each after the prelude, want at most 3.25 (notes and prunes amortised)", perSend)
	}

	// The standalone host: frames through a Conn.
	r.open("s", "Sam")
	r.open("u", "Una")
	r.do("s", `{"action":"join","id":2,"room":"lobby"}`, "joined")
	standalone := map[string]Cost{
		"send":   r.do("s", `{"action":"send","id":3,"room":"lobby","text":"hi"}`, "sent"),
		"join":   r.do("u", `{"action":"join","id":4,"room":"lobby"}`, "joined"),
		"typing": r.do("s", `{"action":"typing","id":5,"room":"lobby"}`, "ok"),
	}

	r.checkPresence(prelude, costs["leave"])
	for _, b := range Budgets {
		c, ok := costs[b.Action]
		if !ok {
			t.Errorf("%s: not measured", b.Action)
			continue
		}
		handler := c.Replied - prelude.Replied
		t.Logf("%-22s %v; after the prelude %d (budget %d, on Lambda %d)", b.Action, c, handler, b.Handler, b.Lambda)
		if handler > b.Handler {
			t.Errorf("%s: %d rounds to the reply after the prelude, budget %d (%v)", b.Action, handler, b.Handler, c)
		}
		if b.Lambda > 0 && c.Replied > b.Lambda {
			t.Errorf("%s: %d rounds to the reply through Hub.Receive, budget %d (%v)", b.Action, c.Replied, b.Lambda, c)
		}
		if b.Standalone > 0 {
			c := standalone[b.Action]
			t.Logf("%-22s standalone: %v (budget %d)", b.Action, c, b.Standalone)
			if c.Replied > b.Standalone {
				t.Errorf("%s: %d rounds to the reply through a Conn, budget %d (%v)", b.Action, c.Replied, b.Standalone, c)
			}
		}
	}
}
