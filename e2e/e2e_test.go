// Package e2e_test runs the Hub, the WebSocket transport and the Go client
// together over real loopback sockets, as users run them.
package e2e_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/internal/redistest"
	"github.com/chatfly/chatfly/storage/dynamostore"
	"github.com/chatfly/chatfly/storage/dynamostore/dynamotest"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/storage/redisstore"
	"github.com/chatfly/chatfly/transport/wstransport"
)

func TestMain(m *testing.M) { redistest.MainStopping(m, dynamotest.Stop) }

// storeKind is a Storage that the chat scenarios run on.
type storeKind struct {
	name string
	make func(t *testing.T) chatfly.Storage // a new, empty Storage for t
	// emulated: every storage call is a request to an emulator (of
	// DynamoDB, or miniredis), far slower than memstore.
	emulated bool
}

// stores are the Storages of the chat scenarios: memstore; dynamostore on
// a fresh table of minidyn (in process, always) and of dynalite (skipped
// when it is not installed, unless CHATFLY_REQUIRE_DYNALITE=1; see package
// dynamotest); and redisstore on a fresh miniredis (in process, always) and
// under a fresh prefix on redis-server (skipped when it is not installed,
// unless CHATFLY_REQUIRE_REDIS=1; see internal/redistest).
var stores = []storeKind{
	{name: "memstore", make: func(*testing.T) chatfly.Storage { return memstore.New(nil) }},
	{name: "minidyn", make: func(t *testing.T) chatfly.Storage { return openDynamo(t, dynamotest.Minidyn(t)) }, emulated: true},
	{name: "dynalite", make: func(t *testing.T) chatfly.Storage { return openDynamo(t, dynamotest.Dynalite(t)) }, emulated: true},
	{name: "miniredis", make: func(t *testing.T) chatfly.Storage { return openRedis(t, redistest.MiniredisAddr(t)) }, emulated: true},
	{name: "redis-server", make: func(t *testing.T) chatfly.Storage { return openRedis(t, redistest.RedisServerAddr(t)) }},
}

func openRedis(t *testing.T, addr string) chatfly.Storage {
	t.Helper()
	s, err := redisstore.New(redistest.NewClient(t, addr), &redisstore.Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openDynamo(t *testing.T, client *dynamodb.Client) chatfly.Storage {
	t.Helper()
	s, err := dynamostore.Open(client, dynamotest.NewTable(t, client), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forEachStore runs f as a subtest of t per Storage, named after it.
func forEachStore(t *testing.T, f func(t *testing.T, st storeKind)) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { f(t, st) })
	}
}

type server struct {
	t   *testing.T
	url string
	hub *chatfly.Hub
	ws  *wstransport.Transport
	srv *httptest.Server
}

type serverConfig struct {
	hub    *chatfly.Options
	ws     *wstransport.Options
	store  chatfly.Storage // nil: a new memstore
	sndBuf int             // server socket send buffer, if > 0
}

// startServer runs a Hub on cfg.store behind wstransport on 127.0.0.1.
func startServer(t *testing.T, cfg serverConfig) *server {
	t.Helper()
	if cfg.hub == nil {
		cfg.hub = &chatfly.Options{}
	}
	if cfg.hub.Rooms == nil {
		cfg.hub.Rooms = chatfly.DefaultRooms()
	}
	if cfg.store == nil {
		cfg.store = memstore.New(nil)
	}
	ws := wstransport.New(cfg.ws)
	hub := chatfly.New(cfg.store, ws, cfg.hub)
	mux := http.NewServeMux()
	mux.Handle("/ws", ws.Handler(hub))
	srv := httptest.NewUnstartedServer(mux)
	if cfg.sndBuf > 0 {
		srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
			if tc, ok := c.(*net.TCPConn); ok && s == http.StateNew {
				_ = tc.SetWriteBuffer(cfg.sndBuf)
			}
		}
	}
	srv.Start()
	s := &server{t: t, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", hub: hub, ws: ws, srv: srv}
	t.Cleanup(s.stop)
	return s
}

func (s *server) stop() {
	// Shutdown returns once every connection's Disconnect has run; the
	// bound is generous because the storage's own cleanup runs next, and a
	// Disconnect still talking to an emulator being torn down (minidyn under
	// -race takes seconds for ten of them) fails or races inside it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = s.ws.Shutdown(ctx)
	s.srv.Close()
}

func (s *server) dial(name string, opts *client.Options) *client.Client {
	s.t.Helper()
	return dialURL(s.t, s.url, name, opts)
}

// dialURL connects a client named name (unless opts has a name or a token)
// to url; it is closed when t ends.
func dialURL(t *testing.T, url, name string, opts *client.Options) *client.Client {
	t.Helper()
	if opts == nil {
		opts = &client.Options{}
	}
	if opts.Name == "" && opts.Token == "" {
		opts.Name = name
	}
	c, err := client.Dial(ctx(t), url, opts)
	if err != nil {
		t.Fatalf("Dial %s to %s: %v", name, url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// next returns the next event of the given type, skipping others.
func next(t *testing.T, c *client.Client, typ string) client.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("connection ended waiting for %q: %v", typ, c.Err())
			}
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q event", typ)
		}
	}
}

func join(t *testing.T, c *client.Client, room string) *client.Joined {
	t.Helper()
	j, err := c.Join(ctx(t), room, 0)
	if err != nil {
		t.Fatalf("join %s: %v", room, err)
	}
	return j
}

func TestTwoClientsChatThirdGetsHistory(t *testing.T) {
	forEachStore(t, twoClientsChatThirdGetsHistory)
}

func twoClientsChatThirdGetsHistory(t *testing.T, st storeKind) {
	s := startServer(t, serverConfig{store: st.make(t)})
	ada, lin := s.dial("Ada", nil), s.dial("Lin", nil)
	join(t, ada, "lobby")
	j := join(t, lin, "lobby")
	if len(j.Members) != 2 {
		t.Fatalf("Lin sees members %v", j.Members)
	}
	if p := next(t, ada, "presence"); p.Event != "join" || p.Member.Name != "Lin" || p.Members != 2 {
		t.Fatalf("Ada's presence event: %+v", p)
	}
	if _, err := ada.Send(ctx(t), "lobby", "hi Lin"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, lin, "message"); m.Text != "hi Lin" || m.From.Name != "Ada" || m.Seq != 1 {
		t.Fatalf("Lin got %+v", m)
	}
	if _, err := lin.Send(ctx(t), "lobby", "hello Ada"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, ada, "message"); m.Text != "hi Lin" {
		t.Fatalf("Ada's own message came back as %+v", m)
	}
	if m := next(t, ada, "message"); m.Text != "hello Ada" || m.From.Name != "Lin" || m.Seq != 2 {
		t.Fatalf("Ada got %+v", m)
	}

	cy := s.dial("Cy", nil)
	j = join(t, cy, "lobby")
	var texts []string
	for _, m := range j.History {
		texts = append(texts, m.From.Name+": "+m.Text)
	}
	if strings.Join(texts, "|") != "Ada: hi Lin|Lin: hello Ada" {
		t.Fatalf("Cy's history: %v", texts)
	}

	if p := next(t, ada, "presence"); p.Event != "join" || p.Member.Name != "Cy" {
		t.Fatalf("Ada got %+v, want Cy's join", p)
	}
	_ = lin.Close()
	if p := next(t, ada, "presence"); p.Event != "leave" || p.Member.Name != "Lin" || p.Members != 2 {
		t.Fatalf("after Lin closed, Ada got %+v", p)
	}
}

// 20 clients each send 50 messages at once into one room (10 clients of 20
// messages on the DynamoDB emulators): every client receives every message
// exactly once, in seq order, with no gap.
func TestConcurrentSendersExactlyOnceInOrder(t *testing.T) {
	forEachStore(t, concurrentSendersExactlyOnceInOrder)
}

func concurrentSendersExactlyOnceInOrder(t *testing.T, st storeKind) {
	clients, each := 20, 50
	if st.emulated {
		// 10 clients of 20 messages on the DynamoDB emulators: the full
		// size takes about 90s on minidyn under the race detector (it
		// reads the whole table for every Query, so the test is
		// quadratic there) and 20s on dynalite. 10 concurrent senders
		// still contend for every sequence number.
		clients, each = 10, 20
	}
	// The burst is clients*each messages to each client (1000 on memstore
	// within a second or so under the race detector): queues are sized so
	// that this test is about order, not about slow consumers
	// (TestSlowConsumerIsDropped is).
	s := startServer(t, serverConfig{
		store: st.make(t),
		// A load test of ordering, not of deadlines: minidyn reads its whole
		// table per query, which under -race on a loaded machine takes longer
		// than the default 5 s per frame.
		hub: &chatfly.Options{RateLimit: chatfly.RateLimit{Count: -1}, StorageTimeout: time.Minute},
		ws:  &wstransport.Options{QueueSize: clients * each},
	})
	cs := make([]*client.Client, clients)
	for i := range cs {
		cs[i] = s.dial("user"+itoa(i), &client.Options{EventBuffer: 4096})
		join(t, cs[i], "lobby")
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, c := range cs {
		wg.Go(func() {
			for k := range each {
				if _, err := c.Send(ctx(t), "lobby", "m"+itoa(i)+"-"+itoa(k)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, c := range cs {
		var seqs []int64
		texts := map[string]int{}
		for len(seqs) < clients*each {
			m := next(t, c, "message")
			seqs = append(seqs, m.Seq)
			texts[m.Text]++
		}
		for k, seq := range seqs {
			if seq != int64(k+1) {
				t.Fatalf("client %d: message %d has seq %d, want %d (strictly increasing, gapless)", i, k, seq, k+1)
			}
		}
		if len(texts) != clients*each {
			t.Fatalf("client %d got %d distinct messages, want %d", i, len(texts), clients*each)
		}
	}
}

func TestNames(t *testing.T) { forEachStore(t, names) }

func names(t *testing.T, st storeKind) {
	s := startServer(t, serverConfig{store: st.make(t)})
	ada := s.dial("Ada", nil)
	join(t, ada, "lobby")
	other := s.dial("aDA", nil)
	if _, err := other.Join(ctx(t), "lobby", 0); !errors.Is(err, chatfly.ErrNameTaken) {
		t.Fatalf("joining as aDA next to Ada: %v, want name_taken", err)
	}
	for _, bad := range []string{" ", strings.Repeat("n", 33), "a\u202eb", "x\u200by"} {
		if _, err := client.Dial(ctx(t), s.url, &client.Options{Name: bad}); !errors.Is(err, chatfly.ErrInvalidName) {
			t.Fatalf("Dial with name %q: %v, want invalid_name", bad, err)
		}
	}
}

func TestResumeAfterReconnectAndForgedToken(t *testing.T) {
	forEachStore(t, resumeAfterReconnectAndForgedToken)
}

func resumeAfterReconnectAndForgedToken(t *testing.T, st storeKind) {
	s := startServer(t, serverConfig{store: st.make(t)})
	ada := s.dial("Ada", nil)
	w := ada.Welcome()
	join(t, ada, "lobby")
	if _, err := ada.Send(ctx(t), "lobby", "before the drop"); err != nil {
		t.Fatal(err)
	}
	_ = ada.Close()

	again := s.dial("", &client.Options{Token: w.Token})
	if w2 := again.Welcome(); w2.Session != w.Session || w2.Name != "Ada" {
		t.Fatalf("resumed as %+v, was %+v", w2, w)
	}
	j, err := again.Join(ctx(t), "lobby", 0)
	if err != nil || len(j.History) != 1 || j.History[0].From.ID != w.Session {
		t.Fatalf("rejoin: %+v, %v", j, err)
	}

	payload, sig, _ := strings.Cut(w.Token, ".")
	forged := payload + "x." + sig
	if _, err := client.Dial(ctx(t), s.url, &client.Options{Token: forged}); !errors.Is(err, chatfly.ErrInvalidToken) {
		t.Fatalf("forged token: %v, want invalid_token", err)
	}
}

// TestIdentifyHook runs on memstore only: it counts the items in storage.
func TestIdentifyHook(t *testing.T) {
	store := memstore.New(nil)
	s := startServer(t, serverConfig{store: store, hub: &chatfly.Options{
		Identify: func(_ context.Context, r *chatfly.ConnectRequest) (*chatfly.Identity, error) {
			c, err := (&http.Request{Header: r.Header}).Cookie("session")
			switch {
			case err != nil:
				return nil, nil
			case c.Value == "vera-secret":
				return &chatfly.Identity{UserID: "u-1", Name: "Vera (verified)"}, nil
			}
			return nil, errors.New("session cookie is not valid")
		},
	}})
	vera := s.dial("", &client.Options{Name: "Pretender", HTTPHeader: http.Header{"Cookie": {"session=vera-secret"}}})
	if w := vera.Welcome(); w.Name != "Vera (verified)" || w.User != "u-1" {
		t.Fatalf("verified welcome: %+v", w)
	}
	before := store.Len()
	_, err := client.Dial(ctx(t), s.url, &client.Options{Name: "Mallory", HTTPHeader: http.Header{"Cookie": {"session=forged"}}})
	if !errors.Is(err, chatfly.ErrRejected) {
		t.Fatalf("rejected connect: %v, want rejected", err)
	}
	if after := store.Len(); after != before {
		t.Fatalf("a rejected connection changed storage: %d items -> %d", before, after)
	}
	if s.ws.Len() != 1 {
		t.Fatalf("open connections: %d, want only Vera's", s.ws.Len())
	}
}

func TestMessageHook(t *testing.T) { forEachStore(t, messageHook) }

func messageHook(t *testing.T, st storeKind) {
	s := startServer(t, serverConfig{store: st.make(t), hub: &chatfly.Options{
		OnMessage: func(_ context.Context, _ chatfly.Session, m *chatfly.Message) error {
			if strings.Contains(strings.ToLower(m.Text), "casino") {
				return errors.New("links to casinos are not allowed")
			}
			return nil
		},
	}})
	ada, lin := s.dial("Ada", nil), s.dial("Lin", nil)
	join(t, ada, "lobby")
	join(t, lin, "lobby")
	_, err := ada.Send(ctx(t), "lobby", "best CASINO here")
	var ce *chatfly.Error
	if !errors.As(err, &ce) || ce.Code != "rejected" || ce.Message != "rejected" { // the hook's text is logged, not sent
		t.Fatalf("rejected send: %v", err)
	}
	if _, err := ada.Send(ctx(t), "lobby", "fine message"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, lin, "message"); m.Text != "fine message" || m.Seq != 1 {
		t.Fatalf("Lin's first message is %+v: the rejected one must not be delivered or take a seq", m)
	}
	msgs, _, err := lin.History(ctx(t), "lobby", 0, 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("history %v, %v: the rejected message must not be stored", msgs, err)
	}
}

// Bad input gets an error frame with a stable code and the connection stays
// usable; a frame over the read limit closes it with 1009.
func TestBadInputKeepsConnection(t *testing.T) { forEachStore(t, badInputKeepsConnection) }

func badInputKeepsConnection(t *testing.T, st storeKind) {
	s := startServer(t, serverConfig{store: st.make(t), hub: &chatfly.Options{
		MaxTextRunes: 100,
		RateLimit:    chatfly.RateLimit{Count: 30, Window: time.Minute},
	}})
	c := s.dial("Ada", nil)
	join(t, c, "lobby")
	cases := []struct{ frame, code string }{
		{`{"action":"send","room":"lobby","text":`, "bad_json"},
		{`{"action":"levitate"}`, "unknown_action"},
		{`{"action":"send","room":"lobby"}`, "bad_request"},
		{`{"action":"join"}`, "bad_request"},
		{`{"action":"send","room":"lobby","text":"` + strings.Repeat("é", 101) + `"}`, "too_long"},
	}
	for _, tc := range cases {
		if err := c.SendRaw(ctx(t), []byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		if ev := next(t, c, "error"); ev.Err() == nil || chatfly.CodeOf(ev.Err()) != tc.code {
			t.Fatalf("%s: got %s, want %s", tc.frame, ev.Raw, tc.code)
		}
	}
	// Flood: the first frame past the limit is refused with rate_limited;
	// the next ones are dropped unanswered (see abuse_flood_test.go).
	limited := false
	for i := 0; i < 40 && !limited; i++ {
		_, err := c.Send(ctx(t), "lobby", "flood")
		if limited = errors.Is(err, chatfly.ErrRateLimited); err != nil && !limited {
			t.Fatal(err)
		}
	}
	if !limited {
		t.Fatal("40 sends past a limit of 30 per minute were all accepted")
	}

	// Oversized frame: closed with 1009 and a reason.
	big := s.dial("Big", nil)
	if err := big.SendRaw(ctx(t), []byte(`{"action":"ping","pad":"`+strings.Repeat("x", chatfly.DefaultMaxFrameBytes)+`"}`)); err != nil {
		t.Fatal(err)
	}
	<-big.Done()
	var closeErr *client.CloseError
	if !errors.As(big.Err(), &closeErr) || closeErr.Code != 1009 || closeErr.Reason == "" {
		t.Fatalf("oversized frame: %v, want close 1009 with a reason", big.Err())
	}
	// The server is still up for everyone else.
	if _, _, err := s.dial("After", nil).Rooms(ctx(t), "", 0); err != nil {
		t.Fatal(err)
	}
}

// A client that stops reading is disconnected once its queue is full, and
// the others keep receiving every message meanwhile.
func TestSlowConsumerIsDropped(t *testing.T) {
	s := startServer(t, serverConfig{
		hub:    &chatfly.Options{RateLimit: chatfly.RateLimit{Count: -1}, MaxTextRunes: 2000},
		ws:     &wstransport.Options{QueueSize: 8},
		sndBuf: 4096,
	})
	smallDialer := &net.Dialer{}
	slowHTTP := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := smallDialer.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}}
	slow := s.dial("Slow", &client.Options{EventBuffer: 1, HTTPClient: slowHTTP})
	fast := s.dial("Fast", nil)
	sender := s.dial("Sender", nil)
	for _, c := range []*client.Client{slow, fast, sender} {
		join(t, c, "lobby")
	}
	text := strings.Repeat("z", 1500)
	got := 0
	sent := 0
	for ; sent < 5000; sent++ {
		if _, err := sender.Send(ctx(t), "lobby", text); err != nil {
			t.Fatal(err)
		}
		for ; got <= sent; got++ {
			if m := next(t, fast, "message"); m.Seq != int64(got+1) {
				t.Fatalf("fast client got seq %d, want %d", m.Seq, got+1)
			}
		}
		if members, _ := roomMembers(s, "lobby"); len(members) == 2 {
			break // the slow client was dropped
		}
	}
	if sent == 5000 {
		t.Fatal("the slow client was never dropped")
	}
	t.Logf("slow client dropped after %d messages", sent+1)
	// Drain what reached the slow client before the close.
	for range slow.Events() {
	}
	var closeErr *client.CloseError
	if !errors.As(slow.Err(), &closeErr) || closeErr.Code != int(chatfly.CloseSlowConsumer) {
		t.Fatalf("slow client ended with %v, want close 4000", slow.Err())
	}
}

func roomMembers(s *server, room string) ([]chatfly.Member, error) {
	r, err := s.hub.Room(context.Background(), room)
	if err != nil {
		return nil, err
	}
	return r.Members(context.Background())
}

// Shutdown closes clients with 1001; a new process with the same secret
// accepts their resume tokens, whether it starts on new storage (memory
// storage after a restart) or on the storage of the old one (a shared
// DynamoDB table, where the room's history is still there).
func TestShutdownAndResumeOnNewServer(t *testing.T) {
	forEachStore(t, func(t *testing.T, st storeKind) {
		t.Run("NewStorage", func(t *testing.T) { shutdownAndResumeOnNewServer(t, st, false) })
		t.Run("SameStorage", func(t *testing.T) { shutdownAndResumeOnNewServer(t, st, true) })
	})
}

func shutdownAndResumeOnNewServer(t *testing.T, st storeKind, sameStorage bool) {
	secret := []byte("shared secret for this test only")
	store := st.make(t)
	s := startServer(t, serverConfig{store: store, hub: &chatfly.Options{Secret: secret}})
	ada := s.dial("Ada", nil)
	w := ada.Welcome()
	join(t, ada, "lobby")
	if _, err := ada.Send(ctx(t), "lobby", "before the restart"); err != nil {
		t.Fatal(err)
	}
	s.stop()
	<-ada.Done()
	var closeErr *client.CloseError
	if !errors.As(ada.Err(), &closeErr) || closeErr.Code != int(chatfly.CloseGoingAway) {
		t.Fatalf("after shutdown: %v, want close 1001", ada.Err())
	}
	history := 1
	if !sameStorage {
		store, history = st.make(t), 0
	}
	s2 := startServer(t, serverConfig{store: store, hub: &chatfly.Options{Secret: secret}})
	again := s2.dial("", &client.Options{Token: w.Token})
	if again.Welcome().Session != w.Session {
		t.Fatalf("resumed session %q, want %q", again.Welcome().Session, w.Session)
	}
	if j := join(t, again, "lobby"); len(j.History) != history {
		t.Fatalf("history after the restart: %+v, want %d message(s)", j.History, history)
	}
	if _, err := again.Send(ctx(t), "lobby", "back"); err != nil {
		t.Fatal(err)
	}
}

func TestRoomsListsOccupancy(t *testing.T) { forEachStore(t, roomsListsOccupancy) }

func roomsListsOccupancy(t *testing.T, st storeKind) {
	s := startServer(t, serverConfig{store: st.make(t)})
	a, b := s.dial("A", nil), s.dial("B", nil)
	join(t, a, "lobby")
	join(t, b, "lobby")
	join(t, b, "games")
	rooms, _, err := a.Rooms(ctx(t), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	var ids []string
	for _, r := range rooms {
		got[r.ID] = r.Members
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"lobby", "games", "random"}) || got["lobby"] != 2 || got["games"] != 1 || got["random"] != 0 {
		t.Fatalf("rooms: %+v", rooms)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
