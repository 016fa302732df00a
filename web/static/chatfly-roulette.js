// chatfly-roulette.js: the chat roulette for a chatfly.js Client (PROTOCOL.md,
// "Chat roulette"), a module of its own so that pages without a roulette do
// not load it:
//
//   import { Roulette } from "/chatfly-roulette.js";
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
