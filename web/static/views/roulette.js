// Chat roulette (PROTOCOL.md, "Chat roulette"): meet someone at random for
// a one-on-one chat. Start queues you, with optional interest tags; once the
// server pairs you, you chat in a private pair room; Next ends the chat and
// looks for someone else; Stop leaves. While waiting, Roulette (below) asks
// the server again by itself when the server says (a fallback that comes
// due, and every 20 seconds to keep the place in the queue), so a pair
// found then arrives as a roulette.matched event. A roulette.waiting that arrives
// after roulette.matched (the match happened while the request was on its
// way) is ignored.
import { h, time } from "../lib/dom.js";
import { css } from "./ui.js";

// Roulette is the chat roulette for any chatfly.js Client, the screen's and
// an integrator's page alike (it is here, loaded on demand, so that the
// first page stays under 50 KB):
//
//   import { Roulette } from "/views/roulette.js";
//   const roulette = new Roulette(chat);             // chat: a chatfly.js Client
//   chat.on("roulette.matched", (p) => show(p.partner, p.room));
//   await roulette.join(["music"]);                  // roulette.waiting or roulette.matched
//
// While waiting, it asks the server again by itself when roulette.waiting's
// retry says (when a fallback comes due, and every 20 seconds to keep the
// place in the queue), until a pair is found or leave is called. A pair
// found by its own ask is dispatched on the client as a "roulette.matched"
// event, like one the server pushes, and only once.
export class Roulette {
  constructor(client) {
    this.client = client;
    this.room = null; // the pair announced last
    this.timer = 0;
    this.off = client.on("roulette.matched", (f) => this._stop(f.room));
  }

  // join queues the session with optional interests (or answers its
  // current pair) and resolves with the reply.
  join(interests = []) {
    return this._ask("roulette.join", interests);
  }

  // next ends the current pair and queues the session again.
  next(interests = []) {
    return this._ask("roulette.next", interests);
  }

  // leave ends the current pair and leaves the queue.
  leave() {
    this._stop(null);
    return this.client.request("roulette.leave");
  }

  // close stops asking and listening (it does not leave the queue).
  close() {
    this._stop(this.room);
    this.off();
  }

  async _ask(action, interests) {
    clearTimeout(this.timer);
    const f = await this.client.request(action, { interests });
    if (f.type === "roulette.matched") this._stop(f.room);
    else if (f.type === "roulette.waiting") {
      this.timer = setTimeout(() => this._again(f.interests || interests), f.retry > 0 ? f.retry : 20000);
    }
    return f;
  }

  async _again(interests) {
    const known = this.room;
    try {
      const f = await this._ask("roulette.join", interests);
      if (f.type === "roulette.matched" && f.room !== known) this._dispatch("roulette.matched", f);
    } catch (err) {
      // A dropped connection: the app asks again once it is back.
      if (err.code !== "disconnected" && err.code !== "closed") this._dispatch("error", err);
    }
  }

  _stop(room) {
    clearTimeout(this.timer);
    this.room = room;
  }

  _dispatch(type, detail) {
    this.client.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

export default {
  render(app) {
    const c = app.client;
    const rl = new Roulette(c);
    const me = () => c.welcome?.session;
    let state = "idle"; // idle, waiting, matched, ended
    let pair = null; // {room, partner, shared} while matched
    let typer = 0;
    let seqs = new Set();
    let gone = false;
    css();

    const heading = h("h1", { tabIndex: -1 }, "Roulette");
    const tags = h("input", {
      id: "interests",
      type: "text",
      autocomplete: "off",
      spellcheck: false,
      maxLength: 140,
      placeholder: "music, go, films",
      "aria-describedby": "interests-help",
    });
    const startBtn = h("button", { type: "button", onclick: () => go("join") }, "Start");
    const nextBtn = h("button", { type: "button", class: "secondary", onclick: () => go("next") }, "Next");
    const stopBtn = h("button", { type: "button", class: "secondary", onclick: stop }, "Stop");
    const status = h("p", { class: "rl-status", role: "status" });
    const msgs = h("ol", { class: "msgs" });
    const log = h("div", { class: "log", role: "log", "aria-label": "Messages", tabIndex: 0 }, msgs);
    const typing = h("p", { class: "typing", "aria-live": "polite" });
    const input = h("input", {
      id: "msg",
      type: "text",
      autocomplete: "off",
      maxLength: 2000,
      placeholder: "Message",
      enterKeyHint: "send",
      oninput: () => pair && input.value.trim() && c.typing(pair.room),
    });
    const sendBtn = h("button", { type: "submit" }, "Send");
    const form = h("form", { class: "composer", onsubmit }, h("label", { for: "msg", class: "vh" }, "Message"), input, sendBtn);
    const el = h(
      "section",
      { class: "roulette" },
      h(
        "header",
        { class: "chat-head" },
        h("a", { href: "#/rooms", class: "back" }, "All rooms"),
        heading,
        h("p", { class: "help", id: "interests-help" }, "Meet someone at random for a one-on-one chat. Interests are optional: up to 5, separated by commas; people who share one are met first."),
      ),
      h("div", { class: "rl-controls" }, h("label", { for: "interests" }, "Interests"), tags, h("p", { class: "buttons" }, startBtn, nextBtn, stopBtn)),
      status,
      log,
      typing,
      form,
    );

    // set shows a state: the status line and which buttons work.
    function set(s, text) {
      state = s;
      status.textContent = text;
      el.dataset.state = s;
      startBtn.disabled = s === "waiting" || s === "matched";
      nextBtn.disabled = s !== "matched";
      stopBtn.disabled = s === "idle";
      tags.disabled = s === "waiting";
      input.disabled = sendBtn.disabled = s !== "matched";
      // Keyboard users keep a working control: the one for what comes next.
      const a = document.activeElement;
      if (a === document.body || a?.disabled || [startBtn, nextBtn, stopBtn].includes(a)) {
        ({ waiting: stopBtn, matched: input, ended: startBtn, idle: startBtn })[s].focus();
      }
    }

    const interests = () =>
      tags.value
        .split(",")
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean)
        .slice(0, 5);

    function go(action) {
      if (pair) note("You left the chat with " + pair.partner.name + ".");
      pair = null;
      set("waiting", "Looking for someone…");
      request(action);
    }

    async function request(action) {
      try {
        handle(await rl[action](interests()));
      } catch (err) {
        if (gone || state !== "waiting" || err.code === "disconnected" || err.code === "timeout") return; // back online, the welcome handler asks again
        set("idle", "Could not start: " + err.message);
      }
    }

    function handle(f) {
      if (gone) return;
      if (f.type === "roulette.matched") matched(f);
      else if (f.type === "roulette.waiting" && !pair && state === "waiting") {
        set("waiting", "Looking for someone" + (f.interests?.length ? " who likes " + f.interests.join(", ") : "") + "…");
      }
    }

    function matched(f) {
      if (state === "idle" || pair?.room === f.room) return; // stopped, or the same pair again
      pair = { room: f.room, partner: f.partner, shared: f.shared || [] };
      seqs = new Set();
      msgs.replaceChildren();
      const shared = pair.shared.length ? ": you both like " + pair.shared.join(", ") : "";
      note("You are talking with " + f.partner.name + shared + ". Say hi!");
      set("matched", "Talking with " + f.partner.name + shared);
    }

    function ended(why) {
      pair = null;
      note("The chat ended: " + why + ".");
      set("ended", "The chat ended: " + why + ". Press Start to meet someone new.");
    }

    async function stop() {
      const was = pair;
      pair = null;
      set("idle", was ? "You left the chat with " + was.partner.name + "." : "Stopped.");
      try {
        await rl.leave();
      } catch {
        // gone anyway: the queue entry expires
      }
    }

    function note(text) {
      msgs.append(h("li", { class: "note" }, text));
      log.scrollTop = log.scrollHeight;
    }

    function add(m) {
      if (seqs.has(m.seq)) return;
      seqs.add(m.seq);
      const mine = m.from?.id === me();
      const stick = mine || log.scrollHeight - log.scrollTop - log.clientHeight < 80;
      msgs.append(
        h(
          "li",
          { class: "msg" + (mine ? " mine" : "") + (m.system ? " sys" : ""), "data-seq": m.seq },
          m.from ? [h("span", { class: "who" }, m.from.name), h("span", { class: "vh" }, ": ")] : null,
          h("span", { class: "text" }, m.text),
          time(m.ts),
        ),
      );
      if (m.from) stopTyping();
      if (stick) log.scrollTop = log.scrollHeight;
    }

    function stopTyping() {
      clearTimeout(typer);
      typing.textContent = "";
    }

    async function onsubmit(e) {
      e.preventDefault();
      const text = input.value;
      if (!text.trim() || !pair) return;
      input.value = "";
      try {
        await c.send(pair.room, text);
      } catch (err) {
        if (!input.value) input.value = text;
        note("Not sent: " + err.message);
      }
    }

    const offs = [
      c.on("roulette.matched", handle),
      c.on("roulette.ended", (f) => {
        if (!pair || f.room !== pair.room) return;
        const who = pair.partner.name;
        ended({ next: who + " moved on to someone new", left: who + " left", disconnected: who + " disconnected" }[f.reason] || who + " is gone");
      }),
      c.on("message", (m) => pair && m.room === pair.room && add(m)),
      c.on("typing", (t) => {
        if (!pair || t.room !== pair.room || t.member?.id === me()) return;
        clearTimeout(typer);
        typing.textContent = t.member.name + " is typing…";
        typer = setTimeout(stopTyping, 5000);
      }),
      // Back after a dropped connection: the server ended a pair whose
      // connection went away, so ask again where we stand.
      c.on("welcome", async () => {
        if (state !== "waiting" && state !== "matched") return;
        const had = pair;
        try {
          const f = await rl.join(interests());
          if (f.type === "roulette.waiting" && had && pair === had) {
            ended("the connection was lost");
            set("waiting", "Looking for someone new…");
          } else handle(f);
        } catch {
          // the next welcome tries again
        }
      }),
    ];
    set("idle", "Press Start to meet someone.");

    return {
      el,
      title: "Roulette",
      focus: heading,
      destroy() {
        gone = true;
        offs.forEach((off) => off());
        clearTimeout(typer);
        if (state === "waiting" || state === "matched") rl.leave().catch(() => {});
        rl.close();
      },
    };
  },
};
