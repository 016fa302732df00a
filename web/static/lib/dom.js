// Small DOM helpers for the views. Text always goes in as text nodes or
// textContent: nothing in the app parses strings as HTML.

// h creates an element. props: "class", "for", aria-*/data-* and other
// attributes are set as attributes, on* functions become listeners, anything
// else that the element has as a property (value, disabled, tabIndex, …) is
// set as that property. children: nodes, strings (as text), arrays, or
// null/false/undefined (skipped).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && k !== "for" && !k.includes("-")) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// plural: plural(1, "person", "people") is "1 person".
export function plural(n, one, many) {
  return n + " " + (n === 1 ? one : many);
}

// time formats a Unix-milliseconds timestamp as a <time> element showing
// HH:MM. (Not toLocaleTimeString: its first call loads locale data, which
// delayed the first message on screen by tens of milliseconds.)
export function time(ts) {
  const d = new Date(ts || Date.now());
  const two = (n) => String(n).padStart(2, "0");
  return h("time", { dateTime: d.toISOString() }, two(d.getHours()) + ":" + two(d.getMinutes()));
}
