// Package scenario is one client-level test suite that runs against every
// way of hosting chatfly — the standalone WebSocket server and the
// serverless stack (API Gateway, emulated, with Lambda handlers) — so that
// the two cannot drift apart. The scenarios talk to a host only through real
// WebSocket clients (chatfly/client), as users do.
//
// A host's test calls [Run] with a [Host] that starts a fresh deployment per
// scenario:
//
//	func TestScenarios(t *testing.T) { scenario.Run(t, myHost{}) }
package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
)

// Host starts chatfly deployments for the scenarios.
type Host interface {
	// Start starts a new deployment with empty storage, for t, whose Hubs
	// are configured with opts: the host may set Logger and Secret, and
	// must keep the other fields. It stops the deployment when t ends.
	Start(t *testing.T, opts *chatfly.Options) Deployment
}

// Deployment is a running host, as the scenarios see it.
type Deployment struct {
	// URL is the WebSocket URL clients dial (ws://127.0.0.1:PORT/...).
	URL string
	// Gateway reports the host's API Gateway behaviour, where the
	// protocol allows two: it cannot give clients a close code, and posts a
	// {"type":"close","code":...} frame before closing instead; and a
	// client frame over the Hub's MaxFrameBytes is answered with too_large
	// (API Gateway limits frames itself) where the standalone server closes
	// the connection with 1009; and a refused upgrade gets its HTTP status
	// only, without the {"code":...} body.
	Gateway bool
	// Hub is a Hub over the deployment's storage and transport, configured
	// like the host's, for the application's server-side calls (the admin
	// API): on the serverless stack it is another process's Hub, as an
	// application's backend would have.
	Hub *chatfly.Hub
}

// Options returns the Hub options of the scenarios: the built-in defaults
// plus what the scenarios need. Hosts get a fresh copy for every scenario.
func options() *chatfly.Options {
	return &chatfly.Options{
		Rooms: chatfly.DefaultRooms(),
		Games: games(),
		// Refuse connections that ask for it, and verify users that carry
		// a user header: the $connect / upgrade path of Identify.
		Identify: func(_ context.Context, r *chatfly.ConnectRequest) (*chatfly.Identity, error) {
			if r.Header.Get(banHeader) != "" || r.Query.Get("ban") != "" {
				return nil, chatfly.Errorf(chatfly.ErrRejected, "banned from this server")
			}
			if u := r.Header.Get(userHeader); u != "" {
				return &chatfly.Identity{UserID: u, Name: "User " + u}, nil
			}
			return nil, nil
		},
		// Rooms named members-* admit verified users only, the user
		// "boss" as a moderator.
		OnJoin: func(_ context.Context, r chatfly.JoinRequest) (chatfly.JoinDecision, error) {
			switch {
			case !strings.HasPrefix(r.Room.ID, "members-"):
				return chatfly.JoinDecision{}, nil
			case r.Session.UserID() == "":
				return chatfly.JoinDecision{}, chatfly.Errorf(chatfly.ErrForbidden, "members only")
			case r.Session.UserID() == "boss":
				return chatfly.JoinDecision{Role: chatfly.RoleModerator}, nil
			}
			return chatfly.JoinDecision{}, nil
		},
		Actions: map[string]chatfly.ActionFunc{
			"app.echo": func(_ context.Context, r chatfly.ActionRequest) (any, error) {
				return map[string]any{"from": r.Session.Name(), "data": r.Data}, nil
			},
		},
	}
}

const (
	banHeader  = "X-Scenario-Ban"
	userHeader = "X-Scenario-User"
)

// scenarios are the scenarios, by name.
var scenarios = []struct {
	name string
	run  func(e *env)
}{
	{"RoomChat", roomChat},
	{"FanOut", fanOut},
	{"HelloAndResume", helloAndResume},
	{"ConnectRejected", connectRejected},
	{"VerifiedUser", verifiedUser},
	{"CustomRoom", customRoom},
	{"Roulette", roulette},
	{"Game", game},
	{"BadInput", badInput},
	{"Replaced", replaced},
	{"DisconnectLeaves", disconnectLeaves},
	{"Integrator", integrator},
	{"Flood", flood},
}

// Run runs every scenario as a subtest of t, each on a new deployment of h.
// Scenarios run in parallel with each other.
func Run(t *testing.T, h Host) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			d := h.Start(t, options())
			sc.run(&env{t: t, d: d})
		})
	}
}

// env is one scenario's deployment and helpers.
type env struct {
	t *testing.T
	d Deployment
}

// Timeout bounds every wait of a scenario.
const Timeout = 20 * time.Second

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	e.t.Cleanup(cancel)
	return ctx
}

// dial connects a client named name; it is closed when the test ends.
func (e *env) dial(name string, opts *client.Options) *client.Client {
	e.t.Helper()
	c, err := e.tryDial(name, opts)
	if err != nil {
		e.t.Fatalf("dial %s: %v", name, err)
	}
	return c
}

func (e *env) tryDial(name string, opts *client.Options) (*client.Client, error) {
	if opts == nil {
		opts = &client.Options{}
	}
	if opts.Name == "" && opts.Token == "" && opts.HTTPHeader.Get(userHeader) == "" {
		opts.Name = name
	}
	c, err := client.Dial(e.ctx(), e.d.URL, opts)
	if err != nil {
		return nil, err
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return c, nil
}

// next returns c's next event of type typ, skipping others.
func (e *env) next(c *client.Client, typ string) client.Event {
	e.t.Helper()
	timeout := time.NewTimer(Timeout)
	defer timeout.Stop()
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				e.t.Fatalf("%s: connection ended waiting for %q: %v", c.Welcome().Name, typ, c.Err())
			}
			if ev.Type == typ {
				return ev
			}
		case <-timeout.C:
			e.t.Fatalf("%s: no %q event", c.Welcome().Name, typ)
		}
	}
}

// nextWhere returns c's next event of type typ for which ok holds.
func (e *env) nextWhere(c *client.Client, typ string, ok func(client.Event) bool) client.Event {
	e.t.Helper()
	for {
		if ev := e.next(c, typ); ok(ev) {
			return ev
		}
	}
}

// ended waits until c's connection has ended and returns why.
func (e *env) ended(c *client.Client) error {
	e.t.Helper()
	timeout := time.NewTimer(Timeout)
	defer timeout.Stop()
	for {
		select {
		case _, ok := <-c.Events():
			if !ok {
				return c.Err()
			}
		case <-timeout.C:
			e.t.Fatalf("%s: connection still open", c.Welcome().Name)
		}
	}
}

func (e *env) join(c *client.Client, room string) *client.Joined {
	e.t.Helper()
	j, err := c.Join(e.ctx(), room, 0)
	if err != nil {
		e.t.Fatalf("%s joining %s: %v", c.Welcome().Name, room, err)
	}
	return j
}

func (e *env) send(c *client.Client, room, text string) int64 {
	e.t.Helper()
	seq, err := c.Send(e.ctx(), room, text)
	if err != nil {
		e.t.Fatalf("%s sending to %s: %v", c.Welcome().Name, room, err)
	}
	return seq
}

// do sends an action and decodes its reply into out (if not nil).
func (e *env) do(c *client.Client, action string, fields any, out any) client.Event {
	e.t.Helper()
	ev, err := c.Do(e.ctx(), action, fields)
	if err != nil {
		e.t.Fatalf("%s %s: %v", c.Welcome().Name, action, err)
	}
	if out != nil {
		if err := json.Unmarshal(ev.Raw, out); err != nil {
			e.t.Fatalf("%s %s reply %s: %v", c.Welcome().Name, action, ev.Raw, err)
		}
	}
	return ev
}

func decode[T any](e *env, ev client.Event) T {
	e.t.Helper()
	var v T
	if err := json.Unmarshal(ev.Raw, &v); err != nil {
		e.t.Fatalf("decoding %s: %v", ev.Raw, err)
	}
	return v
}

// wantCode checks that err is a protocol error with code want.
func (e *env) wantCode(what string, err error, want *chatfly.Error) {
	e.t.Helper()
	if !errors.Is(err, want) {
		e.t.Fatalf("%s: got %v, want %s", what, err, want.Code)
	}
}

// header returns an http.Header with one field.
func header(k, v string) http.Header {
	h := make(http.Header)
	h.Set(k, v)
	return h
}
