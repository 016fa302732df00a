// A room: messages ordered by seq, the people in it, who is typing, and the
// composer. Older messages load when the list is scrolled to the top (or
// with the "Load older messages" button).
//
// Add-ons (tools.js, games.js) load on demand once joined; each gets ctx
// and returns {member?(m), update?(), destroy?()}: member adds nodes to a
// person's row, update runs after the members or the room changed.
import { h, plural, time } from "../lib/dom.js";

let firstShown = false; // for the "chatfly:first-message" performance mark

export default {
  render(app, [room]) {
    const c = app.client;
    const me = () => c.welcome?.session;
    let seqs = []; // seqs shown, ascending (current server epoch)
    let items = new Map(); // seq -> <li>
    let loading = false;
    let joined = false;
    const members = new Map(); // session id -> member
    // Presence before joined, applied again over its (older) member list.
    let synced = false;
    let early = [];
    let follow = true; // the log sticks to the newest message
    const typers = new Map(); // session id -> {name, timer}
    const addons = [];
    let info = { id: room }; // the room, from joined and moderation events

    const title = h("h1", { tabIndex: -1 }, "Joining…");
    const topic = h("p", { class: "topic" });
    const summary = h("summary", null, "People");
    const memberList = h("ul", { class: "members" });
    const wide = matchMedia("(min-width: 48rem)").matches;
    const people = h("details", { class: "people", open: wide }, summary, memberList);
    const side = h("div", { class: "side" }, people);
    const older = h("button", { type: "button", class: "older secondary", hidden: true, onclick: loadOlder }, "Load older messages");
    const msgs = h("ol", { class: "msgs" });
    const empty = h("p", { class: "empty", hidden: true }, "No messages yet. Say hello!");
    const log = h("div", { class: "log", role: "log", "aria-label": "Messages", tabIndex: 0, onscroll }, older, msgs, empty);
    // Resized (Games opened on a phone), the log keeps following.
    let logHeight = 0;
    const resized = new ResizeObserver(() => ((logHeight = log.clientHeight), follow && toBottom()));
    resized.observe(log);
    const typing = h("p", { class: "typing", "aria-live": "polite" });
    const input = h("input", {
      id: "msg",
      type: "text",
      autocomplete: "off",
      maxLength: 2000,
      placeholder: "Message",
      enterKeyHint: "send",
      disabled: true,
      oninput: () => input.value.trim() && c.typing(room),
    });
    const sendBtn = h("button", { type: "submit", disabled: true }, "Send");
    const form = h("form", { class: "composer", onsubmit }, h("label", { for: "msg", class: "vh" }, "Message"), input, sendBtn);
    const head = h("header", { class: "chat-head" }, h("a", { href: "#/rooms", class: "back" }, "All rooms"), title, topic);
    const el = h("section", { class: "chat" }, head, side, log, typing, form);
    const ctx = { app, c, room, head, side, wide, members, me, info: () => info, note, changed };

    const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    const toBottom = () => (log.scrollTop = log.scrollHeight);

    function note(text) {
      msgs.append(h("li", { class: "note" }, text));
      if (follow) toBottom();
    }

    function insert(m) {
      if (typeof m.seq !== "number" || items.has(m.seq)) return;
      const mine = m.from && m.from.id === me();
      const li = h(
        "li",
        { class: "msg" + (m.system ? " sys" : "") + (mine ? " mine" : ""), "data-seq": m.seq },
        m.from ? [h("span", { class: "who" }, m.from.name), h("span", { class: "vh" }, ": ")] : null,
        h("span", { class: "text" }, m.text),
        time(m.ts),
      );
      let lo = 0;
      let hi = seqs.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (seqs[mid] < m.seq) lo = mid + 1;
        else hi = mid;
      }
      if (lo === seqs.length) msgs.append(li);
      else msgs.insertBefore(li, items.get(seqs[lo]));
      seqs.splice(lo, 0, m.seq);
      items.set(m.seq, li);
      empty.hidden = true;
      if (!firstShown) {
        firstShown = true;
        performance.mark("chatfly:first-message");
      }
    }

    function renderMembers() {
      const list = [...members.values()].sort((a, b) => a.name.localeCompare(b.name));
      memberList.replaceChildren(
        ...list.map((m) =>
          h(
            "li",
            null,
            m.name,
            m.role ? h("span", { class: "role" }, " · " + m.role) : null,
            m.id === me() ? h("span", { class: "you" }, " (you)") : null,
            addons.map((a) => a.member?.(m)),
          ),
        ),
      );
      summary.textContent = "People (" + members.size + ")";
    }

    // changed re-renders what depends on the members and the room.
    function changed() {
      renderMembers();
      addons.forEach((a) => a.update?.());
    }

    function mount(load) {
      load()
        .then((m) => m.mount(ctx))
        .then((a) => {
          if (a && gone) a.destroy?.();
          else if (a) addons.push(a), changed();
        })
        .catch((err) => note("Could not load part of this room: " + err.message));
    }

    function renderTyping() {
      const n = [...typers.values()].map((t) => t.name);
      typing.textContent =
        n.length === 0 ? "" : n.length === 1 ? n[0] + " is typing…" : n.length === 2 ? n[0] + " and " + n[1] + " are typing…" : "Several people are typing…";
    }

    function stopTyping(id) {
      const t = typers.get(id);
      if (!t) return;
      clearTimeout(t.timer);
      typers.delete(id);
      renderTyping();
    }

    function updateOlder() {
      older.hidden = !(seqs.length && seqs[0] > 1);
    }

    async function loadOlder() {
      if (loading || !seqs.length || seqs[0] <= 1) return;
      loading = true;
      older.disabled = true;
      try {
        const res = await c.history(room, { before: seqs[0], limit: 50 });
        const height = log.scrollHeight;
        const top = log.scrollTop;
        for (const m of res.messages || []) insert({ room, ...m });
        log.scrollTop = top + log.scrollHeight - height; // keep the reader's place
        older.hidden = !res.more || !(res.messages || []).length;
      } catch (err) {
        note("Could not load older messages: " + err.message);
      } finally {
        loading = false;
        older.disabled = false;
      }
    }

    function onscroll() {
      if (log.clientHeight === logHeight) follow = nearBottom();
      if (log.scrollTop < 40 && !older.hidden) loadOlder();
    }

    async function onsubmit(e) {
      e.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      input.value = "";
      try {
        await c.send(room, text);
      } catch (err) {
        if (!input.value) input.value = text;
        note("Not sent: " + err.message);
      }
    }

    const offs = [
      c.on("joined", (j) => {
        if (j.room?.id !== room) return;
        setInfo(j.room);
        members.clear();
        for (const m of j.members || []) members.set(m.id, m);
        for (const p of early) applyPresence(p);
        early = [];
        synced = true;
        changed();
        if (j.reset) {
          // The room's seq went backwards: the server lost its history (a
          // memory server restarted). Keep what is on screen, start over below.
          note("The server restarted: the messages above are from before.");
          seqs = [];
          items = new Map();
        }
        queueMicrotask(updateOlder); // after this join's messages
      }),
      c.on("message", (m) => {
        if (m.room !== room) return;
        const stick = follow || (m.from && m.from.id === me());
        insert(m);
        if (m.from) stopTyping(m.from.id);
        if (stick) toBottom();
      }),
      c.on("presence", (p) => {
        if (p.room !== room) return;
        applyPresence(p);
        if (!synced) early.push(p);
        changed();
        note(p.member.name + (p.event === "join" ? " joined" : " left") + " · " + plural(p.members, "person", "people") + " here");
      }),
      c.on("typing", (t) => {
        if (t.room !== room || !t.member || t.member.id === me()) return;
        clearTimeout(typers.get(t.member.id)?.timer);
        typers.set(t.member.id, { name: t.member.name, timer: setTimeout(() => stopTyping(t.member.id), 5000) });
        renderTyping();
      }),
      c.on("moderation", (ev) => {
        if (ev.room !== room) return;
        const t = ev.target;
        if (ev.info) setInfo(ev.info);
        if (t && members.has(t.id)) members.get(t.id).role = t.role;
        if (ev.action === "transfer" && members.has(ev.by.id)) members.get(ev.by.id).role = "moderator";
        changed();
        const out = ev.action === "delete" || (t?.id === me() && (ev.action === "kick" || ev.action === "ban"));
        if (!out) return;
        // Out of the room: say so, and go back to the rooms.
        joined = false;
        const what = { delete: " deleted the room ", kick: " removed you from ", ban: " banned you from " }[ev.action];
        app.status((ev.by.id === me() ? "You" : ev.by.name) + what + (info.name || room) + (ev.reason ? ": " + ev.reason : ""), "warn", 15000);
        app.navigate(app.home, true);
      }),
      c.on("error", (err) => {
        if (err.room === room) note("Left the room: " + err.message);
      }),
      c.on("state", (s) => {
        if (s.state !== "open") (synced = false), (early = []);
      }),
    ];

    function applyPresence(p) {
      if (p.event === "join") members.set(p.member.id, p.member);
      else members.delete(p.member.id);
    }

    function setInfo(r) {
      info = r;
      title.textContent = r.name || room;
      topic.textContent = r.topic || "";
      document.title = (r.name || room) + " · " + app.title;
    }

    let gone = false;
    c.join(room).then(
      (j) => {
        joined = true;
        if (gone) return void c.leave(room).catch(() => {});
        if (j.room?.custom) mount(() => import("./tools.js"));
        if (app.games !== false) mount(() => import("./games.js"));
        input.disabled = sendBtn.disabled = false;
        empty.hidden = seqs.length > 0;
        toBottom();
        if (document.activeElement === title || document.activeElement === document.body) input.focus();
      },
      (err) => !gone && refused(err),
    );

    // refused replaces the chat with a panel saying why (state.js).
    async function refused(err) {
      const [m, known] = await Promise.all([import("./state.js"), err.code !== "not_found" && c.roomInfo(room).catch(() => null)]);
      if (gone) return;
      if (known) setInfo(known);
      m.refused(el, head, title, err, { room, name: app.name, known });
    }

    return {
      el,
      title: "Joining…",
      focus: title,
      destroy() {
        gone = true;
        offs.forEach((off) => off());
        resized.disconnect();
        addons.forEach((a) => a.destroy?.());
        for (const t of typers.values()) clearTimeout(t.timer);
        if (joined) c.leave(room).catch(() => {});
      },
    };
  },
};
