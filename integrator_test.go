package chatfly_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

// Without Options.Rooms a Hub has no default rooms: nothing is listed and
// "lobby" is an unknown room; DefaultRooms gives the three of the app.
func TestNoDefaultRoomsUnlessGiven(t *testing.T) {
	for _, rooms := range [][]chatfly.RoomConfig{nil, chatfly.DefaultRooms()} {
		tr := newRecTransport()
		hub := chatfly.New(memstore.New(nil), tr, &chatfly.Options{Rooms: rooms})
		th := &testHub{t: t, hub: hub, tr: tr}
		conn, _ := th.hello("Ada")
		list := th.reply(conn, `{"action":"rooms","id":1}`)["rooms"].([]any)
		if rooms == nil {
			require.Empty(t, list)
			th.wantError(conn, `{"action":"join","id":2,"room":"lobby"}`, "not_found")
			continue
		}
		require.Len(t, list, 3)
		require.Equal(t, "lobby", th.join(conn, "lobby")["room"].(map[string]any)["id"])
	}
}

// integratorHub is a test Hub whose Identify verifies the user named by the
// X-User header, with opts on top.
func integratorHub(t *testing.T, opts *chatfly.Options) *testHub {
	if opts == nil {
		opts = &chatfly.Options{}
	}
	opts.Identify = func(_ context.Context, r *chatfly.ConnectRequest) (*chatfly.Identity, error) {
		if u := r.Header.Get("X-User"); u != "" {
			return &chatfly.Identity{UserID: u, Name: "User " + u}, nil
		}
		return nil, nil
	}
	return newTestHub(t, opts)
}

// user connects the verified user u and says hello.
func (th *testHub) user(u string) (conn, sid string) {
	th.t.Helper()
	th.next++
	conn = "u" + strconv.Itoa(th.next)
	require.NoError(th.t, th.hub.Connect(context.Background(), &chatfly.ConnectRequest{ConnID: conn, Header: http.Header{"X-User": {u}}}))
	w := th.reply(conn, `{"action":"hello","id":1}`)
	require.Equal(th.t, "welcome", w["type"])
	return conn, w["session"].(string)
}

// roleOf returns the role of session sid in a joined frame's members.
func roleOf(joined map[string]any, sid string) string {
	for _, m := range joined["members"].([]any) {
		if m := m.(map[string]any); m["id"] == sid {
			r, _ := m["role"].(string)
			return r
		}
	}
	return "absent"
}

// OnJoin refuses anonymous sessions, admits a verified user as moderator,
// and a hook error that is not an *Error reaches the client as a bare
// forbidden. The moderator's role lets them kick and mute.
func TestOnJoinRolesAndRefusals(t *testing.T) {
	var asked []chatfly.JoinRequest
	th := integratorHub(t, &chatfly.Options{OnJoin: func(_ context.Context, r chatfly.JoinRequest) (chatfly.JoinDecision, error) {
		asked = append(asked, r)
		switch r.Session.UserID() {
		case "":
			return chatfly.JoinDecision{}, chatfly.Errorf(chatfly.ErrForbidden, "sign in to join")
		case "boss":
			return chatfly.JoinDecision{Role: chatfly.RoleModerator}, nil
		case "leak":
			return chatfly.JoinDecision{}, errors.New("db password hunter2")
		}
		return chatfly.JoinDecision{Role: chatfly.RoleMember}, nil
	}})
	ctx := context.Background()
	_, err := th.hub.OpenRoom(ctx, chatfly.RoomConfig{ID: "doc-1", Topic: "plan"})
	require.NoError(t, err)

	anon, _ := th.hello("Ada")
	r := th.reply(anon, `{"action":"join","id":2,"room":"doc-1"}`)
	require.Equal(t, map[string]any{"type": "error", "id": 2.0, "code": "forbidden", "message": "sign in to join"}, r)
	require.Equal(t, "doc-1", asked[0].Room.ID)
	require.Equal(t, "plan", asked[0].Room.Topic)
	th.wantError(anon, `{"action":"join","id":2,"room":"lobby"}`, "forbidden") // every kind of room

	leak, _ := th.user("leak")
	r = th.reply(leak, `{"action":"join","id":2,"room":"doc-1"}`)
	require.Equal(t, "forbidden", r["code"])
	require.NotContains(t, r["message"], "hunter2")

	boss, bossID := th.user("boss")
	amy, amyID := th.user("amy")
	require.Equal(t, "moderator", roleOf(th.join(boss, "doc-1"), bossID))
	joined := th.join(amy, "doc-1")
	require.Equal(t, "moderator", roleOf(joined, bossID))
	require.Equal(t, "", roleOf(joined, amyID))
	th.tr.take(boss)

	th.wantError(amy, `{"action":"room.mute","id":3,"room":"doc-1","member":"`+bossID+`"}`, "forbidden")
	require.Equal(t, "ok", th.reply(boss, `{"action":"room.mute","id":3,"room":"doc-1","member":"`+amyID+`","duration":60}`)["type"])
	th.wantError(amy, `{"action":"send","id":4,"room":"doc-1","text":"hi"}`, "muted")
	require.Equal(t, "ok", th.reply(boss, `{"action":"room.kick","id":5,"room":"doc-1","member":"`+amyID+`","reason":"spam"}`)["type"])
	ev := ofType(th.tr.take(amy), "moderation")
	require.Len(t, ev, 1)
	require.Equal(t, "kick", ev[0]["action"])
	require.Equal(t, map[string]any{"id": bossID, "name": "User boss", "role": "moderator"}, ev[0]["by"])
	th.wantError(amy, `{"action":"send","id":4,"room":"doc-1","text":"hi"}`, "not_member")
	// The role lasts as long as the membership.
	require.Equal(t, "left", th.reply(boss, `{"action":"leave","id":6,"room":"doc-1"}`)["type"])
	th.join(amy, "doc-1")
	th.wantError(boss, `{"action":"room.kick","id":7,"room":"doc-1","member":"`+amyID+`"}`, "forbidden")
}

// RoomConfig.Owners and Moderators give roles by user id or session id in
// an application room, and the room.* actions work there.
func TestApplicationRoomRoles(t *testing.T) {
	th := integratorHub(t, nil)
	ctx := context.Background()
	ada, w := th.hello("Ada")
	adaID := w["session"].(string)
	_, err := th.hub.OpenRoom(ctx, chatfly.RoomConfig{ID: "course-7", Owners: []string{adaID}, Moderators: []string{"mia"}})
	require.NoError(t, err)
	mia, miaID := th.user("mia")
	bob, w := th.hello("Bob")
	bobID := w["session"].(string)
	th.join(ada, "course-7")
	th.join(mia, "course-7")
	joined := th.join(bob, "course-7")
	require.Equal(t, "owner", roleOf(joined, adaID))
	require.Equal(t, "moderator", roleOf(joined, miaID))

	require.Equal(t, "ok", th.reply(mia, `{"action":"room.mute","id":1,"room":"course-7","member":"`+bobID+`"}`)["type"])
	th.wantError(bob, `{"action":"send","id":2,"room":"course-7","text":"hi"}`, "muted")
	th.wantError(mia, `{"action":"room.update","id":3,"room":"course-7","topic":"x"}`, "forbidden")
	th.wantError(mia, `{"action":"room.kick","id":3,"room":"course-7","member":"`+adaID+`"}`, "forbidden")
	require.Equal(t, "ok", th.reply(ada, `{"action":"room.update","id":4,"room":"course-7","topic":"Week 2"}`)["type"])
	th.wantError(ada, `{"action":"room.transfer","id":5,"room":"course-7","member":"`+bobID+`"}`, "forbidden")
	require.Equal(t, "ok", th.reply(mia, `{"action":"room.kick","id":6,"room":"course-7","member":"`+bobID+`"}`)["type"])
	th.wantError(bob, `{"action":"send","id":7,"room":"course-7","text":"hi"}`, "not_member")
	// Default rooms stay unmoderated.
	th.join(ada, "lobby")
	th.join(bob, "lobby")
	th.wantError(ada, `{"action":"room.kick","id":8,"room":"lobby","member":"`+bobID+`"}`, "forbidden")
}

// OnCreateRoom may refuse a creation or change the room.
func TestOnCreateRoom(t *testing.T) {
	th := integratorHub(t, &chatfly.Options{OnCreateRoom: func(_ context.Context, r chatfly.CreateRoomRequest) (chatfly.CreateRoomDecision, error) {
		if r.Session.UserID() == "" {
			return chatfly.CreateRoomDecision{}, errors.New("anonymous")
		}
		cfg := r.Room
		cfg.Topic, cfg.MaxMembers = "Set by the app", 1
		return chatfly.CreateRoomDecision{Room: &cfg}, nil
	}})
	anon, _ := th.hello("Ada")
	r := th.reply(anon, `{"action":"room.create","id":1,"name":"Club"}`)
	require.Equal(t, "forbidden", r["code"])
	require.NotContains(t, r["message"], "anonymous")
	u, _ := th.user("mia")
	room := th.reply(u, `{"action":"room.create","id":1,"name":"Club","topic":"mine"}`)["room"].(map[string]any)
	require.Equal(t, "Set by the app", room["topic"])
	th.join(u, room["id"].(string))
	th.wantError(anon, `{"action":"join","id":2,"room":"`+room["id"].(string)+`"}`, "too_many")
}

// The admin API moderates as the application: announced without "by",
// with passive system messages, in application rooms, not in default ones.
func TestServerSideModeration(t *testing.T) {
	th := newTestHub(t, nil)
	ctx := context.Background()
	room, err := th.hub.OpenRoom(ctx, chatfly.RoomConfig{ID: "doc-2"})
	require.NoError(t, err)
	ada, _ := th.hello("Ada")
	bob, w := th.hello("Bob")
	bobID := w["session"].(string)
	th.join(ada, "doc-2")
	th.join(bob, "doc-2")
	th.tr.take(ada)

	require.NoError(t, room.Kick(ctx, bobID, "spam"))
	evs := th.tr.take(bob)
	mod := ofType(evs, "moderation")
	require.Len(t, mod, 1)
	require.NotContains(t, mod[0], "by")
	require.Equal(t, "kick", mod[0]["action"])
	require.Equal(t, "Bob was kicked: spam", ofType(evs, "message")[0]["text"])
	require.Equal(t, "Bob", ofType(th.tr.take(ada), "presence")[0]["member"].(map[string]any)["name"])
	th.wantError(bob, `{"action":"send","id":1,"room":"doc-2","text":"hi"}`, "not_member")
	require.ErrorIs(t, room.Kick(ctx, bobID, ""), chatfly.ErrNotMember)

	th.join(bob, "doc-2")
	require.NoError(t, room.Ban(ctx, bobID, chatfly.BanOptions{Reason: "again"}))
	th.wantError(bob, `{"action":"join","id":2,"room":"doc-2"}`, "banned")
	require.NoError(t, room.Unban(ctx, bobID))
	th.join(bob, "doc-2")
	th.tr.take(ada)
	require.NoError(t, room.Mute(ctx, bobID, 90*time.Second))
	require.Equal(t, "Bob was muted for 1 minute 30 seconds", ofType(th.tr.take(ada), "message")[0]["text"])
	th.wantError(bob, `{"action":"send","id":3,"room":"doc-2","text":"hi"}`, "muted")
	require.NoError(t, room.Unmute(ctx, bobID))
	require.Equal(t, "sent", th.reply(bob, `{"action":"send","id":4,"room":"doc-2","text":"hi"}`)["type"])

	topic := "Week 3"
	info, err := room.Update(ctx, chatfly.RoomUpdate{Topic: &topic})
	require.NoError(t, err)
	require.Equal(t, "Week 3", info.Topic)
	msgs := ofType(th.tr.take(ada), "message")
	require.Equal(t, "The room was updated: set the topic to Week 3", msgs[len(msgs)-1]["text"])

	rooms, next, err := th.hub.Rooms(ctx, "", 2)
	require.NoError(t, err)
	require.Len(t, rooms, 2)
	require.NotEmpty(t, next)
	rest, next, err := th.hub.Rooms(ctx, next, 0)
	require.NoError(t, err)
	require.Len(t, rest, 1) // the three default rooms; doc-2 is private
	require.Empty(t, next)

	require.NoError(t, room.Delete(ctx))
	mod = ofType(th.tr.take(bob), "moderation")
	require.Equal(t, "delete", mod[len(mod)-1]["action"])
	th.wantError(ada, `{"action":"join","id":5,"room":"doc-2"}`, "not_found")

	lobby, err := th.hub.Room(ctx, "lobby")
	require.NoError(t, err)
	th.join(bob, "lobby")
	require.ErrorIs(t, lobby.Kick(ctx, bobID, ""), chatfly.ErrForbidden)
}

// Room.Publish reaches the members and nobody else; SendEvent reaches one
// session; bad types and big payloads are refused.
func TestPublishAndSendEvent(t *testing.T) {
	th := newTestHub(t, nil)
	ctx := context.Background()
	room, err := th.hub.OpenRoom(ctx, chatfly.RoomConfig{ID: "doc-3"})
	require.NoError(t, err)
	ada, w := th.hello("Ada")
	adaID := w["session"].(string)
	out, _ := th.hello("Out")
	th.join(ada, "doc-3")
	th.tr.take(ada)

	require.NoError(t, room.Publish(ctx, "cursor.moved", map[string]int{"line": 7}))
	require.Equal(t, []string{`{"type":"custom","room":"doc-3","event":"cursor.moved","data":{"line":7}}`}, th.tr.raw[ada][len(th.tr.raw[ada])-1:])
	require.Empty(t, th.tr.take(out))
	require.ErrorIs(t, room.Publish(ctx, "bad type", 1), chatfly.ErrBadRequest)
	require.ErrorIs(t, room.Publish(ctx, "big", strings.Repeat("x", chatfly.DefaultMaxEventBytes)), chatfly.ErrTooLarge)

	require.NoError(t, th.hub.SendEvent(ctx, adaID, "note", "just you"))
	require.Equal(t, map[string]any{"type": "custom", "event": "note", "data": "just you"}, th.tr.take(ada)[1])
	require.ErrorIs(t, th.hub.SendEvent(ctx, "nobody", "note", nil), chatfly.ErrNotFound)
}

// DisconnectSession and DisconnectUser close the session's connection with
// the code given (CloseDisconnected by default).
func TestDisconnectSession(t *testing.T) {
	th := integratorHub(t, nil)
	ctx := context.Background()
	ada, w := th.hello("Ada")
	require.NoError(t, th.hub.DisconnectSession(ctx, w["session"].(string), 0, "bye"))
	require.Equal(t, chatfly.CloseDisconnected, th.tr.closed[ada])
	mia, _ := th.user("mia")
	require.NoError(t, th.hub.DisconnectUser(ctx, "mia", chatfly.ClosePolicy, ""))
	require.Equal(t, chatfly.ClosePolicy, th.tr.closed[mia])
	require.ErrorIs(t, th.hub.DisconnectUser(ctx, "nobody", 0, ""), chatfly.ErrNotFound)
	require.ErrorIs(t, th.hub.DisconnectSession(ctx, w["session"].(string), 1006, ""), chatfly.ErrBadRequest)
}

// An application action answers with its id and data, sees the session,
// needs hello, maps its errors, and counts against the rate limit.
func TestCustomActions(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{RateLimit: chatfly.RateLimit{Count: 6, CloseAfter: -1}, Actions: map[string]chatfly.ActionFunc{
		"app.echo": func(_ context.Context, r chatfly.ActionRequest) (any, error) {
			return map[string]any{"you": r.Session.Name(), "sent": r.Data, "action": r.Action}, nil
		},
		"app.fail": func(_ context.Context, r chatfly.ActionRequest) (any, error) {
			if string(r.Data) == `"mine"` {
				return nil, &chatfly.Error{Code: "out_of_stock", Message: "no more"}
			}
			return nil, errors.New("secret detail")
		},
	}})
	conn := th.connect()
	th.wantError(conn, `{"action":"app.echo","id":1}`, "hello_required")
	th.reply(conn, `{"action":"hello","id":1,"name":"Ada"}`)
	r := th.reply(conn, `{"action":"app.echo","id":"e1","data":{"n":1}}`)
	require.Equal(t, map[string]any{"type": "result", "id": "e1", "data": map[string]any{"you": "Ada", "sent": map[string]any{"n": 1.0}, "action": "app.echo"}}, r)
	require.Equal(t, map[string]any{"type": "error", "id": 2.0, "code": "out_of_stock", "message": "no more"}, th.reply(conn, `{"action":"app.fail","id":2,"data":"mine"}`))
	r = th.reply(conn, `{"action":"app.fail","id":3}`)
	require.Equal(t, "rejected", r["code"])
	require.NotContains(t, r["message"], "secret")
	require.Equal(t, "result", th.reply(conn, `{"action":"app.echo","id":4}`)["type"])
	th.wantError(conn, `{"action":"app.echo","id":5}`, "rate_limited") // the seventh frame of the connection's window
	th.clock.Advance(10 * time.Second)
	require.Equal(t, "result", th.reply(conn, `{"action":"app.echo","id":5}`)["type"])

	for _, name := range []string{"echo", "room.kick", "app.", "app.bad name", "app." + strings.Repeat("x", 61)} {
		require.Panics(t, func() {
			chatfly.New(memstore.New(nil), newRecTransport(), &chatfly.Options{Actions: map[string]chatfly.ActionFunc{name: func(context.Context, chatfly.ActionRequest) (any, error) { return nil, nil }}})
		}, name)
	}
}
