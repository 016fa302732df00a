// A scripted fake WebSocket for the client's unit tests: handlers answer
// actions by name (a reply, then events, pushed in one frame as the server
// does), sockets and sent frames are recorded, a socket can be made to hang
// or be dropped with any close code.

export const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// until waits for cond, failing after 3 seconds.
export async function until(what, cond) {
  for (const end = Date.now() + 3000; !cond(); await sleep(5)) if (Date.now() > end) throw new Error("timed out: " + what);
}

export const url = "ws://chat.invalid/ws";

// msg is message seq of room.
export const msg = (seq, room = "lobby") => ({ type: "message", room, seq, from: { id: "s2", name: "Lin" }, text: "m" + seq, ts: 1 });

// fakeServer returns {WebSocket, sockets, sent, handlers, hang(n), actions(from)}.
// The default handlers welcome any name and reply to the rest with "ok".
export function fakeServer() {
  const sockets = [];
  const sent = [];
  const s = {
    sockets,
    sent,
    hangs: 0,
    handlers: {
      hello: (f) => ({ type: "welcome", session: "s1", name: f.name || "Ada", token: "tok" + sockets.length, protocol: 1 }),
    },
    // actions renders the frames sent since index from, for assertions.
    actions(from = 0) {
      return sent
        .slice(from)
        .map((f) => f.action + (f.token ? "(token " + f.token + ")" : "") + (f.after ? "(after " + f.after + ")" : "") + (f.before ? "(before " + f.before + ")" : ""))
        .join(" ");
    },
  };
  s.WebSocket = class {
    constructor(u) {
      this.url = u;
      this.readyState = 0;
      sockets.push(this);
      this.hangs = s.hangs > 0 && s.hangs-- > 0; // never opens
      setTimeout(() => {
        if (this.readyState === 0 && !this.hangs) {
          this.readyState = 1;
          this.onopen?.({});
        }
      }, 0);
    }
    send(data) {
      const f = JSON.parse(data);
      f.at = Date.now();
      sent.push(f);
      const h = s.handlers[f.action];
      const out = h ? h(f, this) : { type: "ok" };
      if (!out) return;
      const [reply, ...events] = [].concat(out);
      setTimeout(() => this.push({ id: f.id, ...reply }, ...events), 0);
    }
    push(...frames) {
      if (this.readyState === 1) this.onmessage?.({ data: frames.map((x) => JSON.stringify(x)).join("\n") });
    }
    close(code) {
      this.closedWith = code;
      this.readyState = 3;
    }
    drop(code) {
      this.readyState = 3;
      this.onclose?.({ code, reason: "" });
    }
  };
  return s;
}
