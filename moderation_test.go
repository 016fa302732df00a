package chatfly_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

// createRoom creates a custom room as conn and returns its id.
func (th *testHub) createRoom(conn, name, visibility string) string {
	th.t.Helper()
	r := th.reply(conn, `{"action":"room.create","id":1,"name":`+jsonString(name)+`,"topic":"a topic","visibility":"`+visibility+`"}`)
	if r["type"] != "room.created" {
		th.t.Fatalf("room.create: %v", r)
	}
	return r["room"].(map[string]any)["id"].(string)
}

// snapshot is everything stored about a room and the directory.
func (th *testHub) snapshot(room string) string {
	th.t.Helper()
	var b bytes.Buffer
	for _, part := range []string{"room#" + room, "rooms"} {
		items, err := th.store.Query(context.Background(), chatfly.Query{Partition: part})
		if err != nil {
			th.t.Fatal(err)
		}
		for _, it := range items {
			fmt.Fprintf(&b, "%s/%s v%d n%d %q %v\n", it.Partition, it.Sort, it.Version, it.N, it.Value, it.Expires)
		}
	}
	return b.String()
}

func (th *testHub) memberNames(room string) []string {
	th.t.Helper()
	r, err := th.hub.Room(context.Background(), room)
	if err != nil {
		th.t.Fatal(err)
	}
	ms, err := r.Members(context.Background())
	if err != nil {
		th.t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name+":"+m.Role)
	}
	slices.Sort(names)
	return names
}

// Every (role, action) pair: the allowed ones take effect, the others get
// forbidden and change nothing stored.
func TestModerationPermissions(t *testing.T) {
	type setup struct {
		th                               *testHub
		room                             string
		owner, mod, mod2, member, target string // connections
		sid                              map[string]string
	}
	actions := []struct {
		name   string
		frame  func(s *setup) string
		check  func(t *testing.T, s *setup) // the effect, when allowed
		byMods bool                         // moderators may do it
	}{
		{"update topic", func(s *setup) string { return `{"action":"room.update","room":"%r","topic":"new topic"}` },
			func(t *testing.T, s *setup) {
				info, _ := roomInfo(s.th, s.room)
				if info.Topic != "new topic" {
					t.Fatalf("topic %q", info.Topic)
				}
			}, false},
		{"update visibility", func(s *setup) string { return `{"action":"room.update","room":"%r","visibility":"public"}` },
			func(t *testing.T, s *setup) {
				if !slices.Contains(listedRooms(s.th, s.owner), s.room) {
					t.Fatal("room not listed after it was made public")
				}
			}, false},
		{"promote", func(s *setup) string { return `{"action":"room.promote","room":"%r","member":"%target"}` },
			func(t *testing.T, s *setup) {
				if !slices.Contains(s.th.memberNames(s.room), "Tia:moderator") {
					t.Fatalf("members %v", s.th.memberNames(s.room))
				}
			}, false},
		{"demote", func(s *setup) string { return `{"action":"room.demote","room":"%r","member":"%mod2"}` },
			func(t *testing.T, s *setup) {
				if !slices.Contains(s.th.memberNames(s.room), "Mo2:") {
					t.Fatalf("members %v", s.th.memberNames(s.room))
				}
			}, false},
		{"transfer", func(s *setup) string { return `{"action":"room.transfer","room":"%r","member":"%target"}` },
			func(t *testing.T, s *setup) {
				names := s.th.memberNames(s.room)
				if !slices.Contains(names, "Tia:owner") || !slices.Contains(names, "Olga:moderator") {
					t.Fatalf("members %v", names)
				}
			}, false},
		{"delete", func(s *setup) string { return `{"action":"room.delete","room":"%r"}` },
			func(t *testing.T, s *setup) {
				if _, err := s.th.hub.Room(context.Background(), s.room); err == nil {
					t.Fatal("room still exists")
				}
			}, false},
		{"kick", func(s *setup) string { return `{"action":"room.kick","room":"%r","member":"%target","reason":"spam"}` },
			func(t *testing.T, s *setup) {
				if slices.Contains(s.th.memberNames(s.room), "Tia:") {
					t.Fatal("kicked member still in the room")
				}
				s.th.join(s.target, s.room) // a kicked member may come back
			}, true},
		{"ban", func(s *setup) string { return `{"action":"room.ban","room":"%r","member":"%target"}` },
			func(t *testing.T, s *setup) {
				if slices.Contains(s.th.memberNames(s.room), "Tia:") {
					t.Fatal("banned member still in the room")
				}
				s.th.wantError(s.target, `{"action":"join","room":"`+s.room+`"}`, "banned")
			}, true},
		{"unban", func(s *setup) string { return `{"action":"room.unban","room":"%r","member":"%target"}` },
			func(t *testing.T, s *setup) { s.th.join(s.target, s.room) }, true},
		{"mute", func(s *setup) string { return `{"action":"room.mute","room":"%r","member":"%target","duration":600}` },
			func(t *testing.T, s *setup) {
				s.th.wantError(s.target, `{"action":"send","room":"`+s.room+`","text":"hi"}`, "muted")
			}, true},
		{"unmute", func(s *setup) string { return `{"action":"room.unmute","room":"%r","member":"%target"}` },
			func(t *testing.T, s *setup) {
				if r := s.th.reply(s.target, `{"action":"send","room":"`+s.room+`","text":"hi"}`); r["type"] != "sent" {
					t.Fatalf("unmuted send: %v", r)
				}
			}, true},
	}
	for _, role := range []string{"owner", "moderator", "member"} {
		for _, a := range actions {
			t.Run(role+"/"+a.name, func(t *testing.T) {
				th := newTestHub(t, nil)
				s := &setup{th: th, sid: map[string]string{}}
				var w map[string]any
				for _, p := range []struct {
					v    *string
					name string
				}{{&s.owner, "Olga"}, {&s.mod, "Mo"}, {&s.mod2, "Mo2"}, {&s.member, "Pat"}, {&s.target, "Tia"}} {
					*p.v, w = th.hello(p.name)
					s.sid[p.name] = w["session"].(string)
				}
				s.room = th.createRoom(s.owner, "Olga's room", "private")
				for _, c := range []string{s.owner, s.mod, s.mod2, s.member, s.target} {
					th.join(c, s.room)
				}
				th.reply(s.owner, `{"action":"room.promote","id":1,"room":"`+s.room+`","member":"`+s.sid["Mo"]+`"}`)
				th.reply(s.owner, `{"action":"room.promote","id":1,"room":"`+s.room+`","member":"`+s.sid["Mo2"]+`"}`)
				switch a.name {
				case "unban":
					th.reply(s.owner, `{"action":"room.ban","id":1,"room":"`+s.room+`","member":"`+s.sid["Tia"]+`"}`)
				case "unmute":
					th.reply(s.owner, `{"action":"room.mute","id":1,"room":"`+s.room+`","member":"`+s.sid["Tia"]+`"}`)
				}
				actor := map[string]string{"owner": s.owner, "moderator": s.mod, "member": s.member}[role]
				frame := strings.NewReplacer(`"%r"`, `"`+s.room+`"`, `"%target"`, `"`+s.sid["Tia"]+`"`, `"%mod2"`, `"`+s.sid["Mo2"]+`"`).Replace(a.frame(s))
				frame = strings.Replace(frame, "{", `{"id":"act",`, 1)
				allowed := role == "owner" || (role == "moderator" && a.byMods)

				before := th.snapshot(s.room)
				for _, c := range []string{s.owner, s.mod, s.mod2, s.member, s.target} {
					th.tr.take(c)
				}
				r := th.reply(actor, frame)
				if !allowed {
					if r["type"] != "error" || r["code"] != "forbidden" {
						t.Fatalf("%s by %s: %v, want forbidden", a.name, role, r)
					}
					if after := th.snapshot(s.room); after != before {
						t.Fatalf("forbidden %s changed the room:\nbefore:\n%s\nafter:\n%s", a.name, before, after)
					}
					if evs := th.tr.take(s.member); len(evs) != 0 && actor != s.member {
						t.Fatalf("forbidden action announced: %v", evs)
					}
					return
				}
				if r["type"] != "ok" || r["id"] != "act" {
					t.Fatalf("%s by %s: %v", a.name, role, r)
				}
				// Everyone in the room was told, with a structured event
				// and (except for delete) a system message in the history.
				evs := th.tr.take(s.member)
				mod := ofType(evs, "moderation")
				if len(mod) != 1 || mod[0]["by"].(map[string]any)["id"] != s.sid[map[string]string{"owner": "Olga", "moderator": "Mo"}[role]] {
					t.Fatalf("announcement: %v", evs)
				}
				if a.name != "delete" {
					if sys := ofType(evs, "message"); len(sys) != 1 || sys[0]["system"] != true {
						t.Fatalf("system message: %v", evs)
					}
				}
				a.check(t, s)
			})
		}
	}
}

func roomInfo(th *testHub, id string) (chatfly.RoomInfo, error) {
	r, err := th.hub.Room(context.Background(), id)
	if err != nil {
		return chatfly.RoomInfo{}, err
	}
	return r.Info(context.Background())
}

func listedRooms(th *testHub, conn string) []string {
	var ids []string
	for _, r := range th.reply(conn, `{"action":"rooms","id":"l"}`)["rooms"].([]any) {
		ids = append(ids, r.(map[string]any)["id"].(string))
	}
	return ids
}

func TestBanSurvivesResumeKickDoesNot(t *testing.T) {
	th := newTestHub(t, nil)
	owner, _ := th.hello("Olga")
	kicked, wk := th.hello("Kim")
	banned, wb := th.hello("Ben")
	room := th.createRoom(owner, "club", "private")
	for _, c := range []string{owner, kicked, banned} {
		th.join(c, room)
	}
	th.reply(owner, `{"action":"room.kick","id":1,"room":"`+room+`","member":"`+wk["session"].(string)+`"}`)
	th.reply(owner, `{"action":"room.ban","id":1,"room":"`+room+`","member":"`+wb["session"].(string)+`"}`)

	// Both reconnect with their resume tokens.
	for _, c := range []string{kicked, banned} {
		if err := th.hub.Disconnect(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	k2 := th.connect()
	th.reply(k2, `{"action":"hello","token":"`+wk["token"].(string)+`"}`)
	th.join(k2, room)
	b2 := th.connect()
	th.reply(b2, `{"action":"hello","token":"`+wb["token"].(string)+`"}`)
	th.wantError(b2, `{"action":"join","room":"`+room+`"}`, "banned")
}

func TestBanByAddress(t *testing.T) {
	th := newTestHub(t, nil)
	ctx := context.Background()
	owner, _ := th.hello("Olga")
	room := th.createRoom(owner, "club", "public")
	th.join(owner, room)
	for _, c := range []struct{ conn, addr string }{{"troll1", "203.0.113.7:4000"}, {"troll2", "203.0.113.7:4001"}, {"other", "198.51.100.1:4000"}} {
		if err := th.hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: c.conn, RemoteAddr: c.addr}); err != nil {
			t.Fatal(err)
		}
		th.reply(c.conn, `{"action":"hello","name":"`+c.conn+`"}`)
	}
	th.join("troll1", room)
	sid := th.memberID(room, "troll1")
	th.reply(owner, `{"action":"room.ban","id":1,"room":"`+room+`","member":"`+sid+`","address":true}`)
	th.wantError("troll2", `{"action":"join","room":"`+room+`"}`, "banned") // new identity, same address
	th.join("other", room)
}

func (th *testHub) memberID(room, name string) string {
	th.t.Helper()
	r, _ := th.hub.Room(context.Background(), room)
	ms, _ := r.Members(context.Background())
	for _, m := range ms {
		if m.Name == name {
			return m.ID
		}
	}
	th.t.Fatalf("%s is not in %s", name, room)
	return ""
}

func TestPrivateRoomsAreNotListedOrGuessable(t *testing.T) {
	th := newTestHub(t, nil)
	a, _ := th.hello("Ada")
	priv := th.createRoom(a, "secret", "private")
	pub := th.createRoom(a, "open house", "public")
	if len(priv) < 22 {
		t.Fatalf("room id %q is too short to be unguessable (want >= 128 bits)", priv)
	}
	ids := listedRooms(th, a)
	if slices.Contains(ids, priv) || !slices.Contains(ids, pub) {
		t.Fatalf("directory %v: want %s listed and %s not", ids, pub, priv)
	}
	// A wrong id looks exactly like a room that never existed.
	wrong := th.reply(a, `{"action":"join","id":1,"room":"`+priv[:len(priv)-1]+"x"+`"}`)
	never := th.reply(a, `{"action":"join","id":1,"room":"no-such-room"}`)
	if wrong["code"] != "not_found" || wrong["message"] != never["message"] {
		t.Fatalf("wrong id: %v; never existed: %v", wrong, never)
	}
	th.join(a, priv) // the right id works
	// Making it public lists it; private again hides it.
	th.reply(a, `{"action":"room.update","id":1,"room":"`+priv+`","visibility":"public"}`)
	if !slices.Contains(listedRooms(th, a), priv) {
		t.Fatal("public room not listed")
	}
	th.reply(a, `{"action":"room.update","id":1,"room":"`+priv+`","visibility":"private"}`)
	if slices.Contains(listedRooms(th, a), priv) {
		t.Fatal("private room listed")
	}
}

func TestDirectoryOrder(t *testing.T) {
	th := newTestHub(t, nil)
	a, _ := th.hello("Ada")
	b, _ := th.hello("Bob")
	quiet := th.createRoom(a, "quiet", "public")
	busy := th.createRoom(a, "busy", "public")
	th.join(a, busy)
	th.join(b, busy)
	th.join(a, "random")
	th.clock.Advance(time.Minute)
	th.do(a, `{"action":"send","room":"random","text":"recent"}`)
	ids := listedRooms(th, a)
	if ids[0] != busy || ids[1] != "random" || !slices.Contains(ids, quiet) {
		t.Fatalf("directory order %v: want busiest (%s) first, then most recently active", ids, busy)
	}
}

func TestRoomTTL(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{RoomTTL: 24 * time.Hour, PresenceTTL: 30 * time.Minute})
	a, _ := th.hello("Ada")
	idle := th.createRoom(a, "idle", "public")
	lively := th.createRoom(a, "lively", "public")
	th.join(a, idle)
	th.do(a, `{"action":"send","room":"`+idle+`","text":"bye"}`)
	th.reply(a, `{"action":"leave","id":1,"room":"`+idle+`"}`)
	th.join(a, lively)

	// Ada stays in "lively" for three days, pinging; "idle" has nobody.
	for range 3 * 24 * 6 {
		th.clock.Advance(10 * time.Minute)
		th.do(a, `{"action":"ping"}`)
	}
	if _, err := roomInfo(th, lively); err != nil {
		t.Fatalf("a room with a member expired: %v", err)
	}
	th.wantError(a, `{"action":"join","room":"`+idle+`"}`, "not_found")
	if ids := listedRooms(th, a); slices.Contains(ids, idle) || !slices.Contains(ids, lively) {
		t.Fatalf("directory after expiry: %v", ids)
	}
	// Its messages and roles went with it.
	items, _ := th.store.Query(context.Background(), chatfly.Query{Partition: "room#" + idle})
	if len(items) != 0 {
		t.Fatalf("items of the expired room still visible: %v", items)
	}

	// Once Ada leaves, "lively" expires a day later too.
	th.reply(a, `{"action":"leave","id":1,"room":"`+lively+`"}`)
	th.clock.Advance(23 * time.Hour)
	if _, err := roomInfo(th, lively); err != nil {
		t.Fatalf("expired too early: %v", err)
	}
	th.clock.Advance(2 * time.Hour)
	if _, err := roomInfo(th, lively); err == nil {
		t.Fatal("an empty, quiet room did not expire")
	}
}

func TestMuteWithDuration(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{PresenceTTL: time.Hour})
	o, _ := th.hello("Olga")
	m, w := th.hello("Max")
	room := th.createRoom(o, "r", "private")
	th.join(o, room)
	th.join(m, room)
	th.tr.take(m)
	th.reply(o, `{"action":"room.mute","id":1,"room":"`+room+`","member":"`+w["session"].(string)+`","duration":300}`)
	th.wantError(m, `{"action":"send","room":"`+room+`","text":"hello?"}`, "muted")
	th.do(o, `{"action":"send","room":"`+room+`","text":"you can still read"}`)
	if msgs := ofType(th.tr.take(m), "message"); len(msgs) == 0 || msgs[len(msgs)-1]["text"] != "you can still read" {
		t.Fatalf("muted member reads: %v", msgs)
	}
	th.clock.Advance(6 * time.Minute)
	if r := th.reply(m, `{"action":"send","id":1,"room":"`+room+`","text":"back"}`); r["type"] != "sent" {
		t.Fatalf("after the mute ended: %v", r)
	}
}

func TestCustomRoomLimits(t *testing.T) {
	th := newTestHub(t, &chatfly.Options{RoomsPerHour: 2, MaxTopicRunes: 10, MaxMembersPerRoom: 2, PresenceTTL: 3 * time.Hour})
	a, _ := th.hello("Ada")
	th.wantError(a, `{"action":"room.create","name":"x","topic":"`+strings.Repeat("t", 11)+`"}`, "too_long")
	th.wantError(a, `{"action":"room.create","name":"x","visibility":"secret"}`, "bad_request")
	th.wantError(a, `{"action":"room.create","name":" "}`, "bad_request")
	room := th.createRoom(a, "one", "private")
	th.createRoom(a, "two", "private")
	th.wantError(a, `{"action":"room.create","name":"three"}`, "too_many")
	th.clock.Advance(time.Hour)
	th.createRoom(a, "three", "private")

	b, _ := th.hello("Bob")
	c, _ := th.hello("Cy")
	th.join(a, room)
	th.join(b, room)
	th.wantError(c, `{"action":"join","room":"`+room+`"}`, "too_many")
	th.wantError(a, `{"action":"room.update","room":"`+room+`","topic":"`+strings.Repeat("t", 11)+`"}`, "too_long")
	// Default rooms have no owner: nobody can moderate them.
	th.join(a, "lobby")
	th.wantError(a, `{"action":"room.update","room":"lobby","topic":"mine"}`, "forbidden")
}

func TestBanList(t *testing.T) {
	th := newTestHub(t, nil)
	o, _ := th.hello("Olga")
	b, wb := th.hello("Ben")
	m, wm := th.hello("Max")
	room := th.createRoom(o, "r", "private")
	for _, c := range []string{o, b, m} {
		th.join(c, room)
	}
	th.reply(o, `{"action":"room.ban","id":1,"room":"`+room+`","member":"`+wb["session"].(string)+`","address":true}`)
	th.reply(o, `{"action":"room.mute","id":1,"room":"`+room+`","member":"`+wm["session"].(string)+`","duration":60}`)
	th.wantError(m, `{"action":"room.bans","room":"`+room+`"}`, "forbidden")
	r := th.reply(o, `{"action":"room.bans","id":1,"room":"`+room+`"}`)
	bans, mutes := r["bans"].([]any), r["mutes"].([]any)
	if len(bans) != 1 || bans[0].(map[string]any)["name"] != "Ben" || len(mutes) != 1 || mutes[0].(map[string]any)["name"] != "Max" {
		t.Fatalf("room.bans: %v", r)
	}
	th.clock.Advance(2 * time.Minute)
	if r := th.reply(o, `{"action":"room.bans","id":1,"room":"`+room+`"}`); len(r["mutes"].([]any)) != 0 {
		t.Fatalf("an ended mute is still listed: %v", r)
	}
}

// Deleting a room tells everyone in it once, with the moderation event and
// no presence events, and removes them all: nothing of theirs is left under
// the room or in their sessions' room index, and the room is not_found.
func TestDeleteRoomRemovesEveryoneAtOnce(t *testing.T) {
	th := newTestHub(t, nil)
	owner, _ := th.hello("Olga")
	room := th.createRoom(owner, "club", "public")
	conns := []string{owner}
	sids := map[string]string{}
	for _, n := range []string{"Ada", "Bob", "Cy"} {
		c, w := th.hello(n)
		conns = append(conns, c)
		sids[c] = w["session"].(string)
	}
	for _, c := range conns {
		th.join(c, room)
	}
	th.join(conns[1], "lobby")
	for _, c := range conns {
		th.tr.take(c)
	}
	got := map[string][]map[string]any{owner: th.do(owner, `{"action":"room.delete","id":"d","room":"`+room+`"}`)}
	if r := ofType(got[owner], "ok"); len(r) != 1 || r[0]["id"] != "d" {
		t.Fatalf("room.delete: %v", got[owner])
	}
	got[owner] = slices.DeleteFunc(got[owner], func(ev map[string]any) bool { return ev["id"] == "d" })
	for _, c := range conns[1:] {
		got[c] = th.tr.take(c)
	}
	for c, evs := range got {
		if len(evs) != 1 || evs[0]["type"] != "moderation" || evs[0]["action"] != "delete" || evs[0]["room"] != room {
			t.Errorf("%s got %v, want the one delete event", c, evs)
		}
	}
	if left := th.snapshot(room); left != "" {
		t.Errorf("left under the room and in the directory:\n%s", left)
	}
	for c, sid := range sids {
		items, err := th.store.Query(context.Background(), chatfly.Query{Partition: "sess#" + sid, Prefix: "room#"})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Sort == "room#"+room {
				t.Errorf("%s's session still lists the deleted room", c)
			}
		}
		th.wantError(c, `{"action":"join","id":1,"room":"`+room+`"}`, "not_found")
	}
	// Ada is still in the other room she was in.
	if names := th.memberNames("lobby"); !slices.Equal(names, []string{"Ada:"}) {
		t.Errorf("lobby members %v", names)
	}
}

// A target who must be in the room and is not, or whom the room does not
// know, is not_member (PROTOCOL.md), for every action that names one.
func TestModerationTargetNotInRoom(t *testing.T) {
	th := newTestHub(t, nil)
	owner, _ := th.hello("Olga")
	away, w := th.hello("Lin")
	room := th.createRoom(owner, "club", "private")
	th.join(owner, room)
	th.join(away, room)
	th.reply(away, `{"action":"leave","id":1,"room":"`+room+`"}`)
	before := th.snapshot(room)
	for _, action := range []string{"promote", "demote", "transfer", "kick", "ban", "unban", "mute", "unmute"} {
		th.wantError(owner, `{"action":"room.`+action+`","id":1,"room":"`+room+`","member":"`+w["session"].(string)+`"}`, "not_member")
	}
	if after := th.snapshot(room); after != before {
		t.Fatalf("refused actions changed the room:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// modRoom is a custom room of Olga's with Max in it; it returns the
// connections, Max's session id and the room.
func modRoom(t *testing.T, opts *chatfly.Options) (th *testHub, owner, max, maxID, room string) {
	th = newTestHub(t, opts)
	owner, _ = th.hello("Olga")
	max, w := th.hello("Max")
	room = th.createRoom(owner, "r", "private")
	th.join(owner, room)
	th.join(max, room)
	th.tr.take(owner)
	th.tr.take(max)
	return th, owner, max, w["session"].(string), room
}

// lastSystem sends frame as conn and returns the text of the last system
// message conn received.
func lastSystem(th *testHub, conn, frame string) string {
	th.t.Helper()
	msgs := ofType(th.do(conn, frame), "message")
	if len(msgs) == 0 || msgs[len(msgs)-1]["system"] != true {
		th.t.Fatalf("no system message: %v", msgs)
	}
	return msgs[len(msgs)-1]["text"].(string)
}

// Announcements spell durations out for people.
func TestMuteAnnouncesHumanDurations(t *testing.T) {
	th, owner, _, maxID, room := modRoom(t, nil)
	for _, c := range []struct {
		seconds int64
		want    string
	}{
		{1, "1 second"},
		{45, "45 seconds"},
		{60, "1 minute"},
		{300, "5 minutes"},
		{3600, "1 hour"},
		{5400, "1 hour 30 minutes"},
		{86400, "1 day"},
		{2 * 86400, "2 days"},
		{86400 + 7200 + 61, "1 day 2 hours 1 minute 1 second"},
		{30 * 86400, "30 days"},
	} {
		frame := `{"action":"room.mute","id":1,"room":"` + room + `","member":"` + maxID + `","duration":` + fmt.Sprint(c.seconds) + `}`
		if got, want := lastSystem(th, owner, frame), "Olga muted Max for "+c.want; got != want {
			t.Errorf("mute for %d s: %q, want %q", c.seconds, got, want)
		}
	}
	if got := lastSystem(th, owner, `{"action":"room.mute","id":1,"room":"`+room+`","member":"`+maxID+`"}`); got != "Olga muted Max" {
		t.Errorf("mute without duration: %q", got)
	}
}

// Durations outside 0..MaxMuteDuration are refused and mute nobody.
func TestMuteDurationLimits(t *testing.T) {
	th, owner, max, maxID, room := modRoom(t, &chatfly.Options{MaxMuteDuration: 48 * time.Hour, PresenceTTL: 72 * time.Hour, RoomTTL: 72 * time.Hour})
	mute := func(d string) string {
		return `{"action":"room.mute","id":1,"room":"` + room + `","member":"` + maxID + `","duration":` + d + `}`
	}
	before := th.snapshot(room)
	for _, d := range []string{"-1", "172801", "9223372036854775807", "1e30", "1.5", `"600"`} {
		th.wantError(owner, mute(d), "bad_request")
		if after := th.snapshot(room); after != before {
			t.Fatalf("refused duration %s changed the room:\n%s\n%s", d, before, after)
		}
	}
	if r := th.reply(max, `{"action":"send","id":1,"room":"`+room+`","text":"not muted"}`); r["type"] != "sent" {
		t.Fatalf("after refused mutes: %v", r)
	}
	th.tr.take(owner)
	if got := lastSystem(th, owner, mute("172800")); got != "Olga muted Max for 2 days" {
		t.Fatalf("longest mute: %q", got)
	}
	th.wantError(max, `{"action":"send","room":"`+room+`","text":"hi"}`, "muted")
	th.clock.Advance(48*time.Hour - time.Second)
	th.wantError(max, `{"action":"send","room":"`+room+`","text":"hi"}`, "muted")
	th.clock.Advance(time.Second)
	if r := th.reply(max, `{"action":"send","id":1,"room":"`+room+`","text":"back"}`); r["type"] != "sent" {
		t.Fatalf("after the mute: %v", r)
	}
}

// Reasons are limited (MaxReasonRunes) and one line; a refused kick or ban
// changes nothing and posts nothing.
func TestModerationReasonLimit(t *testing.T) {
	th, owner, max, maxID, room := modRoom(t, &chatfly.Options{MaxReasonRunes: 10})
	before := th.snapshot(room)
	for _, c := range []struct{ reason, code string }{
		{strings.Repeat("é", 11), "too_long"},
		{strings.Repeat("x", 15021), "too_long"},
		{"two\nlines", "bad_request"},
	} {
		for _, action := range []string{"room.kick", "room.ban", "room.mute"} {
			th.wantError(owner, `{"action":"`+action+`","room":"`+room+`","member":"`+maxID+`","reason":`+jsonString(c.reason)+`}`, c.code)
		}
		if after := th.snapshot(room); after != before {
			t.Fatalf("refused reason changed the room:\n%s\n%s", before, after)
		}
		if evs := th.tr.take(max); len(evs) != 0 {
			t.Fatalf("refused action announced: %v", evs)
		}
	}
	kick := `{"action":"room.kick","id":1,"room":"` + room + `","member":"` + maxID + `","reason":"  ` + strings.Repeat("é", 10) + `  "}`
	if got := lastSystem(th, owner, kick); got != "Olga kicked Max: "+strings.Repeat("é", 10) {
		t.Fatalf("kick with the longest reason: %q", got)
	}
}

// A muted member cannot type or open or join games, but may finish a game
// that is already running (see game_hub.go).
func TestMutedCannotTypeOrStartGames(t *testing.T) {
	th, owner, max, maxID, room := modRoom(t, &chatfly.Options{Games: []chatfly.Game{nim{}}})
	game := func(conn, action, id, extra string) string {
		return `{"action":"` + action + `","id":1,"room":"` + room + `","game":"` + id + `"` + extra + `}`
	}
	// A running game between Olga and Max, and an open one of Olga's.
	running := gameOf(th.reply(owner, game(owner, "game.start", "nim", "")))["id"].(string)
	th.reply(max, game(max, "game.accept", running, ""))
	open := gameOf(th.reply(owner, game(owner, "game.start", "nim", "")))["id"].(string)
	th.reply(owner, `{"action":"room.mute","id":1,"room":"`+room+`","member":"`+maxID+`"}`)
	th.tr.take(owner)
	th.tr.take(max)
	before := th.snapshot(room)

	th.wantError(max, `{"action":"typing","room":"`+room+`"}`, "muted")
	th.wantError(max, game(max, "game.start", "nim", ""), "muted")
	th.wantError(max, game(max, "game.accept", open, ""), "muted")
	if after := th.snapshot(room); after != before {
		t.Fatalf("refused actions changed the room:\n%s\n%s", before, after)
	}
	if evs := th.tr.take(owner); len(evs) != 0 {
		t.Fatalf("Olga saw refused actions: %v", evs)
	}

	// The running game goes on: Olga moves, then muted Max, to the end.
	for i, who := range []string{owner, max, owner, max, owner} {
		take := []string{"2", "1", "2", "1", "1"}[i]
		if r := th.reply(who, game(who, "game.move", running, `,"move":{"take":`+take+`}`)); r["type"] != "game.state" {
			t.Fatalf("move %d: %v", i, r)
		}
	}
	th.wantError(max, game(max, "game.rematch", running, ""), "muted")

	th.reply(owner, `{"action":"room.unmute","id":1,"room":"`+room+`","member":"`+maxID+`"}`)
	th.tr.take(owner)
	th.do(max, `{"action":"typing","room":"`+room+`"}`)
	if typing := ofType(th.tr.take(owner), "typing"); len(typing) != 1 {
		t.Fatalf("typing after unmute: %v", typing)
	}
	if g := gameOf(th.reply(max, game(max, "game.accept", open, ""))); g["status"] != "playing" {
		t.Fatalf("accept after unmute: %v", g)
	}
}

// A mute lives in the member's membership item as well as in the room's
// meta: a send checks it without reading the meta, it holds across a leave
// and a rejoin (the join copies it from the meta), and an unmute lifts it
// from both.
func TestMuteHoldsAcrossRejoinWithoutMetaRead(t *testing.T) {
	th, owner, max, maxID, room := modRoom(t, nil)
	cs := newCountingStore(th.store)
	th.hub = chatfly.New(cs, th.tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Now: th.clock.Now})
	th.do(max, `{"action":"send","room":"`+room+`","text":"hi"}`) // the room notes its first writers once
	th.reply(owner, `{"action":"room.mute","id":1,"room":"`+room+`","member":"`+maxID+`"}`)
	cs.take()
	th.wantError(max, `{"action":"send","room":"`+room+`","text":"hello?"}`, "muted")
	if n := cs.take()["Get"]; n != 1 {
		t.Fatalf("a muted send made %d Gets, want 1 (the connection record, not the meta)", n)
	}

	th.reply(max, `{"action":"leave","id":1,"room":"`+room+`"}`)
	th.join(max, room)
	th.wantError(max, `{"action":"send","room":"`+room+`","text":"back?"}`, "muted")

	th.reply(owner, `{"action":"room.unmute","id":1,"room":"`+room+`","member":"`+maxID+`"}`)
	cs.take()
	if r := th.reply(max, `{"action":"send","id":2,"room":"`+room+`","text":"thanks"}`); r["type"] != "sent" {
		t.Fatalf("after the unmute: %v", r)
	}
	if n := cs.take()["Get"]; n != 1 {
		t.Fatalf("a send made %d Gets, want 1 (the connection record)", n)
	}
}
