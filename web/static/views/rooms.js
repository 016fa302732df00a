// The public rooms, with how many people are in each. A view module exports
// an object with render(app, params), which returns:
//   el       the view's root element, put into <main>
//   title    the document title
//   focus    the element to focus when the view appears (default: its h1)
//   destroy  called when the view goes away: unsubscribe, clear timers
import { h, plural } from "../lib/dom.js";

export default {
  render(app) {
    const c = app.client;
    const heading = h("h1", { tabIndex: -1, id: "rooms-title" }, "Rooms");
    const list = h("ul", { class: "rooms", "aria-labelledby": "rooms-title" });
    const note = h("p", { class: "help" }, "Loading rooms…");
    const rows = new Map(); // room id -> {li, count, topic}
    let first = true;
    let pages = 1; // how many pages the list shows: "More rooms" adds one

    function row(r) {
      const count = h("span", { class: "room-count" });
      const topic = h("span", { class: "room-topic" });
      const name = h("span", { class: "room-name" });
      const link = h("a", { class: "room", href: "#/room/" + r.id, "data-room": r.id }, name, topic, count);
      return { li: h("li", null, link), link, name, count, topic };
    }

    async function load() {
      const rooms = [];
      let next;
      try {
        for (let i = 0; i < pages; i++) {
          const p = await c.rooms({ cursor: next });
          rooms.push(...p.rooms);
          next = p.next;
          if (!next) break;
        }
      } catch (err) {
        note.textContent = "Could not load the rooms: " + err.message;
        return;
      }
      more.hidden = !next;
      const ids = new Set(rooms.map((r) => r.id));
      for (const [id, x] of rows) if (!ids.has(id)) (x.li.remove(), rows.delete(id));
      for (const r of rooms) {
        let x = rows.get(r.id);
        if (!x) rows.set(r.id, (x = row(r)));
        list.append(x.li); // in the order of the pages
        x.name.textContent = r.name || r.id;
        x.topic.textContent = r.topic || "";
        x.count.textContent = plural(r.members, "person", "people");
        x.link.setAttribute("aria-label", [r.name || r.id, r.topic, x.count.textContent].filter(Boolean).join(", "));
      }
      note.textContent = rooms.length ? "" : "No public rooms yet.";
      if (first && document.activeElement === heading) list.querySelector("a")?.focus();
      first = false;
    }

    const refresh = h("button", { type: "button", class: "secondary", onclick: load }, "Refresh");
    const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => (pages++, load()) }, "More rooms");
    // Making a room and roulette: their code loads when used.
    const fail = (err) => app.status("Could not load: " + err.message, "error");
    const create = h("button", { type: "button", class: "new-room", onclick: () => import("./create.js").then((m) => m.open(app), fail) }, "New room");
    const tools = h("p", { class: "tools" }, create, h("a", { href: "#/roulette", class: "button secondary" }, "Roulette: meet someone"));
    const timer = setInterval(load, 10000);
    const off = c.on("welcome", load);
    load();
    const el = h("section", { class: "rooms-view" }, heading, tools, list, note, more, refresh);
    return {
      el,
      title: "Rooms",
      focus: heading,
      destroy() {
        clearInterval(timer);
        off();
      },
    };
  },
};
