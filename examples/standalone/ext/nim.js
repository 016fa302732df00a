// The example's custom game, Nim (nim.go), for the chatfly web app, which
// loads this module because web.Options.Modules names it. Its default
// export gets the app's extension API: it registers the game's renderer and
// a screen with the rules, linked from the page's header.
export default function (chatfly) {
  chatfly.registerGame("nim", {
    // render draws game (a game.state's game: seats, you, status, view …)
    // into el, the same element for every state of the game; api.move
    // sends a move, api.can says whether you may move now.
    render(game, el, api) {
      const { h } = api;
      const v = game.view;
      const who = (seat) => (seat === game.you ? "You" : game.seats[seat]?.name || "?");
      el.replaceChildren(
        h("p", { class: "nim-pile", "aria-hidden": "true" }, "●".repeat(v.pile) || "–"),
        h("p", { class: "nim-left" }, v.pile + " of " + v.start + " stones left" + (v.last ? ". " + who(v.last.seat) + " took " + v.last.took + "." : ".")),
        game.you >= 0 && !v.over
          ? h(
              "p",
              { class: "buttons nim-take", role: "group", "aria-label": "Take stones" },
              [1, 2, 3].map((n) =>
                h("button", { type: "button", "data-key": "take" + n, "data-take": n, disabled: !api.can || n > v.max, onclick: () => api.move({ take: n }) }, "Take " + n),
              ),
            )
          : null,
      );
    },
  });

  chatfly.registerScreen(
    "nim-rules",
    {
      render(app) {
        const { h } = chatfly;
        const el = h(
          "section",
          { class: "card nim-rules" },
          h("h1", { tabIndex: -1 }, "Nim"),
          h("p", null, "Two players take turns taking 1 to 3 stones from a pile of 10. Whoever takes the last stone wins."),
          h("p", null, "Start a game of Nim in any room with games: open Games, choose Nim, and invite someone."),
          h("a", { href: "#/" + app.home }, "Back"),
        );
        return { el, title: "Nim rules" };
      },
    },
    { label: "Nim rules" },
  );
}
