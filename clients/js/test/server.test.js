// chatfly.js against a real chatfly server: the Go test TestNode
// (node_test.go) starts one and passes its URL in CHATFLY_TEST_URL, with
// control endpoints to restart it and to post or wipe messages while the
// clients are away. Skipped without it.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../chatfly.js";

const base = process.env.CHATFLY_TEST_URL;
const skip = base ? false : "needs CHATFLY_TEST_URL (run by go test ./clients/js/)";
const ctl = async (what, params = {}) => {
  const res = await fetch(base + "/ctl/" + what + "?" + new URLSearchParams(params), { method: "POST" });
  assert.equal(res.status, 200, what + ": " + (await res.text()));
};
const until = async (what, cond) => {
  for (const end = Date.now() + 10000; !cond(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() > end) throw new Error("timed out: " + what);
};

// Every client a test opened is closed after it, failed or not.
const clients = [];
afterEach(() => clients.splice(0).forEach((c) => c.close()));

// open connects a client that records the room's seqs and resets.
async function open(name) {
  const c = await connect({ url: base.replace(/^http/, "ws") + "/ws", name, storage: null, minDelay: 100, maxDelay: 400 });
  c.seen = [];
  c.resets = [];
  c.on("message", (m) => m.room === "lobby" && c.seen.push(m.seq));
  c.on("reset", (r) => c.resets.push(r));
  clients.push(c);
  return c;
}

const run = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test("chat, the welcome's limits, and a too long text refused before it is sent", { skip }, async () => {
  const ada = await open("Ada");
  const lin = await open("Lin");
  assert.equal(ada.welcome.limits.textRunes, 50);
  assert.equal(ada.welcome.limits.rate.count, 50);
  await ada.join("lobby");
  const joined = await lin.join("lobby");
  const top = joined.room.seq;
  const sent = await ada.send("lobby", "hello from node");
  assert.equal(sent.seq, top + 1);
  await until("Lin gets it", () => lin.seen.includes(top + 1));
  await assert.rejects(ada.send("lobby", "x".repeat(51)), { code: "too_long" });
  // The server agrees: the same frame sent raw is refused there too.
  await assert.rejects(ada.request("send", { room: "lobby", text: "x".repeat(51) }), { code: "too_long" });
  ada.close();
  lin.close();
});

test("a restart: reconnect with the token, rejoin, catch up on what was posted meanwhile (past one page)", { skip }, async () => {
  const lin = await open("Lin");
  const session = lin.welcome.session;
  await lin.join("lobby");
  await lin.send("lobby", "before");
  const last = lin.lastSeq("lobby");
  await ctl("down");
  await until("Lin sees the drop", () => lin.state === "reconnecting");
  await ctl("post", { room: "lobby", n: 130 });
  await ctl("up");
  await until("Lin catches up", () => lin.state === "open" && lin.lastSeq("lobby") === last + 130);
  assert.equal(lin.welcome.session, session, "the same session");
  assert.deepEqual(lin.seen.slice(lin.seen.indexOf(last)), run(last, last + 130), "every message once, in order");
  assert.equal(lin.resets.length, 0);
  lin.close();
});

test("the room wiped and refilled past the seq seen: a reset, and the new sequence", { skip }, async () => {
  const lin = await open("Lin");
  await lin.join("lobby");
  await lin.send("lobby", "one");
  const last = lin.lastSeq("lobby");
  const epoch = (await lin.roomInfo("lobby")).epoch;
  assert.ok(epoch > 0, "the room has an epoch");
  await ctl("down");
  await until("Lin sees the drop", () => lin.state === "reconnecting");
  await ctl("wipe", { room: "lobby" });
  await ctl("post", { room: "lobby", n: last + 5 }); // seq 1..last+5: past the seq seen
  await ctl("up");
  await until("the reset", () => lin.resets.length === 1 && lin.state === "open");
  assert.equal(lin.resets[0].seq, last);
  assert.notEqual(lin.resets[0].epoch, epoch);
  await until("the latest page", () => lin.lastSeq("lobby") === last + 5);
  const after = lin.seen.slice(lin.seen.lastIndexOf(last) + 1);
  assert.deepEqual(after.slice(-5), run(last + 1, last + 5));
  lin.close();
});
