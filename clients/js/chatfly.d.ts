// Types of chatfly.js, the browser client of the chatfly wire protocol,
// version 1 (PROTOCOL.md of github.com/chatfly/chatfly). Hand-written: keep
// them in step with chatfly.js and PROTOCOL.md (tsc checks examples/usage.ts
// against them in CI).

/** The wire protocol version this client speaks (welcome.protocol). */
export declare const PROTOCOL: 1;

/**
 * Stable error codes: the server's (PROTOCOL.md, "Errors"), an application's
 * own, or a local failure: "disconnected" (the connection dropped with the
 * request in flight: done or not), "timeout", "closed" (the client is
 * closed), "aborted" (its AbortSignal fired), "too_large" (a frame over
 * limits.frameBytes), "too_long" (a text over limits.textRunes).
 */
export type ErrorCode =
  | "bad_json" | "bad_request" | "unknown_action" | "hello_required" | "already_hello"
  | "invalid_name" | "name_taken" | "invalid_token" | "not_found" | "not_member"
  | "too_long" | "too_large" | "too_many" | "rate_limited" | "rejected" | "forbidden"
  | "illegal_move" | "not_your_turn" | "not_player" | "game_over" | "banned" | "muted"
  | "unavailable" | "internal"
  | "disconnected" | "timeout" | "closed" | "aborted"
  | (string & {});

/** An error frame from the server, or a local failure; `code` is stable. */
export declare class ChatflyError extends Error {
  constructor(code: ErrorCode, message?: string, frame?: ErrorFrame);
  readonly name: "ChatflyError";
  readonly code: ErrorCode;
  /** The server's error frame, when there was one. */
  readonly frame?: ErrorFrame;
  /** For an "error" event of a failed rejoin: the room it was about. */
  room?: string;
}

export interface ErrorFrame {
  type: "error";
  id?: number | string;
  code: ErrorCode;
  message: string;
}

/** A person in a room; `role` is absent for plain members. */
export interface Member {
  id: string;
  name: string;
  role?: "owner" | "moderator";
}

/** A room as rooms, room.info and join describe it. */
export interface RoomInfo {
  id: string;
  name: string;
  topic?: string;
  public: boolean;
  /** People in the room now. */
  members: number;
  /** The seq of its latest message (0 if none). */
  seq: number;
  /**
   * The lifetime of the room's message sequence (join and room.info only;
   * absent while the room has no message): another epoch means the room was
   * wiped and numbering started again.
   */
  epoch?: number;
  /** When its latest message was posted, Unix ms. */
  active?: number;
  /** Made with room.create: it has an owner and expires when unused. */
  custom?: boolean;
}

/** The server's limits, from welcome.limits (chatfly.js keeps to them). */
export interface Limits {
  /** The largest client frame, in bytes (UTF-8). */
  frameBytes: number;
  /** The longest message text, in characters (code points). */
  textRunes: number;
  nameRunes?: number;
  topicRunes?: number;
  reasonRunes?: number;
  /** The largest payload of a custom event, in bytes. */
  eventBytes?: number;
  /** The most messages one history returns. */
  historyPage: number;
  /** The most rooms a session is in at once. */
  rooms?: number;
  /** Typing notices closer together than this (ms) are dropped. */
  typingInterval: number;
  /** At most count frames per window (ms); absent: unlimited. */
  rate?: { count: number; window: number };
}

export interface Welcome {
  type: "welcome";
  /** The session id, stable across resumes. */
  session: string;
  name: string;
  /** The resume token: a bearer credential (kept in `storage`). */
  token?: string;
  /** Set when the application identified the user (no name step). */
  user?: string;
  protocol: number;
  limits?: Limits;
}

export interface Message {
  type: "message";
  room: string;
  seq: number;
  /** Absent for system messages. */
  from?: Member;
  text: string;
  /** Unix ms. */
  ts: number;
  system?: boolean;
}

export interface Joined {
  type: "joined";
  room: RoomInfo;
  members: Member[];
  /** Oldest first; also emitted as "message" events, each seq once. */
  history: Message[];
  /** A rejoin after a reconnection (not a join call). */
  rejoin: boolean;
  /** The room is a new sequence (see the "reset" event). */
  reset: boolean;
}

export interface Presence {
  type: "presence";
  room: string;
  event: "join" | "leave";
  member: Member;
  /** The count after the change. */
  members: number;
}

export interface Typing {
  type: "typing";
  room: string;
  member: Member;
}

export interface Reset {
  room: string;
  /** The new epoch (0 if the server sent none). */
  epoch: number;
  /** The last seq seen in the old sequence. */
  seq: number;
}

export interface StateChange {
  state: "connecting" | "open" | "reconnecting" | "closed";
  /** The close code that caused it (from the close frame when one came). */
  code?: number;
  reason?: string;
  /** ms until the next attempt (reconnecting). */
  delay?: number;
  attempt?: number;
}

export type ModerationAction =
  | "update" | "delete" | "promote" | "demote" | "transfer"
  | "kick" | "ban" | "unban" | "mute" | "unmute";

export interface Moderation {
  type: "moderation";
  room: string;
  action: ModerationAction;
  /** Absent when the application did it. */
  by?: Member;
  target?: Member;
  reason?: string;
  /** The end of a timed mute, Unix ms. */
  until?: number;
  /** The room after an update. */
  info?: RoomInfo;
}

export interface RouletteWaiting {
  type: "roulette.waiting";
  interests?: string[];
  /** Ask again after this many ms (chatfly.js does). */
  retry: number;
}

export interface RouletteMatched {
  type: "roulette.matched";
  /** The private pair room, joined already. */
  room: string;
  partner: Member;
  shared?: string[];
}

export interface RouletteEnded {
  type: "roulette.ended";
  room: string;
  reason: "next" | "left" | "disconnected";
}

/** A game as one seat (or a spectator) sees it. */
export interface Game<View = unknown> {
  id: string;
  name: string;
  title: string;
  status: "open" | "playing" | "over";
  size: number;
  seats: (Member | null)[];
  /** Your seat, -1 for a spectator. */
  you: number;
  /** The seats whose move is awaited. */
  turn?: number[];
  version: number;
  /** When a late player may be claimed against, Unix ms. */
  deadline?: number;
  winners?: number[];
  reason?: "resigned" | "left" | "timeout" | "cancelled";
  /** The game's own view for your seat. */
  view: View;
}

export interface GameState {
  type: "game.state";
  room: string;
  game: Game;
}

export interface GameKind {
  name: string;
  title: string;
  min_players: number;
  max_players: number;
}

export interface GameList {
  type: "game.list";
  room: string;
  games: GameState[];
  available: GameKind[];
}

/** The application's own event (Room.Publish, Hub.SendEvent). */
export interface Custom<Data = unknown> {
  type: "custom";
  /** Absent for an event sent to this session only. */
  room?: string;
  event: string;
  data: Data;
}

/** Sent just before the server closes the connection with code. */
export interface CloseNotice {
  type: "close";
  code: number;
  reason: string;
}

export interface Ok {
  type: "ok";
  room?: string;
}

export interface Bans {
  type: "room.bans";
  room: string;
  bans: { id: string; name: string; at: number; address?: boolean }[];
  mutes: { id: string; name: string; until?: number }[];
}

/** The events of a Client, by type, with what `on` passes to the listener. */
export interface EventMap {
  /** Once per seq, live, from a join's history or fetched to fill a gap. */
  message: Message;
  presence: Presence;
  typing: Typing;
  /** A join's reply (and every rejoin's), before its messages. */
  joined: Joined;
  /** A room is a new sequence: forget what it showed; its latest page follows. */
  reset: Reset;
  /** After every (re)connection's hello. */
  welcome: Welcome;
  state: StateChange;
  /** An error that answers no request (a failed rejoin, an error frame without id). */
  error: ChatflyError;
  moderation: Moderation;
  "roulette.matched": RouletteMatched;
  "roulette.ended": RouletteEnded;
  "game.state": GameState;
  custom: Custom;
  close: CloseNotice;
}

export interface ClientOptions {
  /** The endpoint: a ws(s):// or http(s):// URL, or a path on this page's host. Default "/ws" (browsers). */
  url?: string;
  /** The display name for a new session. */
  name?: string;
  /** Where the resume token is kept; null: memory only. Default sessionStorage. */
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null;
  /** The storage key of the token. Default "chatfly.token". */
  tokenKey?: string;
  /** A resume token to start with. */
  token?: string;
  /** Request timeout, ms. Default 15000. */
  timeout?: number;
  /** A dial or hello not welcomed within it is dropped and tried again, ms. Default 10000. */
  connectTimeout?: number;
  /** Closes the client when it aborts (ready and requests reject with "aborted"). */
  signal?: AbortSignal;
  /** The largest frame to send, bytes, until the server says. Default 16384. */
  maxFrameBytes?: number;
  /** Reconnect backoff bounds, ms. Defaults 250 and 15000. */
  minDelay?: number;
  maxDelay?: number;
  /** The WebSocket constructor (Node 20, React Native, tests). Default globalThis.WebSocket. */
  WebSocket?: new (url: string) => WebSocket;
}

export interface CreateRoomOptions {
  topic?: string;
  visibility?: "public" | "private";
}

export interface GameStartOptions {
  /** Session ids of the invited players (in the room). */
  invite?: string[];
  players?: number;
}

/**
 * One chatfly session: it connects, says hello (resuming with its token),
 * reconnects with backoff, rejoins its rooms and catches up, delivering each
 * message once. Requests made while it reconnects wait until it is back.
 */
export declare class Client extends EventTarget {
  constructor(opts?: ClientOptions);
  readonly url: string;
  /** The session's name (the server's, once welcomed). */
  name: string;
  readonly state: "idle" | StateChange["state"];
  /** The latest welcome frame, null before the first. */
  readonly welcome: Welcome | null;
  /** The limits it keeps to: the server's once welcomed. */
  readonly limits: Limits;
  /** Resolves once welcomed the first time; rejects on a refused hello, close or abort. */
  readonly ready: Promise<Client>;

  /** Subscribes fn to events of type; returns the function that unsubscribes. */
  on<K extends keyof EventMap>(type: K, fn: (ev: EventMap[K]) => void): () => void;
  /** Any other server event type, under its own name. */
  on(type: string, fn: (ev: any) => void): () => void;

  /** Sends any action and resolves with its reply frame (or rejects with a ChatflyError). */
  request<R = any>(action: string, fields?: Record<string, unknown>): Promise<R>;
  ping(): Promise<{ type: "pong"; ts: number }>;
  /** Calls the application's action ("app.…") and resolves with its result's data. */
  call<R = unknown>(action: `app.${string}`, data?: unknown): Promise<R>;

  /** A page of public rooms, busiest first; next is absent on the last page. */
  rooms(opts?: { cursor?: string; limit?: number }): Promise<{ rooms: RoomInfo[]; next?: string }>;
  roomInfo(room: string): Promise<RoomInfo>;
  /**
   * Joins room and rejoins it after every reconnection (with after, catching
   * up), until leave, a kick or ban of this user, or the room's deletion; its
   * history comes as "message" events.
   */
  join(room: string, opts?: { after?: number }): Promise<Joined>;
  leave(room: string): Promise<{ type: "left"; room: string }>;
  /** Posts text; one over limits.textRunes rejects with "too_long", unsent. */
  send(room: string, text: string): Promise<{ type: "sent"; room: string; seq: number }>;
  /** Messages with seq < before (the latest if omitted), oldest first. */
  history(room: string, opts?: { before?: number; limit?: number }): Promise<{ type: "history"; room: string; messages: Message[]; more: boolean }>;
  /** Tells the room the user is typing (throttled); returns whether it sent it. */
  typing(room: string): boolean;
  /** The highest seq seen in room (0 if none). */
  lastSeq(room: string): number;

  roomCreate(name: string, opts?: CreateRoomOptions): Promise<RoomInfo>;
  roomUpdate(room: string, changes: { name?: string } & CreateRoomOptions): Promise<Ok>;
  roomDelete(room: string): Promise<Ok>;
  roomBans(room: string): Promise<Bans>;
  kick(room: string, member: string, opts?: { reason?: string }): Promise<Ok>;
  /** address: also ban the member's network (IPv4 address or IPv6 /64). */
  ban(room: string, member: string, opts?: { reason?: string; address?: boolean }): Promise<Ok>;
  unban(room: string, member: string): Promise<Ok>;
  /** duration in seconds; none: until unmuted. */
  mute(room: string, member: string, opts?: { duration?: number }): Promise<Ok>;
  unmute(room: string, member: string): Promise<Ok>;
  promote(room: string, member: string): Promise<Ok>;
  demote(room: string, member: string): Promise<Ok>;
  transfer(room: string, member: string): Promise<Ok>;

  /** Queues for a partner; while waiting it asks again by itself and emits "roulette.matched" once paired. */
  rouletteJoin(interests?: string[]): Promise<RouletteWaiting | RouletteMatched>;
  /** Ends the current pair and queues again. */
  rouletteNext(interests?: string[]): Promise<RouletteWaiting | RouletteMatched>;
  rouletteLeave(): Promise<{ type: "roulette.left" }>;

  gameList(room: string): Promise<GameList>;
  gameStart(room: string, game: string, opts?: GameStartOptions): Promise<Game>;
  /** move is the game's own shape, e.g. {cell: 4} for tictactoe. */
  gameMove(room: string, game: string, move: unknown): Promise<Game>;
  gameAccept(room: string, game: string): Promise<Game>;
  gameResign(room: string, game: string): Promise<Game>;
  gameClaim(room: string, game: string): Promise<Game>;
  gameRematch(room: string, game: string): Promise<Game>;

  /** Hangs up for good; pending requests reject with "closed". */
  close(): void;
}

/** Opens a Client and resolves once welcomed, or rejects with the refused hello's error (or "aborted"). */
export declare function connect(opts?: ClientOptions): Promise<Client>;
