// The games panel of a room (PROTOCOL.md, "Games"). On joining it asks the
// server for its games (game.list) and shows nothing if there are none.
// Otherwise: a form to start a game (with someone in the room, or with open
// seats for anyone), and every game of the room drawn from its game.state,
// which the server renders for your seat (spectators see the public view):
// invitations and open seats with Accept, the board played by clicking (or
// with the keyboard: every cell, column, hand and letter is a button), the
// result, and Rematch (game.rematch: the same players, seats rotated).
import { h } from "../lib/dom.js";
import { css, fill } from "./ui.js";

const KEEP_OVER = 3; // finished games kept on screen

export async function mount(ctx) {
  const { app, c, room, side, members, me } = ctx;
  const games = new Map(); // game id -> {g, el, err}
  let ready = false;
  const early = [];
  const offs = [c.on("game.state", (f) => f.room === room && (ready ? show(f.game) : early.push(f.game)))];
  const off = () => offs.forEach((f) => f());
  let list;
  try {
    [list] = await Promise.all([c.request("game.list", { room }), css()]);
  } catch {
    off();
    return null;
  }
  const available = list.available || [];
  if (!available.length) {
    off();
    app.games = false; // the server has none: do not ask again in other rooms
    return null;
  }

  const kind = h("select", { id: "game-kind" }, available.map((a) => h("option", { value: a.name }, a.title)));
  const who = h("select", { id: "game-who" });
  const count = h("input", { id: "game-count", type: "number", value: 2 });
  const countField = field("Players", count);
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "new-game", onsubmit: start, onchange: fields },
    field("Game", kind),
    field("With", who),
    countField,
    h("button", { type: "submit" }, "Start"),
    error,
  );
  const cards = h("div", { class: "game-list" });
  const live = h("p", { class: "vh", "aria-live": "polite" });
  // The Start form comes first, so that finished games never push it out
  // of view; the newest game is at the top of the list below it.
  const panel = h("details", { class: "games", open: ctx.wide }, h("summary", null, "Games"), form, cards, live);
  side.append(panel);

  ready = true;
  const states = [...(list.games || []).map((f) => f.game), ...early];
  states.sort((a, b) => (a.status === "over") - (b.status === "over"));
  for (const g of states.reverse()) show(g, true);
  fields();
  // Back after a reconnection: what happened meanwhile (games the server
  // no longer has, a memory server that restarted, are dropped).
  offs.push(
    c.on("joined", async (j) => {
      if (j.room?.id !== room || !j.rejoin) return;
      try {
        const now = (await c.request("game.list", { room })).games.map((f) => f.game);
        for (const id of games.keys()) if (!now.some((g) => g.id === id)) drop(id);
        for (const g of now) show(g, true);
      } catch {
        // keep what is shown
      }
    }),
  );

  function field(label, control) {
    return h("span", { class: "field" }, h("label", { for: control.id }, label), control);
  }

  // fields fits the form to the chosen game: whom to invite, and the number
  // of seats when they are open and the game takes more than two.
  function fields() {
    const was = who.value;
    const people = [...members.values()].filter((m) => m.id !== me()).sort((a, b) => a.name.localeCompare(b.name));
    who.replaceChildren(h("option", { value: "" }, "Anyone"), ...people.map((m) => h("option", { value: m.id }, m.name)));
    who.value = people.some((m) => m.id === was) ? was : "";
    const info = available.find((a) => a.name === kind.value) || available[0];
    count.min = info.min_players;
    count.max = info.max_players;
    count.value = Math.min(Math.max(+count.value || 0, info.min_players), info.max_players);
    countField.hidden = !!who.value || info.max_players <= info.min_players;
  }

  async function start(e) {
    e.preventDefault();
    error.textContent = "";
    const f = { room, game: kind.value };
    if (who.value) f.invite = [who.value];
    else if (!countField.hidden) f.players = +count.value;
    try {
      show((await c.request("game.start", f)).game);
    } catch (err) {
      error.textContent = "Could not start: " + err.message;
    }
  }

  // Function declarations, not arrow constants: the games already in the
  // room are drawn above, before this point, and use them.
  function name(g, i) {
    return i === g.you ? "you" : g.seats[i]?.name || "?";
  }
  function names(g, seats) {
    return seats.map((i) => name(g, i)).join(" and ");
  }
  function memberName(id) {
    return members.get(id)?.name || "someone";
  }

  // show draws a game.state (unless an earlier version of it); quiet: no
  // announcements (the games that were there before you came).
  function show(g, quiet = false) {
    let x = games.get(g.id);
    if (x && x.g.version > g.version) return;
    const prev = x?.g;
    if (!x) {
      x = { el: h("article", { class: "game", tabIndex: -1, "data-id": g.id }) };
      games.set(g.id, x);
      cards.prepend(x.el);
    }
    x.g = g;
    if (!quiet) announce(prev, g);
    draw(x);
    let over = 0;
    for (const el of [...cards.children]) {
      if (el.dataset.status === "over" && ++over > KEEP_OVER) drop(el.dataset.id);
    }
  }

  function drop(id) {
    clearTimeout(games.get(id)?.timer);
    games.get(id)?.el.remove();
    games.delete(id);
  }

  function announce(prev, g) {
    const mine = g.you >= 0;
    const myTurn = (s) => s?.status === "playing" && s.turn.includes(s.you);
    let say = "";
    if (!prev && g.status === "open" && !mine && g.invited?.includes(me())) {
      say = g.seats[0].name + " invites you to play " + g.title + ".";
      ctx.note(say + " See Games.");
      panel.open = true;
    } else if (myTurn(g) && !myTurn(prev)) say = g.title + ": your turn.";
    else if (g.status === "over" && prev && prev.status !== "over") say = g.title + ": " + result(g);
    if (say) live.textContent = say;
  }

  function seatsLine(g) {
    const marks = g.view?.marks;
    const seats = [];
    for (let i = 0; i < g.size; i++) {
      const s = g.seats[i];
      if (s) seats.push(s.name + (i === g.you ? " (you)" : "") + (marks ? " · " + markName(g.name, marks[i]) : ""));
      else seats.push("open seat");
    }
    return seats.join(g.size === 2 ? " vs " : ", ");
  }

  function result(g) {
    if (g.reason === "cancelled") return "Cancelled.";
    const w = g.winners || [];
    const losers = g.seats.map((_, i) => i).filter((i) => !w.includes(i));
    let s = !w.length ? "A draw." : w.includes(g.you) ? (w.length > 1 ? "You won, with " + names(g, w.filter((i) => i !== g.you)) + "!" : "You won!") : names(g, w) + " won.";
    const why = { resigned: " resigned.", left: " left the room.", timeout: " ran out of time." }[g.reason];
    if (why && losers.length) s += " " + names(g, losers).replace(/^you/, "You") + why;
    return s;
  }

  // outcome is how a finished game ended for this viewer: won, lost or
  // draw for a player; over for a spectator or a cancelled game; "" before.
  function outcome(g) {
    if (g.status !== "over") return "";
    if (g.you < 0 || g.reason === "cancelled") return "over";
    const w = g.winners || [];
    return !w.length ? "draw" : w.includes(g.you) ? "won" : "lost";
  }

  function statusText(g) {
    const mine = g.you >= 0;
    if (g.status === "over") return result(g);
    if (g.status === "open") {
      const waiting = (g.invited || []).filter((id) => !g.seats.some((s) => s.id === id));
      if (mine) return waiting.length ? "Waiting for " + waiting.map(memberName).join(", ") + " to accept." : "Waiting for someone to join (" + g.seats.length + " of " + g.size + ").";
      if (g.invited?.includes(me())) return g.seats[0].name + " invites you to play.";
      return waiting.length ? g.seats[0].name + " invited " + waiting.map(memberName).join(", ") + "." : g.seats[0].name + " is looking for players.";
    }
    if (mine && g.turn.includes(g.you)) return g.name === "rps" ? "Your turn: choose a hand." : "Your turn.";
    return "Waiting for " + names(g, g.turn) + ".";
  }

  // draw renders a game into its card, keeping the focus (and a half-typed
  // word) on the control that had it.
  function draw(x) {
    const g = x.g;
    const active = x.el.contains(document.activeElement) ? document.activeElement : null;
    const key = active?.dataset.key;
    const typed = active?.tagName === "INPUT" ? active.value : null;
    const mine = g.you >= 0;
    const can = g.status === "playing" && mine && g.turn.includes(g.you);
    const play = (move) => act(x, "game.move", { move });
    const custom = app.renderers.get(g.name); // registered by a module (lib/ext.js)
    const board = !g.view ? null : custom ? drawCustom(x, custom, play, can) : (boards[g.name] || unknown)(g, play, can);
    const buttons = [];
    const btn = (label, onclick, cls = "secondary") => buttons.push(h("button", { type: "button", class: cls, onclick }, label));
    if (g.status === "open" && !mine && (!g.invited?.length || g.invited.includes(me()))) btn("Accept", () => act(x, "game.accept"), "");
    if (g.status === "open" && mine) btn("Cancel", () => act(x, "game.resign"));
    if (g.status === "playing" && mine) {
      if (g.deadline && Date.now() > g.deadline && !g.turn.includes(g.you)) btn("Claim the win", () => act(x, "game.claim"), "");
      btn("Resign", () => act(x, "game.resign"));
    }
    if (g.status === "over" && mine && g.reason !== "cancelled") btn("Rematch", () => rematch(x), "");
    if (g.status === "over") btn("Close", () => drop(g.id));
    x.err = h("p", { class: "error", role: "alert" });
    // With a turn timer, draw again when it runs out (Claim the win appears).
    clearTimeout(x.timer);
    if (g.status === "playing" && g.deadline > Date.now()) x.timer = setTimeout(() => draw(x), g.deadline - Date.now() + 100);
    x.el.dataset.status = g.status;
    x.el.dataset.game = g.name;
    x.el.dataset.outcome = outcome(g);
    x.el.setAttribute("aria-label", g.title);
    fill(
      x.el,
      h("h3", null, g.title),
      h("p", { class: "seats" }, seatsLine(g)),
      h("p", { class: "game-status" }, statusText(g)),
      board,
      x.err,
      buttons.length ? h("p", { class: "buttons" }, buttons) : null,
    );
    if (!active) return;
    const same = key && x.el.querySelector(`[data-key="${key}"]`);
    if (same && typed !== null) same.value = typed;
    (same && !same.disabled ? same : x.el.querySelector("[data-key]:not(:disabled)") || x.el).focus();
  }

  // drawCustom has a module's renderer draw the game into the card's board
  // element, the same element for every state of the game.
  function drawCustom(x, r, move, can) {
    x.board ||= h("div", { class: "board" });
    try {
      r.render(x.g, x.board, { move, can, h });
    } catch (err) {
      fill(x.board, h("p", { class: "error" }, "Could not show " + x.g.title + ": " + err.message));
    }
    return x.board;
  }

  async function act(x, action, fields = {}) {
    x.err.textContent = "";
    try {
      show((await c.request(action, { room, game: x.g.id, ...fields })).game);
    } catch (err) {
      x.err.textContent = err.message;
    }
  }

  // rematch: the same players again, everyone moved up one seat (so that
  // someone else begins), the others invited.
  async function rematch(x) {
    try {
      show((await c.request("game.rematch", { room, game: x.g.id })).game);
    } catch (err) {
      x.err.textContent = "No rematch: " + (err.code === "not_member" ? "the others left the room." : err.message);
    }
  }

  return {
    update: fields,
    destroy() {
      off();
      for (const x of games.values()) clearTimeout(x.timer);
      panel.remove();
    },
  };
}

function markName(game, m) {
  return game === "connectfour" ? { R: "red", Y: "yellow" }[m] || m : m;
}

function unknown(g) {
  return h("p", { class: "help" }, "This app cannot show " + g.title + ".");
}

// One renderer per built-in game: (game.state's game, play(move), whether
// you may move now) -> element. Modules' renderers (app.renderers) come
// first. Their views are the games' own (games/*).
const boards = {
  tictactoe(g, play, can) {
    const v = g.view;
    return h(
      "div",
      { class: "ttt", role: "group", "aria-label": "Board" },
      v.board.map((m, i) =>
        h(
          "button",
          {
            type: "button",
            class: "cell" + (v.line.includes(i) ? " win" : "") + (v.last === i ? " last" : ""),
            "data-key": "c" + i,
            "data-cell": i,
            disabled: !can || !!m,
            "aria-label": "Row " + (1 + Math.floor(i / 3)) + ", column " + (1 + (i % 3)) + ": " + (m || "empty"),
            onclick: () => play({ cell: i }),
          },
          m || "",
        ),
      ),
    );
  },

  connectfour(g, play, can) {
    const v = g.view;
    const at = (c) => c.row + "," + c.column;
    const win = new Set(v.line.map(at));
    const last = v.last ? at(v.last) : "";
    const cols = [];
    for (let col = 0; col < 7; col++) {
      const n = v.rows.filter((r) => r[col]).length;
      cols.push(
        h(
          "button",
          {
            type: "button",
            class: "col",
            "data-key": "k" + col,
            "data-column": col,
            disabled: !can || !v.playable.includes(col),
            "aria-label": "Column " + (col + 1) + ", " + n + " of 6 filled",
            onclick: () => play({ column: col }),
          },
          v.rows.map((r, row) =>
            h("span", { class: "disc" + (r[col] ? " " + r[col] : "") + (win.has(row + "," + col) ? " win" : "") + (last === row + "," + col ? " last" : "") }),
          ),
        ),
      );
    }
    return h("div", { class: "c4", role: "group", "aria-label": "Board: drop a disc in a column" }, cols);
  },

  rps(g, play, can) {
    const v = g.view;
    const n = [0, 1].map((i) => g.seats[i]?.name || "?");
    return h(
      "div",
      { class: "rps" },
      h("p", null, n[0] + " " + v.score[0] + " – " + v.score[1] + " " + n[1] + " · first to " + v.wins_needed),
      v.rounds.length
        ? h(
            "ol",
            { class: "rounds" },
            v.rounds.map((r) => h("li", null, r.hands.join(" vs ") + ": " + (r.winner < 0 ? "draw" : n[r.winner]))),
          )
        : null,
      v.over ? null : h("p", { class: "help" }, "Round " + v.round + ": " + [0, 1].map((i) => n[i] + (v.moved[i] ? " has chosen" : " is choosing")).join(", ")),
      v.hand ? h("p", null, "You chose " + v.hand + ".") : null,
      g.you >= 0 && !v.over
        ? h(
            "div",
            { class: "hands", role: "group", "aria-label": "Your hand" },
            ["rock", "paper", "scissors"].map((hand) =>
              h("button", { type: "button", "data-key": hand, "data-hand": hand, disabled: !can, onclick: () => play({ hand }) }, hand),
            ),
          )
        : null,
    );
  },

  wordguess(g, play, can) {
    const v = g.view;
    const word = v.word || v.pattern;
    const input = h("input", { id: "guess-" + g.id, type: "text", maxLength: 32, autocomplete: "off", spellcheck: false, disabled: !can, "data-key": "w" });
    const guess = (e) => {
      e.preventDefault();
      const w = input.value.trim().toLowerCase();
      if (w) play({ word: w });
    };
    return h(
      "div",
      { class: "wordguess" },
      h(
        "p",
        { class: "word" },
        h("span", { "aria-hidden": "true" }, [...word].join(" ")),
        h("span", { class: "vh" }, "The word: " + [...word].map((ch) => (ch === "_" ? "blank" : ch)).join(", ")),
      ),
      h("p", { class: "help" }, v.misses_left + " misses left · guessed: " + (v.guessed.join(" ") || "nothing yet")),
      h("p", null, "Points: " + g.seats.map((s, i) => s.name + " " + (v.scores[i] || 0)).join(", ")),
      g.you >= 0 && !v.over
        ? [
            h(
              "div",
              { class: "letters", role: "group", "aria-label": "Guess a letter" },
              [..."abcdefghijklmnopqrstuvwxyz"].map((l) =>
                h("button", { type: "button", "data-key": "l" + l, disabled: !can || v.guessed.includes(l), onclick: () => play({ letter: l }) }, l),
              ),
            ),
            h(
              "form",
              { class: "guess", onsubmit: guess },
              h("label", { for: input.id }, "The word"),
              input,
              h("button", { type: "submit", class: "secondary", disabled: !can }, "Guess"),
            ),
          ]
        : null,
    );
  },
};
