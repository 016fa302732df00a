// Panels that say why a screen cannot be shown, loaded on demand: a room
// that cannot be entered (banned, deleted, name taken) and an invitation to
// a room that is gone. They head the room's name when it is known.
import { h } from "../lib/dom.js";
import { css, fill } from "./ui.js";

// panel fills el with head and a card holding text and links (the first is
// the main action), and focuses heading.
export function panel(el, head, heading, text, ...links) {
  css();
  links = links.filter(Boolean);
  links.forEach((a, i) => (a.className = i ? "button secondary" : "button"));
  if (!el.classList.replace("chat", "state-view")) el.classList.add("state-view");
  fill(el, head, h("div", { class: "card state" }, h("p", null, text), h("p", { class: "actions" }, links)));
  heading.focus();
}

const link = (href, text) => h("a", { href }, text);

// refused shows why joining room failed (err, a ChatflyError), under its
// name if the room is known; name is the visitor's name.
export function refused(el, head, heading, err, { room, name, known }) {
  const gone = "There is no room " + room + ": it may have been deleted, or expired unused.";
  const why = { name_taken: "Someone in this room already uses the name " + name + ".", banned: "You are banned from this room.", not_found: gone }[err.code];
  if (!known) heading.textContent = err.code === "not_found" ? "Room not found" : "Could not join";
  el.dataset.code = err.code || "";
  panel(el, head, heading, why || "Could not join: " + err.message, err.code === "name_taken" && link("#/name", "Pick another name"), link("#/rooms", "All rooms"));
}
