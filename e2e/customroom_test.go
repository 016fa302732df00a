package e2e_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/chatfly/chatfly"
)

// A custom private room over the real protocol: create, share the id, chat,
// moderate.
func TestCustomRoomOverWebSocket(t *testing.T) {
	s := startServer(t, serverConfig{})
	owner, guest := s.dial("Olga", nil), s.dial("Gus", nil)
	ev, err := owner.Do(ctx(t), "room.create", map[string]any{"name": "Book club", "topic": "Dune", "visibility": "private"})
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Room chatfly.RoomInfo `json:"room"`
	}
	if err := json.Unmarshal(ev.Raw, &created); err != nil || ev.Type != "room.created" || !created.Room.Custom {
		t.Fatalf("room.created: %s (%v)", ev.Raw, err)
	}
	id := created.Room.ID
	rooms, _, _ := guest.Rooms(ctx(t), "", 0)
	for _, r := range rooms {
		if r.ID == id {
			t.Fatal("a private room is listed")
		}
	}
	join(t, owner, id)
	j := join(t, guest, id)
	if j.Room.Topic != "Dune" || j.Members[0].Role != "owner" {
		t.Fatalf("guest joined %+v", j)
	}
	if _, err := guest.Send(ctx(t), id, "hi all"); err != nil {
		t.Fatal(err)
	}
	if _, err := guest.Do(ctx(t), "room.kick", map[string]any{"room": id, "member": owner.Welcome().Session}); !errors.Is(err, chatfly.ErrForbidden) {
		t.Fatalf("member kicking the owner: %v, want forbidden", err)
	}
	if _, err := owner.Do(ctx(t), "room.ban", map[string]any{"room": id, "member": guest.Welcome().Session, "reason": "spoilers"}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, guest, "moderation"); m.Type != "moderation" || !strings.Contains(string(m.Raw), `"action":"ban"`) {
		t.Fatalf("guest got %s", m.Raw)
	}
	if _, err := guest.Join(ctx(t), id, 0); !errors.Is(err, chatfly.ErrBanned) {
		t.Fatalf("banned guest rejoining: %v", err)
	}
}
