// Package web serves chatfly's browser side: the single-page chat app and
// chatfly.js, the browser client for the wire protocol that other pages can
// import. Everything is embedded in the binary: no build step, no CDN, and it
// works offline.
//
// Use Handler to serve the app next to the WebSocket endpoint:
//
//	mux.Handle("/ws", ws.Handler(hub))
//	mux.Handle("/", web.Handler(nil)) // the page connects to /ws on the same host
//
// Use WriteFiles (or Files) to put the same app on static hosting such as S3
// and CloudFront, with Options.WebSocketURL set to the API Gateway wss://
// endpoint.
//
// # What is served
//
//   - / (and /index.html): the app. Its <head> carries the WebSocket URL in
//     <meta name="chatfly-ws">, a Content-Security-Policy that allows no inline
//     script except the import map, and an import map that points every module
//     (and the stylesheet of the parts loaded on demand) at a content-versioned
//     URL (?v=hash), so a new release is never mixed with cached old modules.
//     Only the modules the first screen needs are preloaded. The options
//     of the app's look and extensions (Options.Title, Brand, Theme, Hide,
//     Home, IdentifiedUsers, Modules) are in the page too: the title and
//     brand as HTML, the theme as a <style> the policy allows by its hash,
//     hidden screens as <html data-hide>, the rest as JSON in
//     <meta name="chatfly-app">.
//   - /chatfly.js: the client module, for integrators:
//     import { connect } from "/chatfly.js". Like the other static files it
//     is served with Access-Control-Allow-Origin: *, so that pages on other
//     origins can import it (module scripts are fetched with CORS).
//     It loads /chatfly-gaps.js, next to it, only when a room's messages
//     have a gap in seq to fetch from history. Both are the files of the npm
//     package @chatfly/client (clients/js, with its TypeScript types),
//     embedded from there: one source.
//   - /app.js, /app.css, /lib/*.js, /views/*.js, /views/more.css: the app's
//     modules and style.
//   - /r/{id}: a room's shareable link, which redirects (302, to the relative
//     ../#/r/{id}, so it works under http.StripPrefix) to the app; the app asks
//     for a name if needed, then opens the room. Static hosting (Files) has no
//     such path: the app's page tells it so, and it makes links of the form
//     …/#/r/{id} there instead.
//
// Every response has a strong ETag (a hash of the content) and answers a
// matching If-None-Match with 304. A URL whose ?v= is the content's version
// is cached for a year as immutable; other URLs (index.html, unversioned
// modules) are served with Cache-Control: no-cache, so browsers revalidate.
// Bodies are gzip-compressed once, when the package is first used, and sent
// compressed to clients that accept gzip.
//
// # The app
//
// The app is plain modern JavaScript (ES modules) in static/: app.js holds a
// small router over location.hash and the shared state, views/*.js one screen
// each (name, rooms, chat, roulette), lib/dom.js the helpers that build
// elements. views/roulette.js also exports Roulette, the roulette part of
// the client (a pair found when it asks again is a roulette.matched event),
// for other pages too. User text only ever reaches the page as text nodes,
// never as HTML.
//
// What the first visit does not need loads on demand, with a dynamic
// import(): the chat view (views/chat.js, fetched as soon as a visitor has
// a session), lib/ext.js (the loader of Options.Modules and their API,
// registerGame and registerScreen; README: Embedding and theming the web
// app), the roulette screen, the "New room" dialog (views/create.js), and
// the chat view's add-ons — views/tools.js in custom rooms (share link, room
// settings, moderation of members) and views/games.js when the server offers
// games (PROTOCOL.md; each built-in game has its renderer there, and the
// renderers modules register come first). They share
// views/ui.js (dialogs, and views/more.css, found through the import map with
// import.meta.resolve).
//
// To add a screen, write static/views/<name>.js exporting a view object whose
// render(app, params) returns {el, title, focus, destroy}, and add a route (a
// regexp over the hash, without "#/") to routes in app.js: with view, for a
// view imported by app.js, or with load: () => import("./views/<name>.js")
// to load it on demand; with session: true if it needs a connection, so that
// a visitor without one picks a name first, at the same address (a reload
// keeps it), and then sees the screen. A shared room link (#/r/{id}) is such
// a screen: views/invite.js shows the room's name and topic and Join;
// views/state.js says why a room cannot be entered (banned, deleted, name
// taken), under the room's name. Keep the initial weight — index.html and every file
// it loads at start: app.css, app.js and what it imports statically — under
// 50 KB: a test checks it.
package web
