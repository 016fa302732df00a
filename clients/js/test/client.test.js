// Unit tests of chatfly.js against a scripted fake WebSocket (fakews.js),
// for the paths a real server rarely takes. Run: node --test clients/js/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, ChatflyError, connect } from "../chatfly.js";
import { fakeServer, msg as m, sleep, until, url } from "./fakews.js";

const room = (seq, epoch) => ({ id: "lobby", name: "Lobby", public: true, members: 2, seq, ...(epoch ? { epoch } : {}) });

// chat serves a room "lobby" whose messages run up to srv.top, with history.
function chat() {
  const srv = fakeServer();
  srv.top = 2;
  srv.epoch = 0;
  Object.assign(srv.handlers, {
    join: (f) => {
      const h = [];
      for (let s = f.after ? f.after + 1 : Math.max(1, srv.top - 49); s <= srv.top && h.length < 100; s++) h.push(m(s));
      return { type: "joined", room: room(srv.top, srv.epoch), members: [{ id: "s1", name: "Ada" }], history: h };
    },
    history: (f) => {
      const ms = [];
      for (let s = Math.max(1, f.before - f.limit); s < f.before && s <= srv.top; s++) ms.push(m(s));
      return { type: "history", room: "lobby", messages: ms, more: ms.length > 0 && ms[0].seq > 1 };
    },
    send: (f) => ({ type: "sent", room: f.room, seq: ++srv.top }),
  });
  return srv;
}

// open returns a welcomed client of srv that records its events.
async function open(srv, opts = {}) {
  const c = new Client({ url, name: "Ada", storage: null, minDelay: 10, timeout: 300, WebSocket: srv.WebSocket, ...opts });
  const ev = { seen: [], joins: [], states: [], errors: [], resets: [] };
  c.on("message", (x) => ev.seen.push(x.seq));
  c.on("joined", (j) => ev.joins.push((j.rejoin ? "rejoin" : "join") + (j.reset ? " reset" : "")));
  c.on("state", (s) => ev.states.push(s.state + (s.code ? " " + s.code : "")));
  c.on("error", (e) => ev.errors.push(e.code + (e instanceof ChatflyError ? "" : "?")));
  c.on("reset", (r) => ev.resets.push(r));
  c.ev = ev;
  await c.ready;
  return c;
}

test("several events in one frame, duplicates, out of order: the gap is fetched, later seqs wait", async () => {
  const srv = chat();
  const c = await open(srv);
  await c.join("lobby");
  const mark = srv.sent.length;
  srv.top = 4;
  srv.sockets[0].push(m(4), m(3), m(4), { type: "presence", room: "lobby", event: "join", member: { id: "s3", name: "Kim" }, members: 3 }, m(3));
  await until("the gap before 4", () => c.ev.seen.length === 4);
  assert.deepEqual(c.ev.seen, [1, 2, 3, 4]);
  assert.equal(srv.actions(mark), "history(before 4)");
  c.close();
});

test("reconnect: resume with the token, rejoin with after, catch up past one page", async () => {
  const srv = chat();
  const c = await open(srv);
  await c.join("lobby");
  const mark = srv.sent.length;
  srv.top = 180; // more than a join's page of 100
  srv.sockets[0].drop(1006);
  await until("the rejoin", () => srv.sockets.length === 2 && c.state === "open" && c.ev.seen.length === 180);
  assert.deepEqual(c.ev.seen, Array.from({ length: 180 }, (_, i) => i + 1));
  assert.equal(srv.actions(mark), "hello(token tok1) join(after 2) history(before 181)");
  assert.deepEqual(c.ev.states, ["connecting", "open", "reconnecting 1006", "reconnecting", "open"]);
  c.close();
});

test("a room whose seq went backwards (storage lost): reset, and the latest page", async () => {
  const srv = chat();
  srv.top = 7;
  const c = await open(srv);
  await c.join("lobby");
  srv.top = 2;
  const mark = srv.sent.length;
  srv.sockets[0].drop(1001);
  await until("the rejoin", () => srv.sockets.length === 2 && c.state === "open");
  assert.equal(srv.actions(mark), "hello(token tok1) join(after 7) join");
  assert.deepEqual(c.ev.joins, ["join", "rejoin reset"]);
  assert.deepEqual(c.ev.resets, [{ room: "lobby", epoch: 0, seq: 7 }]);
  assert.deepEqual(c.ev.seen, [1, 2, 3, 4, 5, 6, 7, 1, 2]);
  assert.equal(c.lastSeq("lobby"), 2);
  c.close();
});

test("epoch change: a room wiped and refilled past the last seen seq is reset, not skipped", async () => {
  const srv = chat();
  srv.top = 3;
  srv.epoch = 100;
  const c = await open(srv);
  await c.join("lobby");
  // Wiped and refilled with 5 messages: seq 5 > 3, only the epoch tells.
  srv.top = 5;
  srv.epoch = 200;
  const mark = srv.sent.length;
  srv.sockets[0].drop(1006);
  await until("the rejoin", () => srv.sockets.length === 2 && c.state === "open");
  assert.equal(srv.actions(mark), "hello(token tok1) join(after 3) join");
  assert.deepEqual(c.ev.resets, [{ room: "lobby", epoch: 200, seq: 3 }]);
  assert.deepEqual(c.ev.joins, ["join", "rejoin reset"]);
  assert.deepEqual(c.ev.seen, [1, 2, 3, 1, 2, 3, 4, 5], "the new sequence from its start, none of it dropped");
  // The same epoch again: a plain catch-up.
  srv.top = 6;
  const mark2 = srv.sent.length;
  srv.sockets[1].drop(1006);
  await until("the second rejoin", () => srv.sockets.length === 3 && c.state === "open" && c.ev.seen.length === 9);
  assert.equal(srv.actions(mark2), "hello(token tok2) join(after 5)");
  assert.equal(c.ev.resets.length, 1);
  c.close();
});

test("hello_required: hello again on the same socket, rejoin, retry once", async () => {
  const srv = chat();
  const c = await open(srv);
  await c.join("lobby");
  const mark = srv.sent.length;
  const send = srv.handlers.send;
  let lost = true;
  srv.handlers.send = (f) => (lost ? ((lost = false), { type: "error", code: "hello_required", message: "lost" }) : send(f));
  assert.equal((await c.send("lobby", "hi")).seq, 3);
  assert.equal(srv.actions(mark), "send hello(token tok1) join(after 2) send");
  c.close();
});

test("an error without id, an event type the client does not know", async () => {
  const srv = chat();
  const c = await open(srv);
  const got = [];
  c.on("app.thing", (x) => got.push(x.n));
  srv.sockets[0].push({ type: "error", code: "rate_limited", message: "slow down" }, { type: "app.thing", n: 1 });
  await until("the events", () => got.length === 1);
  assert.deepEqual(c.ev.errors, ["rate_limited"]);
  c.close();
});

test("an expired token: hello again by name on the same socket; the new token is stored", async () => {
  const srv = chat();
  srv.handlers.hello = (f) =>
    f.token === "bad" ? { type: "error", code: "invalid_token", message: "expired" } : { type: "welcome", session: "s1", name: f.name, token: "fresh", protocol: 1 };
  const store = new Map([["chatfly.token", "bad"]]);
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) };
  const z = await connect({ url, name: "Zed", storage, WebSocket: srv.WebSocket });
  assert.equal(z.welcome.name, "Zed");
  assert.equal(store.get("chatfly.token"), "fresh");
  assert.equal(srv.sockets.length, 1);
  z.close();
});

test("a request timeout, typing throttled per room, requests after close", async () => {
  const srv = chat();
  const c = await open(srv);
  srv.handlers.ping = () => null;
  await assert.rejects(c.ping(), { code: "timeout" });
  const mark = srv.sent.length;
  assert.deepEqual([c.typing("lobby"), c.typing("lobby"), c.typing("other")], [true, false, true]);
  assert.equal(srv.actions(mark), "typing typing");
  c.close();
  c.close();
  await assert.rejects(c.request("ping"), { code: "closed" });
});

test("close codes: final ones stay down, the others reconnect; 1000 only when a close frame said so", async () => {
  const srv = chat();
  for (const [code, told, want] of [
    [4001, false, "closed"],
    [1008, false, "closed"],
    [1000, true, "closed"],
    [1000, false, "open"], // API Gateway's idle and 2-hour limits
    [1011, false, "open"],
    [4000, false, "open"],
    [1001, true, "open"],
  ]) {
    const n = srv.sockets.length;
    const y = await open(srv);
    if (told) srv.sockets[n].push({ type: "close", code, reason: "bye" });
    srv.sockets[n].drop(told ? 1000 : code);
    if (want === "closed") {
      await sleep(60);
      assert.equal(y.state, "closed", code + " told " + told);
      assert.equal(srv.sockets.length, n + 1, "no reconnect after " + code);
      assert.deepEqual(y.ev.states.at(-1), "closed " + code);
    } else {
      await until("a reconnect after " + code, () => y.state === "open" && srv.sockets.length === n + 2);
    }
    y.close();
  }
});

test("connect timeout: a dial that hangs, then a hello never answered, are dropped and tried again", async () => {
  const srv = chat();
  srv.hangs = 1;
  const hello = srv.handlers.hello;
  srv.handlers.hello = (f, ws) => (srv.sockets.indexOf(ws) === 1 ? null : hello(f, ws));
  const y = await open(srv, { connectTimeout: 100 });
  assert.equal(srv.sockets.length, 3);
  assert.deepEqual(y.ev.states, ["connecting", "reconnecting 1011", "connecting", "reconnecting 1011", "connecting", "open"]);
  assert.deepEqual([srv.sockets[0].closedWith, srv.sockets[1].closedWith], [1000, 1000]);
  y.close();
});

test("a refused name: ready rejects, the client closes and does not retry", async () => {
  const srv = chat();
  srv.handlers.hello = () => ({ type: "error", code: "invalid_name", message: "bad name" });
  await assert.rejects(connect({ url, name: "!", storage: null, minDelay: 10, WebSocket: srv.WebSocket }), { code: "invalid_name" });
  await sleep(50);
  assert.equal(srv.sockets.length, 1);
});

test("a live message lost on the way is fetched and delivered in order; later ones wait for it", async () => {
  const srv = chat();
  const g = await open(srv);
  await g.join("lobby");
  srv.top = 7;
  const history = srv.handlers.history;
  srv.handlers.history = (f, ws) => (ws.push(m(7)), history(f, ws));
  const mark = srv.sent.length;
  srv.sockets[0].push(m(3));
  srv.sockets[0].push(m(5), m(6));
  await until("the lost message", () => g.ev.seen.length >= 7);
  await sleep(20);
  assert.deepEqual(g.ev.seen, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(srv.actions(mark), "history(before 5)");
  g.close();
});

test("AbortSignal: aborting closes the client, rejects ready and pending requests", async () => {
  const srv = chat();
  srv.handlers.ping = () => null;
  const ctl = new AbortController();
  const c = await open(srv, { signal: ctl.signal, timeout: 5000 });
  const p = c.ping();
  ctl.abort(new Error("page left"));
  await assert.rejects(p, { code: "aborted", message: "page left" });
  assert.equal(c.state, "closed");
  assert.equal(srv.sockets[0].closedWith, 1000);
  // Already aborted: no dial at all. A signal bounds connect() too.
  const n = srv.sockets.length;
  await assert.rejects(connect({ url, name: "A", storage: null, WebSocket: srv.WebSocket, signal: AbortSignal.abort() }), { code: "aborted" });
  srv.hangs = 1000;
  await assert.rejects(connect({ url, name: "A", storage: null, WebSocket: srv.WebSocket, signal: AbortSignal.timeout(150), connectTimeout: 40, minDelay: 10 }), {
    code: "aborted",
  });
  srv.hangs = 0;
  const dials = srv.sockets.length - n;
  await sleep(100);
  assert.equal(srv.sockets.length - n, dials, "no dial after the abort");
});

test("the welcome's limits: a long text is refused locally, frames are paced to the rate, typing to its interval", async () => {
  const srv = chat();
  const limits = { frameBytes: 300, textRunes: 5, typingInterval: 60000, rate: { count: 4, window: 100 } };
  srv.handlers.hello = (f) => ({ type: "welcome", session: "s1", name: f.name, token: "t", protocol: 1, limits });
  const c = await open(srv);
  assert.deepEqual(c.limits.rate, limits.rate);
  const mark = srv.sent.length;
  await assert.rejects(c.send("lobby", "abcdef"), { code: "too_long", message: "text is longer than 5 characters" });
  assert.equal((await c.send("lobby", "ab😀de")).seq, 3, "five characters, one of them outside the BMP");
  await assert.rejects(c.call("app.x", "y".repeat(300)), { code: "too_large" });
  assert.equal(srv.actions(mark), "send", "nothing sent for the refusals");

  // 10 requests at once: no more than 4 in any window (+ the margin).
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 10 }, () => c.ping()));
  const times = srv.sent.slice(mark).map((f) => f.at);
  for (let i = 4; i < times.length; i++) assert.ok(times[i] - times[i - 4] >= 100, "frame " + i + " within the window of frame " + (i - 4));
  assert.ok(Date.now() - t0 >= 2 * 100, "paced, not sent at once");

  // typing: at most once per typingInterval, and not when it would need to wait for the rate.
  await sleep(150);
  assert.equal(c.typing("lobby"), true);
  assert.equal(c.typing("lobby"), false);
  await Promise.all([c.ping(), c.ping(), c.ping()]);
  assert.equal(c.typing("other"), false, "no room in the rate window");
  c.close();
});

test("typed methods send the protocol's actions and resolve with what the reply holds", async () => {
  const srv = chat();
  const game = { id: "g1", name: "tictactoe", status: "open" };
  Object.assign(srv.handlers, {
    "room.create": (f) => ({ type: "room.created", room: { id: "r1", name: f.name, public: f.visibility === "public", custom: true } }),
    "room.info": (f) => ({ type: "room.info", room: { id: f.room, name: "R" } }),
    rooms: () => ({ type: "rooms", rooms: [room(1)], next: "n" }),
    "game.start": () => ({ type: "game.state", room: "lobby", game }),
    "game.move": () => ({ type: "game.state", room: "lobby", game: { ...game, status: "playing" } }),
    "game.resign": () => ({ type: "game.state", room: "lobby", game: { ...game, status: "over" } }),
    "app.vote": (f) => ({ type: "result", data: { votes: f.data.choice + 1 } }),
  });
  const c = await open(srv);
  const mark = srv.sent.length;
  assert.deepEqual(await c.roomCreate("Club", { visibility: "public" }), { id: "r1", name: "Club", public: true, custom: true });
  assert.equal((await c.roomInfo("r1")).name, "R");
  assert.equal((await c.rooms({ limit: 5 })).next, "n");
  await c.kick("r1", "s2", { reason: "spam" });
  await c.ban("r1", "s2", { address: true });
  await c.mute("r1", "s2", { duration: 60 });
  await c.promote("r1", "s3");
  assert.equal((await c.gameStart("lobby", "tictactoe", { invite: ["s2"] })).status, "open");
  assert.equal((await c.gameMove("lobby", "g1", { cell: 4 })).status, "playing");
  assert.equal((await c.gameResign("lobby", "g1")).status, "over");
  assert.deepEqual(await c.call("app.vote", { choice: 2 }), { votes: 3 });
  const strip = ({ id, at, ...f }) => f;
  assert.deepEqual(srv.sent.slice(mark).map(strip), [
    { action: "room.create", name: "Club", visibility: "public" },
    { action: "room.info", room: "r1" },
    { action: "rooms", limit: 5 },
    { action: "room.kick", room: "r1", member: "s2", reason: "spam" },
    { action: "room.ban", room: "r1", member: "s2", address: true },
    { action: "room.mute", room: "r1", member: "s2", duration: 60 },
    { action: "room.promote", room: "r1", member: "s3" },
    { action: "game.start", room: "lobby", game: "tictactoe", invite: ["s2"] },
    { action: "game.move", room: "lobby", game: "g1", move: { cell: 4 } },
    { action: "game.resign", room: "lobby", game: "g1" },
    { action: "app.vote", data: { choice: 2 } },
  ]);
  c.close();
});

test("roulette: the client asks again at retry until paired, and reports a pair once", async () => {
  const srv = chat();
  let asks = 0;
  const pair = { type: "roulette.matched", room: "rp-1", partner: { id: "s2", name: "Lin" } };
  srv.handlers["roulette.join"] = (f) => (++asks < 3 ? { type: "roulette.waiting", interests: f.interests, retry: 30 } : pair);
  const c = await open(srv);
  const matched = [];
  c.on("roulette.matched", (p) => matched.push(p.room));
  const first = await c.rouletteJoin(["go"]);
  assert.equal(first.type, "roulette.waiting");
  await until("the pair", () => matched.length === 1);
  await sleep(80);
  assert.equal(asks, 3);
  assert.deepEqual(matched, ["rp-1"]);
  assert.ok(srv.sent.filter((f) => f.action === "roulette.join").every((f) => f.interests[0] === "go"));

  // A pair pushed by the server while waiting stops the asking.
  asks = -100;
  srv.handlers["roulette.next"] = () => ({ type: "roulette.waiting", retry: 30 });
  await c.rouletteNext();
  srv.sockets[0].push({ ...pair, room: "rp-2" });
  await sleep(100);
  assert.equal(asks, -100, "no ask after the pushed pair");
  assert.deepEqual(matched, ["rp-1", "rp-2"]);
  c.close();
});
