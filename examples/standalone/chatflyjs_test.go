package main

import (
	"reflect"
	"testing"

	"github.com/chromedp/chromedp"
)

// clientScenarios drives chatfly.js against a scripted fake WebSocket, for
// the paths a real server rarely takes: several events in one frame,
// duplicates and reordering, catching up after a drop (with a gap to fetch),
// a live message lost on the way (fetched with history, delivered in order),
// a server that lost its history, hello_required, an expired token, error
// frames without id, new event types, timeouts, typing throttling, and the
// close codes after which it must not reconnect.
const clientScenarios = `(async () => {
  const { Client, ChatflyError } = await import("/chatfly.js");
  const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
  const until = async (what, cond) => {
    for (const end = Date.now() + 3000; !cond(); await sleep(5)) if (Date.now() > end) throw new Error("timed out: " + what);
  };
  const sockets = [];
  const sent = [];
  let handlers = {};
  let hang = 0;
  window.WebSocket = class {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      sockets.push(this);
      this.hangs = hang > 0 && hang-- > 0; // never opens
      setTimeout(() => { if (this.readyState === 0 && !this.hangs) { this.readyState = 1; this.onopen?.({}); } }, 0);
    }
    send(data) {
      const f = JSON.parse(data);
      sent.push(f);
      const out = handlers[f.action]?.(f, this);
      if (!out) return;
      const [reply, ...events] = [].concat(out);
      setTimeout(() => this.push({ id: f.id, ...reply }, ...events), 0);
    }
    push(...frames) {
      if (this.readyState === 1) this.onmessage?.({ data: frames.map((x) => JSON.stringify(x)).join("\n") });
    }
    close(code) { this.closedWith = code; this.readyState = 3; }
    drop(code) { this.readyState = 3; this.onclose?.({ code, reason: "" }); }
  };
  const url = "ws://chat.invalid/ws";
  const m = (seq) => ({ type: "message", room: "lobby", seq, from: { id: "s2", name: "Lin" }, text: "m" + seq, ts: 1 });
  const room = (seq) => ({ id: "lobby", name: "Lobby", public: true, members: 2, seq });
  const actions = (from) => sent.slice(from).map((f) => f.action + (f.token ? "(token " + f.token + ")" : "") + (f.after ? "(after " + f.after + ")" : "") + (f.before ? "(before " + f.before + ")" : "")).join(" ");
  let top = 2;
  handlers = {
    hello: (f) => f.token === "bad" ? { type: "error", code: "invalid_token", message: "expired" }
      : f.name === "!" ? { type: "error", code: "invalid_name", message: "bad name" }
      : { type: "welcome", session: "s1", name: f.name || "Ada", token: "tok" + sockets.length, protocol: 1 },
    join: (f) => ({ type: "joined", room: room(top), members: [{ id: "s1", name: "Ada" }], history: f.after ? [] : [m(1), m(2)] }),
    history: (f) => {
      const ms = [];
      for (let s = Math.max(1, f.before - f.limit); s < f.before && s <= top; s++) ms.push(m(s));
      return { type: "history", room: "lobby", messages: ms, more: ms.length > 0 && ms[0].seq > 1 };
    },
    send: (f) => ({ type: "sent", room: f.room, seq: ++top }),
  };
  const r = {};
  const c = new Client({ url, name: "Ada", storage: null, minDelay: 10, timeout: 300 });
  const seen = [], joins = [], states = [], errors = [], custom = [];
  c.on("message", (x) => seen.push(x.seq));
  c.on("joined", (j) => joins.push((j.rejoin ? "rejoin" : "join") + (j.reset ? " reset" : "")));
  c.on("state", (s) => states.push(s.state + (s.code ? " " + s.code : "")));
  c.on("error", (e) => errors.push(e.code + (e instanceof ChatflyError ? "" : "?")));
  c.on("roulette.matched", (x) => custom.push(x.room));
  await c.ready;
  await c.join("lobby");

  // Several events in one frame, duplicates, out of order.
  // 4 before 3 is a gap: 3 is fetched, and 4 waits for it.
  let mark = sent.length;
  sockets[0].push(m(4), m(3), m(4), { type: "presence", room: "lobby", event: "join", member: { id: "s3", name: "Kim" }, members: 3 }, m(3));
  await until("the gap before 4", () => seen.length === 4);
  r.frame = seen.join() + " | " + actions(mark);

  // A network drop: reconnect with the token, rejoin after 4, fetch the gap up to 7.
  mark = sent.length;
  top = 7;
  handlers.join = (f) => ({ type: "joined", room: room(7), members: [], history: f.after === 4 ? [m(5)] : [] });
  sockets[0].drop(1006);
  await until("the rejoin", () => sockets.length === 2 && c.state === "open");
  r.drop = seen.join() + " | " + actions(mark);

  // A restart that lost the history (memory storage): seq went back to 2.
  mark = sent.length;
  top = 2;
  handlers.join = () => ({ type: "joined", room: room(2), members: [], history: [] });
  sockets[1].drop(1001);
  await until("the second rejoin", () => sockets.length === 3 && c.state === "open");
  r.reset = seen.slice(7).join() + " | " + actions(mark) + " | " + joins.join();

  // hello_required: hello again on the same socket, rejoin, retry once.
  mark = sent.length;
  let lost = true;
  handlers.send = (f) => lost ? (lost = false, { type: "error", code: "hello_required", message: "lost" }) : { type: "sent", room: f.room, seq: ++top };
  r.helloRequired = (await c.send("lobby", "hi")).seq + " | " + actions(mark);

  // An error without id, and an event type the client does not know.
  sockets[2].push({ type: "error", code: "rate_limited", message: "slow down" }, { type: "roulette.matched", room: "r1" });
  r.events = errors.join() + " | " + custom.join();

  // An expired token: hello again by name on the same socket; the new token is stored.
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) };
  store.set("chatfly.token", "bad");
  const z = new Client({ url, name: "Zed", storage, timeout: 200 });
  await z.ready;
  r.token = z.welcome.name + " " + store.get("chatfly.token") + " " + (sockets.length - 3);

  // Timeouts and typing.
  handlers.ping = () => null;
  const t0 = Date.now();
  try { await z.ping(); r.timeout = "answered"; } catch (e) { r.timeout = e.code + (Date.now() - t0 < 1000 ? "" : " (late)"); }
  mark = sent.length;
  r.typing = [z.typing("lobby"), z.typing("lobby"), z.typing("other")].join() + " " + actions(mark);
  z.close();
  z.close();
  r.closed = await z.request("ping").then(() => "sent", (e) => e.code);

  // Close codes after which it stays down.
  const final = [];
  for (const code of [4001, 1008, 1000]) {
    const n = sockets.length;
    const y = new Client({ url, name: "Y", storage: null, minDelay: 10 });
    await y.ready;
    sockets[n].drop(code);
    await sleep(80);
    final.push(code + " " + y.state + " " + (sockets.length - n));
  }
  r.final = final.join(", ");
  // ...and after which it comes back: 1011 and 4000 too.
  const back = [];
  for (const code of [1011, 4000]) {
    const n = sockets.length;
    const y = new Client({ url, name: "Y", storage: null, minDelay: 10 });
    await y.ready;
    sockets[n].drop(code);
    await until("a reconnect after " + code, () => y.state === "open" && sockets.length === n + 2);
    back.push(code + " " + y.state);
    y.close();
  }
  r.back = back.join(", ");

  // A dial that hangs, then one that opens but is never welcomed: each is
  // dropped after connectTimeout and tried again.
  {
    const n = sockets.length, hello = handlers.hello;
    hang = 1;
    handlers.hello = (f, ws) => sockets.indexOf(ws) === n + 1 ? null : hello(f, ws);
    const y = new Client({ url, name: "Y", storage: null, minDelay: 10, connectTimeout: 100 });
    const ys = [];
    y.on("state", (s) => ys.push(s.state + (s.code ? " " + s.code : "")));
    await y.ready;
    handlers.hello = hello;
    r.connectTimeout = (sockets.length - n) + " " + ys.join(", ") + " " + sockets[n].closedWith + " " + sockets[n + 1].closedWith;
    y.close();
  }

  // A refused name: ready rejects, the client closes and does not retry.
  const n = sockets.length;
  const w = new Client({ url, name: "!", storage: null, minDelay: 10 });
  try { await w.ready; r.badName = "welcomed"; } catch (e) { r.badName = e.code + " " + w.state; }
  await sleep(50);
  r.badName += " " + (sockets.length - n);
  r.states = states.join(", ");
  c.close();

  // A message dropped on the way (a cluster's relay lost it): 4 never
  // comes live; the client fetches it with history and delivers 3 to 7 in
  // order, holding 5 and 6 (and 7, which comes during the fetch) meanwhile.
  {
    const n = sockets.length;
    top = 7;
    handlers.join = () => ({ type: "joined", room: room(2), members: [], history: [m(1), m(2)] });
    const history = handlers.history;
    handlers.history = (f, ws) => { ws.push(m(7)); return history(f, ws); };
    const g = new Client({ url, name: "G", storage: null, minDelay: 10 });
    const gs = [];
    g.on("message", (x) => gs.push(x.seq));
    await g.ready;
    await g.join("lobby");
    const mark = sent.length;
    sockets[n].push(m(3));
    sockets[n].push(m(5), m(6));
    await until("the lost message", () => gs.length >= 7);
    await sleep(20);
    r.gap = gs.join() + " | " + actions(mark);
    g.close();
  }
  return r;
})()`

func TestBrowserClientScenarios(t *testing.T) {
	browser := newBrowser(t)
	chat := startChat(t, nil)
	tb := newTab(t, browser, "scenarios")
	tb.Do("open a page of the site", chromedp.Navigate(chat.URL+"/"))
	got := eval[map[string]string](tb, clientScenarios)
	want := map[string]string{
		"frame":          "1,2,3,4 | history(before 4)",
		"drop":           "1,2,3,4,5,6,7 | hello(token tok1) join(after 4) history(before 8)",
		"reset":          "1,2 | hello(token tok2) join(after 7) history(before 3) | join,rejoin,rejoin reset",
		"helloRequired":  "3 | send hello(token tok3) join(after 2) send",
		"events":         "rate_limited | r1",
		"token":          "Zed tok4 1",
		"timeout":        "timeout",
		"typing":         "true,false,true typing typing",
		"closed":         "closed",
		"final":          "4001 closed 1, 1008 closed 1, 1000 closed 1",
		"back":           "1011 open, 4000 open",
		"badName":        "invalid_name closed 1",
		"gap":            "1,2,3,4,5,6,7 | history(before 5)",
		"connectTimeout": "3 connecting, reconnecting 1011, connecting, reconnecting 1011, connecting, open 1000 1000",
		"states":         "connecting, open, reconnecting 1006, reconnecting, open, reconnecting 1001, reconnecting, open, open",
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s:\n got  %q\n want %q", k, got[k], want[k])
		}
	}
	if !reflect.DeepEqual(got, want) && len(got) != len(want) {
		t.Errorf("results %v", got)
	}
	tb.Check()
}
