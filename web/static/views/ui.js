// Helpers shared by the views and panels loaded on demand: their
// stylesheet, and modal dialogs (create a room, room settings, acting on a
// member): a native <dialog>, so Escape closes it, focus stays inside while
// it is open and returns to where it was when it closes.
import { h } from "../lib/dom.js";

// style adds the stylesheet at href once, and resolves when it applies.
const sheets = new Map();
export function style(href) {
  if (!sheets.has(href)) {
    sheets.set(
      href,
      new Promise((res) => {
        const l = h("link", { rel: "stylesheet", href, onload: res, onerror: res });
        document.head.append(l);
      }),
    );
  }
  return sheets.get(href);
}

// fill replaces el's children with children, taken as h takes them (the
// DOM's replaceChildren would write null as "null").
export function fill(el, ...children) {
  el.replaceChildren(...h("span", null, children).childNodes);
  return el;
}

// css loads more.css, the stylesheet of everything loaded on demand (at its
// versioned URL, from the import map).
export const css = () => style(import.meta.resolve("./more.css"));

let n = 0;

// modal opens a dialog titled title (text) holding body, and removes it from
// the page when it closes.
export async function modal(title, ...body) {
  await css();
  const id = "dlg-title-" + ++n;
  const dlg = h("dialog", { class: "dlg", "aria-labelledby": id, onclose: () => dlg.remove() }, h("h2", { id }, title), ...body);
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

// confirmButton is a button that asks again before it acts: the first press
// turns its label into confirm, the second runs act.
export function confirmButton(label, confirm, act) {
  const b = h("button", { type: "button", class: "danger", onclick: () => (b.dataset.armed ? act() : ((b.dataset.armed = "1"), (b.textContent = confirm))) }, label);
  return b;
}

// field is a labelled control: a <label for> and the control, stacked.
export function field(label, control) {
  return h("p", { class: "field" }, h("label", { for: control.id }, label), control);
}

// visibility is the pair of radio buttons "private" / "public".
export function visibility(isPublic) {
  const radio = (value, label, help, checked) =>
    h("label", { class: "choice" }, h("input", { type: "radio", name: "visibility", value, checked }), h("span", null, h("b", null, label), " – " + help));
  return h(
    "fieldset",
    null,
    h("legend", null, "Who can find it"),
    radio("private", "Private", "only people who have its link", !isPublic),
    radio("public", "Public", "listed in Rooms for everyone", isPublic),
  );
}
