// The chatfly web app: a router over location.hash showing one view at a
// time, and the state the views share. Adding a screen: see go doc ./web.
// Routes with session: true show the name screen in their place (at the
// same address) until connected. web.Options reach it in <meta
// name="chatfly-app"> (home, identified, modules) and <html data-hide>.
import { Client } from "./chatfly.js";
import { h } from "./lib/dom.js";
import nameView from "./views/name.js";
import roomsView from "./views/rooms.js";

const cfg = JSON.parse(document.querySelector('meta[name="chatfly-app"]')?.content || "{}");
const hide = (document.documentElement.dataset.hide || "").split(" ");
const chat = () => import("./views/chat.js");

export const routes = [
  { path: /^(name)?$/, view: nameView },
  { path: /^rooms$/, view: roomsView, session: true, hide: "rooms" },
  { path: /^room\/([A-Za-z0-9_-]{1,64})$/, load: chat, session: true },
  { path: /^roulette$/, load: () => import("./views/roulette.js"), session: true, hide: "roulette" },
  { path: /^r\/([A-Za-z0-9_-]{1,64})$/, load: () => import("./views/invite.js"), session: true }, // a shared room link
].filter((r) => !hide.includes(r.hide));

const NAME_KEY = "chatfly.name";
const TOKEN_KEY = "chatfly.token";
const store = (() => {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
})();

const main = document.getElementById("view");
const statusEl = document.getElementById("status");
const meEl = document.getElementById("me");

export const app = {
  client: null,
  title: document.title, // web.Options.Title
  home: cfg.home || "rooms", // the screen after the name
  games: hide.includes("games") ? false : undefined, // false: no games panel
  renderers: new Map(), // game name -> renderer, from modules (lib/ext.js)
  name: (store && store.getItem(NAME_KEY)) || "",
  // The WebSocket endpoint: the page's <meta name="chatfly-ws">, filled in
  // by the server (or by web.WriteFiles for static hosting).
  ws: document.querySelector('meta[name="chatfly-ws"]')?.content || "/ws",
  // roomLink is a room's shareable link: …/r/{id} when the server answers
  // it (web.Handler), else …/#/r/{id} (static hosting).
  roomLink: (id) => new URL((document.querySelector('meta[name="chatfly-links"]')?.content || "#/r/") + id, location.href).href,
  next: "", // the route to show once connected

  // navigate shows the screen of route ("rooms", "room/lobby") at once and
  // records it in the history (so Back works), or replaces the current
  // entry (redirects).
  navigate(route, replace = false) {
    if (location.hash !== "#/" + route) history[replace ? "replaceState" : "pushState"](null, "", "#/" + route);
    render();
  },

  // connect starts a session as name (resume: with the stored token, so the
  // same identity again) and resolves once the server welcomed it.
  connect(name, resume = false) {
    if (this.client) this.client.close();
    if (!resume) store?.removeItem(TOKEN_KEY);
    const c = new Client({ url: this.ws, name, tokenKey: TOKEN_KEY });
    this.client = c;
    let down = false;
    c.on("welcome", (w) => {
      this.name = w.name;
      store?.setItem(NAME_KEY, w.name);
      meEl.textContent = w.name;
      // A verified user's name is the application's.
      meEl.setAttribute("aria-label", w.user ? "Signed in as " + w.name : "Change name (now " + w.name + ")");
      meEl.disabled = !!w.user;
      meEl.hidden = false;
      chat(); // the screen a session is for, ready before it is opened
    });
    c.on("state", (s) => {
      if (this.client !== c) return;
      if (s.state === "connecting") this.status("Connecting…");
      else if (s.state === "reconnecting") {
        down = true;
        this.status(c.welcome ? "Reconnecting…" : "Cannot reach the chat server. Retrying…", "warn");
      } else if (s.state === "open") {
        this.status(down ? "Back online" : "", "ok", down ? 4000 : 0);
        down = false;
      } else if (s.state === "closed" && s.code !== 1000) {
        const why = s.code === 4001 ? "This chat was opened in another tab or window." : "The server ended the connection.";
        this.status(why, "error", 0, h("button", { type: "button", onclick: () => this.reconnect() }, "Reconnect here"));
      }
    });
    c.ready.catch(() => {
      if (this.client === c) this.client = null;
    });
    return c.ready;
  },

  // reconnect resumes a session that the server closed for good (4001, 1008)
  // and shows the current screen again with the new client.
  reconnect() {
    this.connect(this.name, true).catch(() => render(true)); // refused: pick a name, here
    render(true);
  },

  // status shows text in the status line (a live region) with a kind
  // ("ok", "warn", "error"), for ms milliseconds if ms > 0.
  status(text, kind = "", ms = 0, ...extra) {
    clearTimeout(this._statusTimer);
    statusEl.replaceChildren(...(text ? [text] : []), ...extra); // empty: no text node, so :empty applies
    statusEl.dataset.kind = kind;
    if (ms > 0) this._statusTimer = setTimeout(() => this.status(""), ms);
  },
};

let current = null;
let shown = null; // the path of the current view, and whether it had a client

// render shows the view of the current location, unless it is already shown.
function render(force = false) {
  const path = location.hash.replace(/^#\/?/, "");
  const key = path + (app.client ? "" : " (no session)");
  if (key === shown && !force) return;
  let r = routes.find((r) => r.path.test(path));
  if (!r || (path === "" && app.client) || (r === routes[0] && app.client?.welcome?.user)) return app.navigate(app.client ? app.home : "", true);
  let params = r.path.exec(path).slice(1);
  if (r.session && !app.client) {
    app.next = path; // the name screen, here; then this route
    params = [path];
    r = routes[0];
  } else if (r === routes[0]) app.next = "";
  if (!r.view) {
    r.load().then(
      (m) => ((r.view = m.default), render(force)),
      (err) => app.status("Could not load this screen: " + err.message, "error"),
    );
    return;
  }
  current?.destroy?.();
  shown = key;
  current = r.view.render(app, params);
  main.replaceChildren(current.el);
  document.title = (current.title ? current.title + " · " : "") + app.title;
  (current.focus || current.el.querySelector("h1"))?.focus();
}

meEl.addEventListener("click", () => app.navigate("name"));
// In-app links ("#/…") switch screens without waiting for hashchange.
document.addEventListener("click", (e) => {
  const a = e.target.closest?.('a[href^="#/"]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  app.navigate(a.getAttribute("href").slice(2));
});
window.addEventListener("hashchange", () => render()); // Back, Forward, typed URLs
// Integrators' modules (web.Options.Modules) register their games and
// screens before the first screen.
const started = cfg.modules ? import("./lib/ext.js").then((m) => m.load(app, routes, cfg.modules)) : Promise.resolve();
if ((app.name && store?.getItem(TOKEN_KEY)) || cfg.identified) {
  // A reload: be the same person again; or a server that may know who this
  // is (web.Options.IdentifiedUsers): hello without a name. If the server
  // refuses, pick a name at the same address.
  app.connect(store?.getItem(TOKEN_KEY) ? app.name : "", true).catch(() => started.then(() => render(true)));
}
started.finally(() => {
  render();
  performance.mark("chatfly:ready"); // the first screen is up
});
