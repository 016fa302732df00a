// Integrators' modules (web.Options.Modules), loaded before the first
// screen. Each module's default export is called with the extension API
// (README: Embedding and theming the web app):
//
//   export default function (chatfly) {
//     chatfly.registerGame("nim", { render(game, el, api) { … api.move({ take: 2 }) … } });
//     chatfly.registerScreen("rules", { render(app, params) { return { el, title } } }, { label: "Rules" });
//   }
import { h } from "./dom.js";

// Built-in routes a screen may not take.
const taken = ["name", "rooms", "room", "roulette", "r"];

export async function load(app, routes, urls) {
  const api = {
    app,
    h,
    // registerGame draws the chatfly.Game called name (GameInfo.Name) in
    // the games panel: renderer.render(game, el, api) on every game.state.
    registerGame(name, renderer) {
      if (typeof renderer?.render !== "function") throw new TypeError("registerGame(" + name + "): the renderer has no render(game, el, api)");
      app.renderers.set(name, renderer);
    },
    // registerScreen adds the screen #/name (and #/name/{param}): view is
    // a view like the app's own (render(app, params) -> {el, title, focus,
    // destroy}); opts.session: only with a connection (the name step
    // first); opts.label: a link to it in the page's header.
    registerScreen(name, view, opts = {}) {
      if (!/^[a-z][a-z0-9-]{0,31}$/.test(name) || taken.includes(name) || routes.some((r) => r.name === name)) {
        throw new Error("registerScreen: " + JSON.stringify(name) + " is taken or not a screen name (a-z, 0-9, -)");
      }
      if (typeof view?.render !== "function") throw new TypeError("registerScreen(" + name + "): the view has no render(app, params)");
      routes.push({ name, path: new RegExp("^" + name + "(?:/([A-Za-z0-9_-]{1,64}))?$"), view, session: !!opts.session });
      if (opts.label) document.getElementById("me").before(h("a", { class: "nav", href: "#/" + name }, opts.label));
    },
  };
  await Promise.all(
    urls.map(async (url) => {
      try {
        const m = await import(new URL(url, location.href).href);
        await m.default?.(api);
      } catch (err) {
        app.status("Could not load the extension " + url + ": " + err.message, "error");
      }
    }),
  );
}
