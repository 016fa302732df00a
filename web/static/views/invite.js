// A shared room link (#/r/{id}; web.Handler redirects /r/{id} here): what
// the room is (room.info: its name, topic and how many are in it) and Join.
// A visitor without a session picks a name first, at this same address
// (app.js), so a reload keeps the invitation.
import { h, plural } from "../lib/dom.js";
import { panel } from "./state.js";
import { css, fill } from "./ui.js";

export default {
  render(app, [room]) {
    const title = h("h1", { tabIndex: -1 }, "You're invited to a chat room");
    const head = h("header", { class: "chat-head" }, title);
    const body = h("div", { class: "card state" }, h("p", { class: "help" }, "Looking up the room…"));
    const el = h("section", { class: "state-view invite" }, head, body);
    const link = (href, text, cls = "button") => h("a", { href, class: cls }, text);
    let gone = false;
    css();

    app.client.roomInfo(room).then(
      (r) => {
        if (gone) return;
        title.textContent = r.name || room;
        document.title = title.textContent + " · " + app.title;
        const join = link("#/room/" + room, "Join room");
        fill(
          body,
          r.topic ? h("p", { class: "topic" }, r.topic) : null,
          h("p", { class: "help" }, (r.public ? "Public room" : "Private room") + " · " + plural(r.members || 0, "person", "people") + " here"),
          h("p", { class: "actions" }, join, link("#/rooms", "All rooms", "button secondary")),
        );
        join.focus();
      },
      (err) => {
        if (gone) return;
        el.dataset.code = err.code || "";
        if (err.code !== "not_found") return panel(el, head, title, "Could not look up the room: " + err.message, link("#/room/" + room, "Try to join"), link("#/rooms", "All rooms"));
        title.textContent = "Room not found";
        panel(el, head, title, "There is no room " + room + ": it may have been deleted, or expired unused.", link("#/rooms", "All rooms"));
      },
    );

    return {
      el,
      title: "Invitation",
      focus: title,
      destroy() {
        gone = true;
      },
    };
  },
};
