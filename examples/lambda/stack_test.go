package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/internal/storageflags"
)

func dial(t *testing.T, s *testStack, name string, opts *client.Options) *client.Client {
	t.Helper()
	if opts == nil {
		opts = &client.Options{Name: name}
	}
	c, err := client.Dial(ctxFor(t), s.url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func next(t *testing.T, c *client.Client, typ string, ok func(client.Event) bool) client.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, open := <-c.Events():
			if !open {
				t.Fatalf("connection ended waiting for %s: %v", typ, c.Err())
			}
			if ev.Type == typ && (ok == nil || ok(ev)) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}

// connOf returns the emulator's id of the connection whose upgrade carried
// header X-Who: who.
func connOf(t *testing.T, s *testStack, who string) string {
	t.Helper()
	for _, c := range s.emu.Connections() {
		if c.Header.Get("X-Who") == who {
			return c.ID
		}
	}
	t.Fatalf("no connection of %s", who)
	return ""
}

// A connection that API Gateway lost without $disconnect stays in its
// rooms and in the roulette queue until the first PostToConnection to it
// answers 410: the Hub then removes it everywhere, and the others see it
// leave.
func TestStaleConnectionCleanup(t *testing.T) {
	for _, st := range storages {
		t.Run(st.name, func(t *testing.T) {
			s := startStack(t, testConfig{store: st.open(t, nil)})
			ada := dial(t, s, "Ada", nil)
			lin := dial(t, s, "Lin", &client.Options{Name: "Lin", HTTPHeader: http.Header{"X-Who": {"lin"}}})
			bo := dial(t, s, "Bo", nil)
			for _, c := range []*client.Client{ada, lin, bo} {
				if _, err := c.Join(ctxFor(t), "lobby", 0); err != nil {
					t.Fatal(err)
				}
			}
			// Lin also waits in the roulette queue.
			if ev, err := lin.Do(ctxFor(t), "roulette.join", nil); err != nil || ev.Type != "roulette.waiting" {
				t.Fatalf("Lin roulette.join: %v %v", ev.Type, err)
			}
			if !s.emu.Drop(connOf(t, s, "lin")) {
				t.Fatal("Lin's connection was not open")
			}
			<-lin.Done()

			// The room still lists Lin: nobody told the Hub.
			rooms, _, err := bo.Rooms(ctxFor(t), "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if i := slices.IndexFunc(rooms, func(r chatfly.RoomInfo) bool { return r.ID == "lobby" }); rooms[i].Members != 3 {
				t.Fatalf("before the 410, lobby has %d members", rooms[i].Members)
			}
			// Ada's message is posted to Lin's connection too: 410.
			if _, err := ada.Send(ctxFor(t), "lobby", "anyone?"); err != nil {
				t.Fatal(err)
			}
			p := next(t, bo, "presence", func(ev client.Event) bool { return ev.Event == "leave" })
			if p.Member.Name != "Lin" || p.Members != 2 {
				t.Fatalf("Bo saw %+v", p)
			}
			// Lin is out of the roulette queue: Bo waits instead of being
			// paired with a ghost.
			if ev, err := bo.Do(ctxFor(t), "roulette.join", nil); err != nil || ev.Type != "roulette.waiting" {
				t.Fatalf("Bo roulette.join: %s %v, want waiting (Lin is gone)", ev.Raw, err)
			}
			// And Lin can come back with the token.
			again := dial(t, s, "Lin", &client.Options{Token: lin.Welcome().Token})
			j, err := again.Join(ctxFor(t), "lobby", 0)
			if err != nil || j.Room.Members != 3 {
				t.Fatalf("Lin rejoining: %+v %v", j, err)
			}
		})
	}
}

// A name in the query string is checked at $connect: an invalid one is
// refused before the upgrade (with 403 only: API Gateway does not pass the
// body, {"code":"invalid_name"}, that transport/apigw's tests check).
func TestConnectNameInQuery(t *testing.T) {
	s := startStack(t, testConfig{})
	_, err := client.Dial(ctxFor(t), s.url+"?name=%E2%80%AE", &client.Options{Name: "Ada"})
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 403 || len(he.Body) != 0 {
		t.Fatalf("dial with an invalid name in the query: %v", err)
	}
	c, err := client.Dial(ctxFor(t), s.url+"?name=Ada", &client.Options{Name: "Ada"})
	if err != nil {
		t.Fatalf("dial with a valid name in the query: %v", err)
	}
	_ = c.Close()
}

// The web app of -local is configured for the emulator's endpoint.
func TestLocalServesTheWebApp(t *testing.T) {
	s := startStack(t, testConfig{})
	res, err := http.Get(s.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if res.StatusCode != 200 || !strings.Contains(string(body), `<meta name="chatfly-ws" content="/test">`) {
		t.Fatalf("GET /: %d\n%s", res.StatusCode, body)
	}
}

// runLocal serves the stack on a listener until its context ends, and
// shuts down cleanly.
func TestRunLocal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runLocal(ctx, ln, localConfig{stage: "local", storage: &storageflags.Flags{}, log: quietLog()})
	}()
	c, err := client.Dial(ctxFor(t), "ws://"+ln.Addr().String()+"/local", &client.Options{Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join(ctxFor(t), "lobby", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctxFor(t), "lobby", "hi"); err != nil {
		t.Fatal(err)
	}
	next(t, c, "message", nil)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	_ = c.Close()
	if _, err := (&storageflags.Flags{Endpoint: "http://127.0.0.1:1"}).Open(context.Background()); err == nil {
		t.Fatal("-dynamodb-endpoint without -table was accepted")
	}
}

// The Lambda entry point refuses a misconfigured environment, and keeps
// trying on later events.
func TestLambdaEnvironment(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{"CHATFLY_FUNCTION": "chat"},
		{"CHATFLY_FUNCTION": "message"},
		{"CHATFLY_FUNCTION": "message", "CHATFLY_TABLE": "t"},
		{"CHATFLY_FUNCTION": "message", "CHATFLY_TABLE": "t", "CHATFLY_SECRET": "short"},
	} {
		if _, err := environmentHandler(context.Background(), func(k string) string { return env[k] }); err == nil {
			t.Errorf("environment %v accepted", env)
		}
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	good := map[string]string{"CHATFLY_FUNCTION": "connect", "CHATFLY_TABLE": "chat", "CHATFLY_SECRET": strings.Repeat("s", 32), "CHATFLY_ORIGINS": "https://app.example.com, *.example.org"}
	h, err := environmentHandler(context.Background(), func(k string) string { return good[k] })
	if err != nil {
		t.Fatal(err)
	}
	if fh, ok := h.(*functionHandler); !ok || fh.fn.name != "connect" {
		t.Fatalf("handler %#v", h)
	}
	// CHATFLY_ORIGINS: another site's page is refused before the Hub (and
	// DynamoDB) sees it.
	ev := events.APIGatewayWebsocketProxyRequest{
		Headers:        map[string]string{"Origin": "https://evil.example"},
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{EventType: "CONNECT", RouteKey: "$connect", ConnectionID: "c1", Stage: "prod"},
	}
	if resp, _ := h.Handle(context.Background(), ev); resp.StatusCode != 403 || !strings.Contains(resp.Body, `"forbidden"`) {
		t.Errorf("$connect from another origin: %d %s, want 403 forbidden", resp.StatusCode, resp.Body)
	}
	if h2, _ := environmentHandler(context.Background(), nil); h2 != h {
		t.Fatal("the environment's function was not reused")
	}
	envMu.Lock()
	envHandler = nil
	envMu.Unlock()
}

// Every function serves every route, and logs a route that is not its own.
func TestFunctionsCoverTheRoutes(t *testing.T) {
	seen := make(map[string]string)
	for _, fn := range functions {
		for _, rk := range fn.routes {
			if other, dup := seen[rk]; dup {
				t.Errorf("route %s belongs to %s and %s", rk, other, fn.name)
			}
			seen[rk] = fn.name
		}
	}
	for _, rk := range []string{"$connect", "$disconnect", "$default", "roulette.join", "roulette.next", "roulette.leave"} {
		if seen[rk] == "" {
			t.Errorf("no function serves %s", rk)
		}
	}
	// The roulette actions of the protocol all have their route.
	for _, action := range []string{"roulette.join", "roulette.next", "roulette.leave"} {
		if seen[action] != "roulette" {
			t.Errorf("%s is not routed to the roulette function", action)
		}
	}
}
