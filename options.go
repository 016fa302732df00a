package chatfly

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Default limits. Each can be changed in [Options].
const (
	// DefaultMaxFrameBytes is the largest client frame accepted, well under
	// API Gateway's 32 KB frame limit.
	DefaultMaxFrameBytes = 16 << 10
	// DefaultMaxTextRunes is the longest message text, in characters.
	DefaultMaxTextRunes = 2000
	// DefaultMaxNameRunes is the longest display name, in characters.
	DefaultMaxNameRunes = 32
	// DefaultHistoryLength is how many recent messages a join returns.
	DefaultHistoryLength = 50
	// DefaultMaxEventBytes is the largest payload of a custom event.
	DefaultMaxEventBytes = 8 << 10
	// DefaultTypingMaxMembers is the largest room that gets typing notices.
	DefaultTypingMaxMembers = 50
	// DefaultTypingInterval is how often a session's typing in a room is
	// passed on at most.
	DefaultTypingInterval = 5 * time.Second
)

// MinSecretBytes is the shortest [Options.Secret] accepted: 256 bits, the
// size of the HMAC-SHA256 key that signs resume tokens.
const MinSecretBytes = 32

// CheckSecret reports whether secret can be an [Options.Secret]: an error
// saying why not if it is shorter than [MinSecretBytes] bytes (an empty one
// included), nil otherwise. Programs that read the secret from a flag or the
// environment call it to refuse to start with a clear message.
func CheckSecret(secret []byte) error {
	if len(secret) < MinSecretBytes {
		return errors.New("chatfly: the secret has " + itoa(int64(len(secret))) + " bytes, it needs at least " +
			itoa(MinSecretBytes) + " random bytes (for example: openssl rand -base64 32), the same for every server sharing the storage")
	}
	return nil
}

// Options configures a [Hub]. A nil *Options, and every zero field, means the
// documented default; defaults are applied in one place, by [New].
type Options struct {
	// Rooms are the default rooms: they always exist, have no stored state
	// and no owner, and the public ones are listed first by the rooms
	// action, in order. Default: none; [DefaultRooms] returns the lobby,
	// random and games rooms of the standalone app.
	Rooms []RoomConfig

	// HistoryLength is how many recent messages join returns.
	// Default DefaultHistoryLength.
	HistoryLength int
	// MaxHistoryPage is the most messages one history action returns.
	// Default 100.
	MaxHistoryPage int
	// RoomMessageCap is how many messages a room keeps; older ones are
	// deleted as new ones arrive. Default 1000. Negative: unlimited (only
	// MessageTTL applies).
	RoomMessageCap int
	// MessageTTL is how long a message is kept. Default 7 days.
	MessageTTL time.Duration

	// MaxFrameBytes is the largest client frame accepted.
	// Default DefaultMaxFrameBytes.
	MaxFrameBytes int
	// MaxTextRunes is the longest message text, in characters.
	// Default DefaultMaxTextRunes.
	MaxTextRunes int
	// MaxNameRunes is the longest display name, in characters.
	// Default DefaultMaxNameRunes. Names are always at least 1 character.
	MaxNameRunes int
	// MaxRoomsPerSession limits how many rooms one session is in at once.
	// Default 10.
	MaxRoomsPerSession int
	// MaxMembersPerRoom limits how many people are in one room at once.
	// Default 1000.
	MaxMembersPerRoom int

	// RoomTTL is how long a room created with room.create lives without
	// members and without messages; it then disappears with its messages,
	// roles and bans. A room with members never expires. Default 24 hours.
	RoomTTL time.Duration
	// RoomsPerHour limits how many rooms one identity creates per hour.
	// Default 10.
	RoomsPerHour int
	// MaxTopicRunes is the longest room topic, in characters. Default 200.
	MaxTopicRunes int
	// MaxBansPerRoom limits the ban list of one room. Default 1000.
	MaxBansPerRoom int
	// MaxReasonRunes is the longest reason given with a moderation action
	// (room.kick, room.ban), in characters. Default 200.
	MaxReasonRunes int
	// MaxMuteDuration is the longest timed mute (room.mute's duration).
	// Default 30 days. A mute without a duration lasts until unmuted.
	MaxMuteDuration time.Duration

	// RoomsPage is how many rooms a page of the rooms action lists when
	// the client gives no limit. Default 20.
	RoomsPage int
	// MaxRoomsPage is the most rooms one page lists. Default 100.
	MaxRoomsPage int
	// MaxListedRooms is how many public custom rooms the directory lists
	// at most. Beyond it, a new public room is listed only once two
	// different people have written in it, in place of an idle or
	// less busy one, so a flood of new rooms cannot push out rooms in use.
	// It also bounds the cost of a page. The application's public rooms
	// (OpenRoom) are always listed. Default 200.
	MaxListedRooms int
	// MaxCustomRooms limits the rooms made with room.create that exist at
	// once, across every Hub sharing the Storage; room.create beyond it is
	// too_many. Within a few percent of it a creation may be refused a
	// little early (see roomslots.go). Default 10000; negative: no cap.
	MaxCustomRooms int

	// TypingMaxMembers: in a room of more members than this, typing
	// notices are not sent (the typing frame is still accepted): each
	// notice costs one write per member, a PostToConnection each on API
	// Gateway, and "someone is typing" says little in a crowd. Default
	// 50; negative: no limit.
	TypingMaxMembers int
	// TypingInterval: a session's typing notices in one room are sent at
	// most once per interval (a fixed window, counted in Storage like the
	// rate limit, so across Hubs); the others are dropped. Default 5
	// seconds, about as long as clients show a notice.
	TypingInterval time.Duration

	// RateLimit limits how many frames a connection may send, hello
	// included. The default is 50 frames per 10 seconds, and a connection
	// that goes on to send twice that in one window is closed. Set Count to
	// a negative value to disable.
	//
	// It is counted per connection, not per session: the connection is
	// known before its record is read, so the count needs no storage call
	// of its own on a host that holds the connection ([Conn]: in memory)
	// and runs beside that read on API Gateway (a counter in Storage). It
	// still bounds a session, which has one connection at a time (a hello
	// on a new connection closes the previous one with [CloseReplaced]): a
	// new connection starts a fresh count, but costs a Connect, which the
	// address limits bound, and a hello.
	RateLimit RateLimit
	// HelloTimeout is how long a new connection may take to say hello.
	// Until hello, its record in Storage expires after HelloTimeout (and
	// frames other than hello extend nothing), so on API Gateway the next
	// frame after it closes the connection; a transport that implements
	// [HelloTimer] (wstransport) closes an idle socket at the deadline with
	// [CloseHelloTimeout]. Default 10 seconds.
	HelloTimeout time.Duration
	// StorageTimeout bounds the Hub's work for one frame, connect or
	// disconnect: its storage calls and the transport calls they lead to.
	// Past it the work is abandoned and the frame is answered with
	// "unavailable" (with its id), so a hung storage costs clients a
	// bounded wait, not silence. On Lambda keep it under the function's
	// timeout, so that the reply still goes out. Default 5 seconds.
	StorageTimeout time.Duration

	// AddressLimits limit what one client address may hold or create,
	// whatever the number of sessions it makes. See [AddressLimits] for
	// the defaults.
	AddressLimits AddressLimits

	// PresenceTTL is how long a connection and its room memberships live in
	// Storage without activity. Connections that vanish without a
	// disconnect event (a crashed server, a lost $disconnect) disappear
	// after it. Clients keep theirs alive with the ping action, which the
	// client libraries send every PresenceTTL/6. Default 30 minutes.
	PresenceTTL time.Duration
	// TokenTTL is how long a resume token is valid. Default 7 days.
	TokenTTL time.Duration
	// Secret signs resume tokens and keys the session ids of verified users
	// (see Identify). It must have at least MinSecretBytes random bytes
	// ([New] panics on a shorter one). Every Hub sharing a Storage must use
	// the same secret, and keep it across restarts: with another secret,
	// resume tokens are refused (anonymous people come back as new sessions
	// and lose the rooms they own until their old name and memberships
	// expire) and verified users get new session ids (their roles, bans and
	// mutes, stored under the old ids, no longer apply to them). Default: a
	// random secret per Hub, which suits memory storage only (tokens then
	// survive reconnects but not a restart of the process).
	Secret []byte

	// Identify, if set, is called for every new connection before the Hub
	// stores anything. It may return a verified identity, which then
	// replaces the anonymous name, or nil to keep the anonymous flow. An
	// error rejects the connection: host adapters answer the upgrade with
	// 403 (or API Gateway's $connect with a non-2xx status) and the
	// error's code and message if it is an *Error, else "rejected" with the
	// generic message (the error's text is logged, not sent).
	Identify func(ctx context.Context, req *ConnectRequest) (*Identity, error)

	// OnMessage, if set, is called before a message is stored. It may
	// rewrite m.Text; an error rejects the message, which is then neither
	// stored nor delivered, and the sender gets an error frame: the
	// error's code and message if it is (or wraps) an *Error, else
	// "rejected" with the generic message "rejected": the text of any
	// other error is logged, never sent, as it may hold internal details.
	OnMessage func(ctx context.Context, s Session, m *Message) error

	// OnJoin, if set, is called before a join is admitted, in every room
	// but roulette pair rooms, after the room's own checks (it exists, the
	// session is not banned). It may refuse the join with an error, or
	// admit it with a role for this membership (see [JoinDecision]).
	// An *Error reaches the client with its code and message; any other
	// error is logged and the client gets a plain "forbidden".
	OnJoin func(ctx context.Context, req JoinRequest) (JoinDecision, error)
	// OnCreateRoom, if set, is called before room.create creates a room,
	// after the input and the creation limits were checked. It may refuse
	// (errors as for OnJoin) or change the room's configuration (see
	// [CreateRoomDecision]).
	OnCreateRoom func(ctx context.Context, req CreateRoomRequest) (CreateRoomDecision, error)
	// Actions are the application's own actions, by name: a client frame
	// {"action":name,"id":...,"data":...} is answered with
	// {"type":"result","id":...,"data":...} from the function's result, or
	// an error frame. Names start with "app." (chatfly never uses that
	// prefix), followed by 1–60 characters of [A-Za-z0-9_.-]; [New] panics
	// on other names. Actions need hello and count against RateLimit like
	// every frame.
	Actions map[string]ActionFunc
	// MaxEventBytes is the largest encoded payload of a custom event
	// ([Room.Publish], [Hub.SendEvent]). Default 8 KiB.
	MaxEventBytes int

	// Matcher pairs roulette waiters. Default: NewMatcher over the Hub's
	// Storage with default MatcherOptions and the Hub's clock.
	Matcher Matcher

	// Games are the games that can be played in rooms, by
	// GameInfo.Name. chatfly/games/builtin lists the built-in ones.
	Games []Game
	// TurnTimeout, if positive, is how long a player may take for a move;
	// past it the opponent may claim the game (game.claim). Zero: no
	// timer, as suits casual games.
	TurnTimeout time.Duration
	// MaxOpenGamesPerSession limits the games one session has waiting for
	// players (status "open") in one room at once. Default 2.
	MaxOpenGamesPerSession int
	// MaxOpenGamesPerRoom limits the games waiting for players in one room
	// at once; game.start beyond it is too_many. Default 10.
	MaxOpenGamesPerRoom int
	// MaxOpenGames limits the games waiting for players in all rooms
	// together, across every Hub sharing the Storage. Near it a start may be
	// refused a little early (see game_limits.go). Default 10000;
	// negative: no server-wide cap.
	MaxOpenGames int
	// OpenGameTTL is how long a game waits for its players (an invitation
	// stands); then it disappears unless it has started. Default 10
	// minutes.
	OpenGameTTL time.Duration
	// MaxGameList is the most games one game.list reply lists, newest
	// first (at most 3 of them finished). Default 20.
	MaxGameList int

	// Observer, if set, is told of every frame the Hub handles (action,
	// duration, error code, storage calls) and of every failed storage or
	// transport call, for metrics: see [Observer]. Default: none, which
	// costs nothing.
	Observer Observer

	// Logger receives the Hub's logs. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default: time.Now. Tests use a fake clock.
	Now func() time.Time
}

// RateLimit is a fixed-window limit: at most Count frames per Window.
type RateLimit struct {
	// Count is the number of frames allowed in one window; zero means the
	// default, negative means unlimited.
	Count int
	// Window is the length of a window. Default 10 seconds.
	Window time.Duration
	// CloseAfter is how many frames over Count, in one window, a
	// connection may send after being told; the next one closes it with
	// [ClosePolicy] and the reason "rate limit exceeded". Frames over Count
	// are dropped without being decoded, and only the first one of a window
	// is answered (rate_limited). Zero means the default, Count (so a
	// connection sending twice the limit in one window is closed); negative
	// means never.
	CloseAfter int
}

// AddressLimits are limits per client address, as keyed by [AddrKey] (an
// IPv4 address, or an IPv6 /64). They are kept in Storage, so they hold
// across all Hubs sharing it. A zero field means its default, a negative one
// turns that limit off. Connections whose address is unknown
// (ConnectRequest.RemoteAddr empty) are not limited. Every refusal is
// too_many with a message that names the limit.
//
// The defaults are meant to stop one script while leaving room for the
// many people behind one school, office or carrier NAT: such a network
// rarely has more than a few dozen people in one chat service at once, and
// each of them makes one session and at most a few rooms and games.
type AddressLimits struct {
	// Connections is the most connections open at once from one address.
	// Connect beyond it fails with too_many (HTTP 429 on the upgrade). A
	// connection counts until its Disconnect, or, if that is lost, until
	// its presence expires (PresenceTTL). Default 32.
	Connections int
	// SessionsPerHour is the most new anonymous sessions (hello with a
	// name) one address starts per clock hour; resuming with a token and
	// verified users do not count. Default 60.
	SessionsPerHour int
	// RoomsPerHour is the most rooms one address creates with room.create
	// per clock hour, on top of the per-session Options.RoomsPerHour.
	// Default 30.
	RoomsPerHour int
	// GamesPerMinute is the most games one address opens with game.start
	// or game.rematch per clock minute. Default 30.
	GamesPerMinute int
	// RouletteWaiting is the most sessions of one address waiting in the
	// roulette queue at once. A waiter counts until it is paired or leaves,
	// or for 2 minutes after its last roulette.join. Default 8.
	RouletteWaiting int
	// RoomShare is the most members of one room from one address, applied
	// once the room is at least half full (MaxMembersPerRoom/2): filling a
	// room then takes many addresses, while small rooms, such as one class
	// behind one NAT, are never affected. Like MaxMembersPerRoom it is
	// checked by each Hub against the members it reads, so Hubs joining
	// people at the same instant may exceed it by a few. Default 8.
	RoomShare int
}

// Identity is a verified user returned by [Options.Identify].
type Identity struct {
	// UserID is the application's stable id for the user. Required.
	UserID string
	// Name is the display name shown to others. It must be a valid name.
	Name string
}

// RoomConfig describes a room that the application creates.
type RoomConfig struct {
	// ID is the room's id: 1–64 characters of [A-Za-z0-9_-].
	ID string `json:"id"`
	// Name is a display name; default the ID.
	Name string `json:"name"`
	// Topic is an optional line shown with the room.
	Topic string `json:"topic,omitempty"`
	// Public rooms are listed by the rooms action; others can be joined
	// only by id.
	Public bool `json:"public,omitempty"`
	// Owners and Moderators give roles in a room opened with
	// [Hub.OpenRoom]: each entry is a verified user id (see
	// [Options.Identify]) or a session id. Owners and moderators may use
	// the room.* moderation actions there as in custom rooms. Default rooms
	// (Options.Rooms) have no stored state and cannot be moderated; their
	// Owners and Moderators are ignored.
	Owners     []string `json:"owners,omitempty"`
	Moderators []string `json:"moderators,omitempty"`
	// MaxMembers, if positive and below Options.MaxMembersPerRoom, is the
	// most people in this room at once (join beyond it is too_many).
	MaxMembers int `json:"maxMembers,omitempty"`
}

// DefaultRooms returns the three public rooms of the standalone app and the
// Lambda example: lobby, random and games. Give them as [Options.Rooms] to
// have them; without Rooms a Hub has no default rooms (an application that
// gives every page or document its own room opens them with [Hub.OpenRoom]).
func DefaultRooms() []RoomConfig {
	return []RoomConfig{
		{ID: "lobby", Name: "Lobby", Topic: "Say hi", Public: true},
		{ID: "random", Name: "Random", Topic: "Anything goes", Public: true},
		{ID: "games", Name: "Games", Topic: "Find someone to play with", Public: true},
	}
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	def := func(v *int, x int) {
		if *v == 0 {
			*v = x
		}
	}
	defDur := func(v *time.Duration, x time.Duration) {
		if *v <= 0 {
			*v = x
		}
	}
	def(&d.HistoryLength, DefaultHistoryLength)
	def(&d.MaxHistoryPage, 100)
	def(&d.RoomMessageCap, 1000)
	defDur(&d.MessageTTL, 7*24*time.Hour)
	def(&d.MaxFrameBytes, DefaultMaxFrameBytes)
	def(&d.MaxTextRunes, DefaultMaxTextRunes)
	def(&d.MaxNameRunes, DefaultMaxNameRunes)
	def(&d.MaxRoomsPerSession, 10)
	def(&d.MaxMembersPerRoom, 1000)
	defDur(&d.RoomTTL, 24*time.Hour)
	def(&d.RoomsPerHour, 10)
	def(&d.MaxTopicRunes, 200)
	def(&d.MaxBansPerRoom, 1000)
	def(&d.MaxReasonRunes, 200)
	def(&d.MaxOpenGamesPerSession, 2)
	def(&d.MaxOpenGamesPerRoom, 10)
	def(&d.MaxOpenGames, 10000)
	defDur(&d.OpenGameTTL, 10*time.Minute)
	def(&d.MaxGameList, 20)
	defDur(&d.MaxMuteDuration, 30*24*time.Hour)
	def(&d.RoomsPage, 20)
	def(&d.MaxRoomsPage, 100)
	def(&d.MaxListedRooms, 200)
	def(&d.MaxCustomRooms, 10000)
	def(&d.MaxEventBytes, DefaultMaxEventBytes)
	def(&d.RateLimit.Count, 50)
	def(&d.AddressLimits.Connections, 32)
	def(&d.AddressLimits.SessionsPerHour, 60)
	def(&d.AddressLimits.RoomsPerHour, 30)
	def(&d.AddressLimits.GamesPerMinute, 30)
	def(&d.AddressLimits.RouletteWaiting, 8)
	def(&d.AddressLimits.RoomShare, 8)
	defDur(&d.RateLimit.Window, 10*time.Second)
	def(&d.RateLimit.CloseAfter, d.RateLimit.Count)
	def(&d.TypingMaxMembers, DefaultTypingMaxMembers)
	defDur(&d.TypingInterval, DefaultTypingInterval)
	defDur(&d.HelloTimeout, 10*time.Second)
	defDur(&d.StorageTimeout, 5*time.Second)
	defDur(&d.PresenceTTL, 30*time.Minute)
	defDur(&d.TokenTTL, 7*24*time.Hour)
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}
