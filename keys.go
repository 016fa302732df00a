package chatfly

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// The Hub's storage layout. Every partition/sort key the Hub writes is built
// here, so a Storage implementer can read the whole data model in one place:
//
//	partition        sort             value                      expires
//	conn#<conn>      conn             connRecord JSON            PresenceTTL, refreshed
//	sess#<session>   sess             current connection id      PresenceTTL, refreshed
//	sess#<session>   room#<room>      (empty) rooms it is in     PresenceTTL, refreshed
//	room#<room>      meta             roomMeta JSON: config,     custom rooms: RoomTTL after the
//	                                  owner, mods, bans, mutes   last activity; app rooms: never
//	room#<room>      seq              counter N = latest seq     custom rooms: with the room
//	room#<room>      mem              roomStatus JSON: what a    with the meta
//	                                  send needs of the meta (the members Query reads it)
//	room#<room>      mem#<session>    "<conn>\n<name>\n<addr>    PresenceTTL, refreshed
//	                                  [\n<role>[\n<mute>]]" (role: OnJoin; mute: Unix s
//	                                  the mute ends, 0 until unmuted)
//	room#<room>      name#<skeleton>  session id owning the name PresenceTTL, refreshed
//	room#<room>      msg#<seq:016d>   message event frame        MessageTTL (custom: ≤ RoomTTL)
//	rooms            <room>           dirEntry JSON: the summary with the room
//	                                  a page shows; ≤ MaxListedRooms custom rooms
//	rate#c:<conn>    <window>         counter N: frames (Hub.    two windows
//	                                  Receive; a Conn counts in memory)
//	typing#<sess>    <room>#<window>  counter N: typing notices  two TypingIntervals
//	rcreate#<sess>   <hour>           counter N                  two hours
//	room#<room>      game#<id>        gameRecord JSON (ids sort  open: OpenGameTTL from opening;
//	                                  by creation time)          playing: 24 h, over: 1 h from change
//	room#<room>      open#r#<n>       "<room>\n<game>" a slot of the   with its open game
//	                                  room's open games, n < MaxOpenGamesPerRoom
//	room#<room>      open#s#<sess>#<n> the same, of the session's open games there
//	gopen#<n>        slot             the same, server-wide,     with its open game
//	                                  n < MaxOpenGames
//	croom#<n>        slot             room id: a slot of the     with its room
//	                                  custom rooms, n < MaxCustomRooms
//	sess#<session>   rq               queueEntry JSON: a roulette waiting: QueueTTL × 2, refreshed;
//	                                  waiter, its listing key,   claimed by a pairing: 10 s
//	                                  until, claim (roulette.go)
//	sess#<session>   pair             pairRecord JSON: its       PresenceTTL
//	                                  roulette pair room, partner
//	sess#<session>   rlast            last roulette partner      1 hour
//	rq#<n>#*         w#<since>#<session>#<r>  Waiter JSON: a listing  QueueTTL, refreshed
//	                                  of every waiter in shard n
//	rq#<n>#t#<tag>   w#<since>#<session>#<r>  the same, of the waiters with interest tag
//	revoked#<sess>   revoked          (empty) tokens revoked     TokenTTL + 1 h after RevokeSession
//	addr#<addr>      conn#<conn>      (empty) open connections   PresenceTTL, refreshed
//	addr#<addr>      rq#<session>     (empty) roulette waiters   2 minutes, refreshed
//	addr#<addr>      sess#<hour>      counter N: new sessions    two hours
//	addr#<addr>      room#<hour>      counter N: rooms created   two hours
//	addr#<addr>      game#<minute>    counter N: games opened    two minutes
//
// <addr> is AddrKey of the connection's address (an IPv4 address or an IPv6
// /64); in member items it is empty when the address is unknown. The
// addr#<addr> items are counted with a Query of at most limit+1 items
// (add-then-check) or are counters like rate#.
//
// Default rooms (Options.Rooms) have no meta item. A name's skeleton is
// nameKey(name) (names.go): the lower case of a plain ASCII name. Messages
// are the only items a Storage may drop to stay within a memory budget (see
// EvictablePrefix).
func connKey(conn string) Key { return Key{Partition: "conn#" + conn, Sort: "conn"} }

func sessPart(sid string) string { return "sess#" + sid }

func sessKey(sid string) Key { return Key{Partition: sessPart(sid), Sort: "sess"} }

func revokedKey(sid string) Key { return Key{Partition: "revoked#" + sid, Sort: "revoked"} }

func roomSort(rid string) string { return "room#" + rid }

func roomPart(rid string) string { return "room#" + rid }

func metaKey(rid string) Key { return Key{Partition: roomPart(rid), Sort: "meta"} }

func seqKey(rid string) Key { return Key{Partition: roomPart(rid), Sort: "seq"} }

func memKey(rid, sid string) Key { return Key{Partition: roomPart(rid), Sort: "mem#" + sid} }

// statusSort is the sort key of a room's status item. It is a prefix of
// the member items' sort keys, so that the members Query (prefix "mem")
// reads it with them.
const statusSort = "mem"

func statusKey(rid string) Key { return Key{Partition: roomPart(rid), Sort: statusSort} }

// msgSeq returns the seq of a message item's sort key (see msgSort).
func msgSeq(sort string) int64 {
	n, _ := strconv.ParseInt(strings.TrimLeft(sort[len("msg#"):], "0"), 10, 64)
	return n
}

func nameKeyOf(rid, name string) Key {
	return Key{Partition: roomPart(rid), Sort: "name#" + nameKey(name)}
}

func msgKey(rid string, seq int64) Key { return Key{Partition: roomPart(rid), Sort: msgSort(seq)} }

// msgSort zero-pads seq so that sort keys order like numbers.
func msgSort(seq int64) string {
	var b [20]byte
	s := strconv.AppendInt(b[:0], seq, 10)
	const width = 16
	out := make([]byte, 0, 4+width)
	out = append(out, "msg#"...)
	for i := len(s); i < width; i++ {
		out = append(out, '0')
	}
	return string(append(out, s...))
}

const directoryPart = "rooms"

// EvictablePrefix returns the sort-key prefix of the items of partition
// that a Storage may drop to stay within a memory budget, and whether it
// has any: a room's messages ("msg#" in "room#<room>"). Dropping them
// oldest first (lowest sort key first: their sort keys order like their
// sequence numbers) only makes the room's history start later; the Hub
// keeps working, and nothing else (sessions, connections, members, names,
// counters, room metadata) may be dropped without breaking it.
func EvictablePrefix(partition string) (string, bool) {
	if strings.HasPrefix(partition, "room#") {
		return "msg#", true
	}
	return "", false
}

// memberRec is a decoded member item. role is the role the OnJoin hook
// gave for this membership ("" if none); mute is "" when the member may
// send, else the Unix second its mute ends ("0": until unmuted), copied
// from the room's meta at join and by room.mute and room.unmute, so that a
// send needs no read of the meta.
type memberRec struct {
	sid, conn, name, addr, role, mute string
	room                              string // the room whose member it is
	version                           int64  // the member item's version
}

// value encodes a member item's value.
func (r *memberRec) value() []byte {
	v := r.conn + "\n" + r.name + "\n" + r.addr
	if r.role != "" || r.mute != "" {
		v += "\n" + r.role
	}
	if r.mute != "" {
		v += "\n" + r.mute
	}
	return []byte(v)
}

// memberValue encodes the value of a member item without a mute; addr is
// the AddrKey of the member's connection, role the role OnJoin gave ("" for
// none).
func memberValue(conn, name, addr, role string) []byte {
	r := memberRec{conn: conn, name: name, addr: addr, role: role}
	return r.value()
}

// muted reports whether the member may not send at now.
func (r *memberRec) muted(now time.Time) bool {
	if r.mute == "" {
		return false
	}
	until, _ := strconv.ParseInt(r.mute, 10, 64)
	return until == 0 || now.Unix() < until
}

// muteField is a member item's mute field for mu (ok: a mute exists).
func muteField(mu muteInfo, ok bool) string {
	if !ok {
		return ""
	}
	return strconv.FormatInt(mu.Until, 10)
}

// parseMember decodes a member item's value: "<conn>\n<name>\n<addr>",
// followed by "\n<role>" when OnJoin gave one or a mute follows, then
// "\n<mute>" when muted ("<conn>\n<name>" before per-address limits: addr
// is then empty). Names, address keys, roles and mutes never contain a
// newline (CleanName rejects control characters; AddrKey hashes them away;
// roles are one of the Role constants; mutes are numbers).
//
// The strings share memory with v instead of copying it: Storage values are
// immutable by contract, and fan-out to a large room decodes every member
// for every message.
func parseMember(v []byte) memberRec {
	conn, rest, _ := bytes.Cut(v, []byte{'\n'})
	name, rest, _ := bytes.Cut(rest, []byte{'\n'})
	addr, rest, _ := bytes.Cut(rest, []byte{'\n'})
	role, mute, _ := bytes.Cut(rest, []byte{'\n'})
	return memberRec{conn: view(conn), name: view(name), addr: view(addr), role: view(role), mute: view(mute)}
}

// view returns b as a string without copying. b must never change.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Slots of open games (game_limits.go).
const openSlotPrefix = "open#"

func roomSlotKey(rid string, n int) Key {
	return Key{Partition: roomPart(rid), Sort: openSlotPrefix + "r#" + itoa(int64(n))}
}

func sessionSlotKey(rid, sid string, n int) Key {
	return Key{Partition: roomPart(rid), Sort: openSlotPrefix + "s#" + sid + "#" + itoa(int64(n))}
}

func globalSlotKey(n int) Key { return Key{Partition: "gopen#" + itoa(int64(n)), Sort: "slot"} }
