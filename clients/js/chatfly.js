// chatfly.js: the browser client of the chatfly wire protocol, version 1
// (PROTOCOL.md), an ES module with no dependencies. Its API, events and
// behaviour are documented in chatfly.d.ts and README.md of the npm package
// @chatfly/client (clients/js of the chatfly repository):
//
//   import { connect } from "/chatfly.js";
//   const chat = await connect({ name: "Ada" }); // url: /ws on this host
//   chat.on("message", (m) => console.log(m.from?.name, m.text));
//   await chat.join("lobby");
//   await chat.send("lobby", "hello");

export const PROTOCOL = 1;

export class ChatflyError extends Error {
  constructor(code, message, frame) {
    super(message || code);
    this.name = "ChatflyError";
    this.code = code;
    this.frame = frame;
  }
}

// Close codes after which reconnecting would not help (PROTOCOL.md); 1000
// only when a close frame said so (API Gateway closes every socket with
// 1000, also at its idle and 2-hour limits).
const FINAL_CLOSE = new Set([1000, 1008, 4001]);
// Hello errors that another attempt would not fix.
const FINAL_HELLO = new Set(["invalid_name", "rejected", "forbidden", "bad_request", "already_hello"]);
const SEEN_MAX = 2000; // seqs remembered per room for de-duplication

function wsURL(url) {
  const base = globalThis.location ? globalThis.location.href : undefined;
  const u = new URL(url || "/ws", base);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  return u.href;
}

function defaultStorage() {
  try {
    return globalThis.sessionStorage || null;
  } catch {
    return null; // storage blocked (sandboxed frame, privacy settings)
  }
}

// Client is one session (chatfly.d.ts). A reply never doubles as an event;
// after a moderation event that puts the user out of a room (kick or ban of
// them, delete) it no longer rejoins that room.
export class Client extends EventTarget {
  constructor(opts = {}) {
    super();
    this.url = wsURL(opts.url);
    this.name = opts.name || "";
    this.storage = opts.storage === undefined ? defaultStorage() : opts.storage;
    this.tokenKey = opts.tokenKey || "chatfly.token";
    this.token = opts.token || "";
    try {
      if (!this.token && this.storage) this.token = this.storage.getItem(this.tokenKey) || "";
    } catch {
      // storage blocked: start without a token
    }
    this.timeout = opts.timeout || 15000;
    this.WebSocket = opts.WebSocket || globalThis.WebSocket;
    this.connectTimeout = opts.connectTimeout || 10000;
    this.maxFrameBytes = opts.maxFrameBytes || 16384;
    this.limits = { frameBytes: this.maxFrameBytes, textRunes: 2000, typingInterval: 3000, historyPage: 100 };
    this.minDelay = opts.minDelay || 250;
    this.maxDelay = opts.maxDelay || 15000;
    this.state = "idle";
    this.welcome = null;
    this._ws = null;
    this._rooms = new Map(); // joined rooms: id -> {seq, seen}
    this._pending = new Map(); // request id -> {resolve, reject, timer}
    this._waiters = new Set(); // requests waiting for "open"
    this._typed = new Map(); // room -> last typing time
    this._nextId = 1;
    this._attempt = 0;
    this._opened = false; // a hello succeeded once
    this._closed = false;
    this._handshaking = null;
    this._lastSent = 0;
    this._log = []; // times of the frames sent within the rate window
    this.ready = new Promise((res, rej) => {
      this._ready = { res, rej };
    });
    this.ready.catch(() => {}); // the caller may never look
    this._online = () => {
      if (this.state === "reconnecting" && this._timer) this._retryNow();
    };
    globalThis.addEventListener?.("online", this._online);
    this._ping = setInterval(() => {
      if (this.state === "open" && Date.now() - this._lastSent > 300000) this.request("ping").catch(() => {});
    }, 60000);
    const sig = (this._signal = opts.signal);
    this._abort = () => this._shut(new ChatflyError("aborted", String(sig.reason?.message || sig.reason || "aborted")), 1000);
    sig?.addEventListener?.("abort", this._abort);
    // Dial after the caller had a chance to subscribe (it sees "connecting").
    queueMicrotask(() => (sig?.aborted ? this._abort() : this._closed || this._dial()));
  }

  on(type, fn) {
    const h = (e) => fn(e.detail);
    this.addEventListener(type, h);
    return () => this.removeEventListener(type, h);
  }

  async request(action, fields = {}) {
    await this._whenOpen();
    try {
      return await this._call(action, fields, this._ws);
    } catch (err) {
      // The server lost this connection's state: say hello again, then retry once.
      if (err.code !== "hello_required" || this.state !== "open") throw err;
      await this._handshake(this._ws);
      return this._call(action, fields, this._ws);
    }
  }

  async rooms({ cursor, limit } = {}) {
    const f = {};
    if (cursor) f.cursor = cursor;
    if (limit) f.limit = limit;
    const r = await this.request("rooms", f);
    return { rooms: r.rooms, next: r.next };
  }

  async roomInfo(room) {
    return (await this.request("room.info", { room })).room;
  }

  async join(room, opts = {}) {
    const f = { room };
    if (opts.after > 0) f.after = opts.after;
    return this._joined(room, await this.request("join", f), false);
  }

  async leave(room) {
    this._rooms.delete(room);
    return this.request("leave", { room });
  }

  async send(room, text) {
    const max = this.limits.textRunes;
    if ([...text].length > max) throw new ChatflyError("too_long", "text is longer than " + max + " characters");
    return this.request("send", { room, text });
  }

  history(room, opts = {}) {
    const f = { room };
    if (opts.before > 0) f.before = opts.before;
    if (opts.limit > 0) f.limit = opts.limit;
    return this.request("history", f);
  }

  typing(room) {
    const now = Date.now();
    if (this.state !== "open" || now - (this._typed.get(room) || 0) < this.limits.typingInterval || this._wait() > 0) return false;
    try {
      this._write({ action: "typing", room });
    } catch {
      return false;
    }
    this._typed.set(room, now);
    return true;
  }

  ping() {
    return this.request("ping");
  }

  call(a, data) {
    return this.request(a, { data }).then((r) => r.data);
  }

  async roomCreate(name, opts = {}) {
    return (await this.request("room.create", { ...opts, name })).room;
  }

  roomUpdate(room, changes) {
    return this.request("room.update", { ...changes, room });
  }

  roomDelete(room) {
    return this.request("room.delete", { room });
  }

  roomBans(room) {
    return this.request("room.bans", { room });
  }

  async gameStart(room, game, opts = {}) {
    return (await this.request("game.start", { ...opts, room, game })).game;
  }

  async gameMove(room, game, move) {
    return (await this.request("game.move", { room, game, move })).game;
  }

  gameList(room) {
    return this.request("game.list", { room });
  }

  rouletteJoin(interests = []) {
    return this._roulette("roulette.join", interests);
  }

  rouletteNext(interests = []) {
    this._pair = null;
    return this._roulette("roulette.next", interests);
  }

  rouletteLeave() {
    clearTimeout(this._rl);
    this._pair = null;
    return this.request("roulette.leave");
  }

  async _roulette(action, interests) {
    clearTimeout(this._rl);
    const f = await this.request(action, { interests });
    if (f.type === "roulette.matched") this._pair = f.room;
    else if (!this._pair && !this._closed) {
      this._rl = setTimeout(() => {
        const known = this._pair;
        this._roulette("roulette.join", f.interests || interests).then(
          (m) => m.type === "roulette.matched" && m.room !== known && this._emit("roulette.matched", m),
          (err) => err.code === "closed" || err.code === "aborted" || this._emit("error", err),
        );
      }, f.retry || 20000);
    }
    return f;
  }

  lastSeq(room) {
    const r = this._rooms.get(room);
    return r ? r.seq : 0;
  }

  close() {
    this._shut(new ChatflyError("closed", "client closed"), 1000);
  }

  // _shut ends the client with err (closed by us, by the server, aborted).
  _shut(err, code, reason) {
    if (this._closed) return;
    this._closed = true;
    this._err = err;
    this._signal?.removeEventListener?.("abort", this._abort);
    for (const t of [this._timer, this._dialTimer, this._rl]) clearTimeout(t);
    clearInterval(this._ping);
    globalThis.removeEventListener?.("online", this._online);
    const ws = this._ws;
    this._ws = null;
    if (ws) ws.close(1000);
    this._fail(err);
    this._ready.rej(err);
    this._setState("closed", { code, reason });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _setState(state, extra = {}) {
    this.state = state;
    if (state === "open") for (const w of this._waiters) w.res();
    this._emit("state", { state, ...extra });
  }

  _dial() {
    this._timer = null;
    this._setState(this._opened ? "reconnecting" : "connecting", { attempt: this._attempt });
    const ws = new this.WebSocket(this.url);
    this._ws = ws;
    clearTimeout(this._dialTimer);
    this._dialTimer = setTimeout(() => this._handshakeFailed(ws, new ChatflyError("timeout", "connecting timed out")), this.connectTimeout);
    ws.onopen = () => {
      this._handshake(ws).catch((err) => this._handshakeFailed(ws, err));
    };
    ws.onmessage = (e) => {
      if (ws === this._ws && typeof e.data === "string") this._data(e.data);
    };
    // A "close" frame (API Gateway closes every socket with 1000) carries
    // the code that decides whether to reconnect.
    ws.onclose = (e) => {
      const n = ws === this._ws ? this._closeNotice : null;
      this._closeNotice = null;
      this._onClose(ws, n ? n.code : e.code, n ? n.reason : e.reason, false, !!n);
    };
  }

  _handshake(ws) {
    if (!this._handshaking) {
      this._handshaking = this._hello(ws).finally(() => {
        this._handshaking = null;
      });
    }
    return this._handshaking;
  }

  async _hello(ws) {
    let w = null;
    if (this.token) {
      try {
        w = await this._call("hello", { token: this.token }, ws);
      } catch (err) {
        if (err.code !== "invalid_token") throw err;
        this._saveToken(""); // expired or from another secret: start over by name
      }
    }
    if (!w) w = await this._call("hello", { name: this.name }, ws);
    this.welcome = w;
    this.name = w.name;
    this.limits = { ...this.limits, ...w.limits };
    this.limits.frameBytes = Math.min(this.maxFrameBytes, this.limits.frameBytes);
    this._saveToken(w.token || "");
    this._emit("welcome", w);
    for (const [room, r] of [...this._rooms]) {
      const f = { room };
      if (r.seq > 0) f.after = r.seq;
      try {
        let j = await this._call("join", f, ws);
        // A new sequence: after meant nothing there, the latest page does.
        if (f.after && this._isReset(r, j)) j = await this._call("join", { room }, ws);
        const d = this._joined(room, j, true);
        // A join with after returns at most one page: fetch the rest of a long absence.
        const top = this.lastSeq(room);
        if (!d.reset && j.room && j.room.seq > top) await this._fill(room, top, j.room.seq, ws);
      } catch (err) {
        if (err.code === "disconnected") throw err;
        this._rooms.delete(room);
        err.room = room;
        this._emit("error", err);
      }
    }
    if (ws === this._ws) clearTimeout(this._dialTimer);
    this._openedAt = Date.now();
    this._opened = true;
    this._setState("open");
    this._ready.res(this);
  }

  // _fill: chatfly-gaps.js fetches unseen from < seq <= to; live ones wait.
  _fill(room, from, to, ws, held = []) {
    const r = this._rooms.get(room);
    r.held = held;
    return import("./chatfly-gaps.js").then((g) => g.fill(this, room, from, to, ws)).finally(() => {
      r.held = null;
      for (const m of held.sort((a, b) => a.seq - b.seq)) this._live(m);
    });
  }

  // _live: a message that skips seqs (a cluster's relay lost some) waits for them.
  _live(f) {
    const r = this._rooms.get(f.room);
    if (r?.held) r.held.push(f);
    else if (r && f.seq > r.seq + 1 && this._ws) this._fill(f.room, r.seq, f.seq - 1, this._ws, [f]).catch(() => {});
    else if (this._accept(f)) this._emit("message", f);
  }

  _handshakeFailed(ws, err) {
    if (ws !== this._ws) return;
    if (FINAL_HELLO.has(err.code)) {
      this._emit("error", err);
      this._shut(err, 1000);
      return;
    }
    // Anything else (unavailable, rate_limited, a dropped socket): try again later.
    this._ws = null;
    ws.onclose = null;
    ws.close(1000);
    this._onClose(ws, 1011, err.message, true);
  }

  _saveToken(token) {
    this.token = token;
    try {
      if (!this.storage) return;
      if (token) this.storage.setItem(this.tokenKey, token);
      else this.storage.removeItem(this.tokenKey);
    } catch {
      // storage full or blocked: the token lives in memory only
    }
  }

  // _onClose: told, the code came in a close frame.
  _onClose(ws, code, reason, detached, told) {
    if (!detached && ws !== this._ws) return;
    this._ws = null;
    if (this._closed) return;
    if (FINAL_CLOSE.has(code) && (code !== 1000 || told)) {
      this._shut(new ChatflyError("closed", reason || "closed by the server (" + code + ")"), code, reason);
      return;
    }
    this._fail(new ChatflyError("disconnected", "connection lost"));
    // A connection that lasted a minute starts the backoff over; one closed
    // sooner (a server that keeps dropping us) does not.
    if (this._openedAt && Date.now() - this._openedAt >= 60000) this._attempt = 0;
    this._openedAt = 0;
    // Full jitter within [d/2, d], d doubling from minDelay up to maxDelay.
    // A server going away (1001, or a bare 1000: an API Gateway limit) gets
    // a short spread-out first delay.
    let d = Math.min(this.maxDelay, this.minDelay * 2 ** this._attempt);
    if ((code === 1001 || code === 1000) && this._attempt === 0) d = 4 * this.minDelay; // 0.5–1 s by default
    const delay = Math.round(d / 2 + (Math.random() * d) / 2);
    this._attempt++;
    this._timer = setTimeout(() => this._dial(), delay);
    this._setState("reconnecting", { code, reason, delay, attempt: this._attempt });
  }

  _retryNow() {
    clearTimeout(this._timer);
    this._dial();
  }

  // _fail rejects every request in flight and every waiter.
  _fail(err) {
    for (const p of this._pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this._pending.clear();
    if (this._closed) {
      for (const w of this._waiters) w.rej(err);
      this._waiters.clear();
    }
  }

  _whenOpen() {
    if (this.state === "open") return Promise.resolve();
    if (this._closed) return Promise.reject(this._err);
    return new Promise((res, rej) => {
      const w = {
        res: () => done(res),
        rej: (e) => done(() => rej(e)),
      };
      const timer = setTimeout(() => w.rej(new ChatflyError("timeout", "not connected to the chat server")), this.timeout);
      const done = (f) => {
        clearTimeout(timer);
        this._waiters.delete(w);
        f();
      };
      this._waiters.add(w);
    });
  }

  _write(frame) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1) throw new ChatflyError("disconnected", "not connected");
    const s = JSON.stringify(frame);
    if (new TextEncoder().encode(s).length > this.limits.frameBytes) throw new ChatflyError("too_large", "frame too large");
    ws.send(s);
    this._lastSent = Date.now();
    if (this.limits.rate) this._log.push(this._lastSent);
  }

  // _wait returns how long (ms) until a frame keeps within the server's
  // rate: count frames in any window (plus a margin for network jitter).
  _wait() {
    const r = this.limits.rate;
    if (!r) return 0;
    const now = Date.now();
    const span = r.window + Math.min(500, r.window / 10);
    while (this._log.length && now - this._log[0] >= span) this._log.shift();
    return this._log.length < r.count ? 0 : this._log[this._log.length - r.count] + span - now;
  }

  async _call(action, fields, ws) {
    for (let d; (d = this._wait()) > 0; ) await new Promise((res) => setTimeout(res, d));
    return new Promise((resolve, reject) => {
      if (this._closed) return reject(this._err);
      if (ws !== this._ws) return reject(new ChatflyError("disconnected", "connection lost"));
      const id = this._nextId++;
      try {
        this._write({ ...fields, action, id });
      } catch (err) {
        return reject(err);
      }
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new ChatflyError("timeout", action + " timed out"));
      }, this.timeout);
      this._pending.set(id, { resolve, reject, timer });
    });
  }

  _data(data) {
    for (const line of data.split("\n")) {
      if (!line) continue;
      let f;
      try {
        f = JSON.parse(line);
      } catch {
        continue; // not ours to fix
      }
      if (f && typeof f === "object") this._frame(f);
    }
  }

  _frame(f) {
    if (f.type === "close" && typeof f.code === "number") this._closeNotice = { code: f.code, reason: f.reason || "" };
    const p = f.id === undefined ? null : this._pending.get(f.id);
    if (p) {
      this._pending.delete(f.id);
      clearTimeout(p.timer);
      if (f.type === "error") p.reject(new ChatflyError(f.code, f.message, f));
      else p.resolve(f);
      return;
    }
    if (f.type === "roulette.matched") {
      clearTimeout(this._rl);
      this._pair = f.room;
    } else if (f.type === "roulette.ended" && f.room === this._pair) this._pair = null;
    if (f.type === "message") {
      this._live(f);
    } else if (f.type === "error") {
      this._emit("error", new ChatflyError(f.code, f.message, f));
    } else if (typeof f.type === "string" && f.type) {
      const a = f.action;
      if (f.type === "moderation" && (a === "delete" || ((a === "kick" || a === "ban") && f.target?.id === this.welcome?.session))) {
        this._rooms.delete(f.room);
      }
      this._emit(f.type, f);
    }
  }

  // _accept records a message's seq and reports whether it is new.
  _accept(m) {
    const r = this._rooms.get(m.room);
    if (!r || typeof m.seq !== "number") return true;
    if (r.seen.has(m.seq)) return false;
    r.seen.add(m.seq);
    if (r.seen.size > SEEN_MAX) r.seen.delete(r.seen.values().next().value);
    if (m.seq > r.seq) r.seq = m.seq;
    return true;
  }

  // _isReset reports whether joined j is of another sequence than the one
  // seen in r: another epoch, or a seq below the last seen.
  _isReset(r, j) {
    const i = j.room || {};
    return !!r && ((r.epoch && i.epoch && i.epoch !== r.epoch) || i.seq < r.seq);
  }

  _joined(room, j, rejoin) {
    let r = this._rooms.get(room);
    const reset = this._isReset(r, j);
    if (reset) this._emit("reset", { room, epoch: j.room.epoch || 0, seq: r.seq });
    if (!r || reset) {
      r = { seq: 0, seen: new Set() };
      this._rooms.set(room, r);
    }
    r.epoch = j.room?.epoch || r.epoch || 0;
    const fresh = (j.history || []).filter((m) => this._accept({ ...m, room }));
    const detail = { ...j, rejoin, reset };
    this._emit("joined", detail);
    for (const m of fresh) this._emit("message", { room, ...m });
    return detail;
  }
}

// Moderation: kick(room, member, {reason}) and the like (chatfly.d.ts).
for (const a of ["kick", "ban", "unban", "mute", "unmute", "promote", "demote", "transfer"]) {
  Client.prototype[a] = function (room, member, opts) {
    return this.request("room." + a, { ...opts, room, member });
  };
}
// gameAccept(room, game) and the like resolve with the game's new state.
for (const a of ["Accept", "Resign", "Claim", "Rematch"]) {
  Client.prototype["game" + a] = async function (room, game) {
    return (await this.request("game." + a.toLowerCase(), { room, game })).game;
  };
}

export async function connect(opts) {
  const c = new Client(opts);
  try {
    await c.ready;
  } catch (err) {
    c.close();
    throw err;
  }
  return c;
}
