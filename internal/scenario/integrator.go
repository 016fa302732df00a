package scenario

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
)

// integrator: the application's side. OnJoin keeps an anonymous session out
// of a members' room and admits a verified user as moderator, who mutes and
// kicks; the server kicks and bans with moderation events, publishes an
// event that reaches members only, calls an application action, and
// disconnects a session with 4004.
func integrator(e *env) {
	ctx := e.ctx()
	room, err := e.d.Hub.OpenRoom(ctx, chatfly.RoomConfig{ID: "members-club", Topic: "members only"})
	if err != nil {
		e.t.Fatal(err)
	}
	anon := e.dial("Ada", nil)
	_, err = anon.Join(ctx, "members-club", 0)
	e.wantCode("an anonymous session joining", err, chatfly.ErrForbidden)
	boss := e.dial("", &client.Options{HTTPHeader: header(userHeader, "boss")})
	amy := e.dial("", &client.Options{HTTPHeader: header(userHeader, "amy")})
	bossID, amyID := boss.Welcome().Session, amy.Welcome().Session
	e.join(boss, "members-club")
	j := e.join(amy, "members-club")
	for _, m := range j.Members {
		if want := map[string]string{bossID: "moderator", amyID: ""}[m.ID]; m.Role != want {
			e.t.Fatalf("member %+v, want role %q", m, want)
		}
	}

	// The moderator mutes and kicks.
	e.do(boss, "room.mute", map[string]any{"room": "members-club", "member": amyID}, nil)
	_, err = amy.Send(ctx, "members-club", "hi")
	e.wantCode("a muted member sending", err, chatfly.ErrMuted)
	e.do(boss, "room.kick", map[string]any{"room": "members-club", "member": amyID, "reason": "noise"}, nil)
	kick := e.modEvent(amy, "kick")
	if kick.By == nil || kick.By.ID != bossID || kick.By.Role != "moderator" || kick.Target.ID != amyID || kick.Reason != "noise" {
		e.t.Fatalf("kick event %+v", kick)
	}
	_, err = amy.Send(ctx, "members-club", "hi")
	e.wantCode("a kicked member sending", err, chatfly.ErrNotMember)

	// The server kicks and bans: announced without "by".
	e.do(boss, "room.unmute", map[string]any{"room": "members-club", "member": amyID}, nil)
	e.join(amy, "members-club")
	if err := room.Kick(ctx, amyID, "server says"); err != nil {
		e.t.Fatal(err)
	}
	if ev := e.modEvent(amy, "kick"); ev.By != nil || ev.Target.ID != amyID {
		e.t.Fatalf("server kick event %+v", ev)
	}
	if m := e.nextWhere(boss, "message", func(ev client.Event) bool { return ev.System && strings.Contains(ev.Text, "was kicked") }); m.Text != "User amy was kicked: server says" {
		e.t.Fatalf("system message %q", m.Text)
	}
	e.join(amy, "members-club")
	if err := room.Ban(ctx, amyID, chatfly.BanOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.modEvent(amy, "ban")
	_, err = amy.Join(ctx, "members-club", 0)
	e.wantCode("a banned member joining", err, chatfly.ErrBanned)

	// Published events reach members, not others: anon's next custom event
	// is the one sent to it alone, after the publication.
	if err := room.Publish(ctx, "poll", map[string]int{"q": 1}); err != nil {
		e.t.Fatal(err)
	}
	if c, ok := e.next(boss, "custom").Custom(); !ok || c.Room != "members-club" || c.Event != "poll" || string(c.Data) != `{"q":1}` {
		e.t.Fatalf("boss got %+v", c)
	}
	if err := e.d.Hub.SendEvent(ctx, anon.Welcome().Session, "note", "for you"); err != nil {
		e.t.Fatal(err)
	}
	if c, _ := e.next(anon, "custom").Custom(); c.Event != "note" || c.Room != "" || string(c.Data) != `"for you"` {
		e.t.Fatalf("anon's first custom event %+v", c)
	}

	// An application action round-trips.
	data, err := boss.Call(ctx, "app.echo", map[string]int{"n": 1})
	if err != nil || string(data) != `{"data":{"n":1},"from":"User boss"}` {
		e.t.Fatalf("app.echo: %s, %v", data, err)
	}
	_, err = boss.Call(ctx, "app.nothing", nil)
	e.wantCode("an unknown application action", err, chatfly.ErrUnknownAction)

	// The server disconnects a session.
	if err := e.d.Hub.DisconnectSession(ctx, anon.Welcome().Session, 0, "bye"); err != nil {
		e.t.Fatal(err)
	}
	e.wantClose(anon, chatfly.CloseDisconnected)
	if err := e.d.Hub.DisconnectUser(ctx, "amy", 0, ""); err != nil {
		e.t.Fatal(err)
	}
	e.wantClose(amy, chatfly.CloseDisconnected)
}

// modEvent is a moderation event.
type modEvent struct {
	Action string          `json:"action"`
	By     *chatfly.Member `json:"by"`
	Target chatfly.Member  `json:"target"`
	Reason string          `json:"reason"`
}

// modEvent returns c's next moderation event of action.
func (e *env) modEvent(c *client.Client, action string) modEvent {
	e.t.Helper()
	for {
		if ev := decode[modEvent](e, e.next(c, "moderation")); ev.Action == action {
			return ev
		}
	}
}

// wantClose waits for c's connection to end with code: over API Gateway the
// code comes in a close frame first (see Deployment.Gateway).
func (e *env) wantClose(c *client.Client, code chatfly.CloseCode) {
	e.t.Helper()
	if e.d.Gateway {
		var cl struct {
			Code int `json:"code"`
		}
		if err := json.Unmarshal(e.next(c, "close").Raw, &cl); err != nil || cl.Code != int(code) {
			e.t.Fatalf("close frame code %d, want %d", cl.Code, code)
		}
		e.ended(c)
		return
	}
	var ce *client.CloseError
	if err := e.ended(c); !errors.As(err, &ce) || ce.Code != int(code) {
		e.t.Fatalf("connection ended with %v, want %d", err, code)
	}
}
