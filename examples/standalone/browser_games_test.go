package main

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

const jsRouletteState = `document.querySelector(".roulette")?.dataset.state`

func jsRouletteStatus(prefix string) string {
	return `document.querySelector(".rl-status")?.textContent.startsWith(` + jsString(prefix) + `)`
}

// TestBrowserRoulette: Ada and Lin open Roulette with interests, start, are
// matched with the interest they share, chat in the pair room; Lin presses
// Next and Ada sees that the chat ended; Ada starts again and, nobody else
// waiting, meets Lin again; Ada stops and Lin sees she left.
func TestBrowserRoulette(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	ada := newTab(t, browser, "Ada")
	lin := newTab(t, browser, "Lin")

	for _, x := range []struct {
		tb        *tab
		name, tag string
	}{{ada, "Ada", "Go, music"}, {lin, "Lin", "films, go"}} {
		enter(x.tb, srv.url(), x.name)
		x.tb.Do("open Roulette", chromedp.Click(chromedp.CSS(`a[href="#/roulette"]`)))
		x.tb.WaitJS("the roulette screen", `location.hash === "#/roulette" && `+jsRouletteStatus("Press Start"))
		x.tb.Do("interests", chromedp.SendKeys(chromedp.ID("interests"), x.tag))
	}
	checkLabels(ada)
	ada.ClickJS("Start", jsButton("rl-controls", "Start"))
	ada.WaitJS("waiting", jsRouletteStatus("Looking for someone who likes go, music"))
	if !eval[bool](ada, `document.querySelector("#msg").disabled && document.activeElement.textContent === "Stop"`) {
		t.Error("Ada while waiting: the composer is enabled, or the focus is not on Stop")
	}
	lin.ClickJS("Start", jsButton("rl-controls", "Start"))
	ada.WaitJS("matched with Lin", jsRouletteStatus("Talking with Lin: you both like go"))
	lin.WaitJS("matched with Ada", jsRouletteStatus("Talking with Ada: you both like go"))

	ada.Do("say hi", chromedp.SendKeys(chromedp.ID("msg"), "hi stranger\r"))
	lin.WaitJS("Ada's message", jsHasMessage("Ada", "hi stranger"))
	lin.Do("answer", chromedp.SendKeys(chromedp.ID("msg"), "hello!\r"))
	ada.WaitJS("Lin's answer", jsHasMessage("Lin", "hello!"))
	checkLabels(lin)
	checkPhone(lin, ".composer")

	// Next: Lin looks for someone else, Ada's chat has ended.
	lin.ClickJS("Next", jsButton("rl-controls", "Next"))
	ada.WaitJS("the chat ended", `document.querySelector("#msg").disabled && `+jsRouletteStatus("The chat ended: Lin moved on to someone new"))
	lin.WaitJS("Lin waiting", jsRouletteState+` === "waiting"`)
	if got := eval[string](lin, `document.querySelectorAll(".msgs li.msg").length + ""`); got != "2" {
		t.Errorf("Lin's log after Next: %s messages, want the 2 of the ended chat", got)
	}

	// Nobody else is waiting: Ada starting again meets Lin again.
	ada.ClickJS("Start again", jsButton("rl-controls", "Start"))
	ada.WaitJS("matched with Lin again", jsRouletteStatus("Talking with Lin"))
	lin.WaitJS("matched with Ada again", jsRouletteStatus("Talking with Ada"))
	if n := eval[int](ada, `document.querySelectorAll(".msgs li.msg").length`); n != 0 {
		t.Errorf("Ada's new chat starts with %d old messages", n)
	}

	// Stop: Ada leaves, Lin is told.
	ada.ClickJS("Stop", jsButton("rl-controls", "Stop"))
	ada.WaitJS("stopped", jsRouletteState+` === "idle"`)
	lin.WaitJS("Ada left", jsRouletteStatus("The chat ended: Ada left"))

	for _, tb := range []*tab{ada, lin} {
		tb.Check()
	}
}

// TestBrowserRouletteTimers drives the roulette screen against a scripted
// client, for what two real people rarely show: while waiting, the screen
// (through its Roulette) asks again when roulette.waiting's retry
// says, with the interests the server echoed, and a pair its own ask finds
// is shown; asking stops once matched; a roulette.waiting reply that
// arrives after roulette.matched (the match happened while the request
// was on its way) is ignored, and its ask then finds the same pair, which
// is not announced twice.
func TestBrowserRouletteTimers(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	tb := newTab(t, browser, "timers")
	tb.Do("open the app", chromedp.Navigate(srv.url()+"/"))
	tb.WaitJS("the app", `document.querySelector("#name")`)
	type result struct {
		Delays     []int    `json:"delays"`
		Sent       []string `json:"sent"`
		Status     string   `json:"status"`
		AfterLate  string   `json:"afterLate"`
		Matched    int      `json:"matched"`
		Pending    int      `json:"pending"`
		AfterEnded string   `json:"afterEnded"`
	}
	got := eval[result](tb, `(async () => {
		const { default: view } = await import("/views/roulette.js");
		const realTimeout = window.setTimeout;
		const timers = new Map();
		let next = 1;
		window.setTimeout = (fn, ms) => ms ? (timers.set(next, { fn, ms }), next++) : realTimeout(fn, 0);
		window.clearTimeout = (id) => timers.delete(id);
		const fire = () => { const [id, t] = [...timers][0]; timers.delete(id); t.fn(); };
		const sent = [];
		const pending = [];
		const client = new EventTarget();
		client.welcome = { session: "me" };
		client.on = (type, fn) => {
			const h = (e) => fn(e.detail);
			client.addEventListener(type, h);
			return () => client.removeEventListener(type, h);
		};
		client.request = (action, f) => {
			sent.push(action + (f?.interests?.length ? " " + f.interests.join("+") : ""));
			return new Promise((res) => pending.push(res));
		};
		let matched = 0;
		client.on("roulette.matched", () => matched++);
		const emit = (type, detail) => client.dispatchEvent(new CustomEvent(type, { detail }));
		const tick = () => new Promise((res) => realTimeout(res, 0));
		const lin = { type: "roulette.matched", room: "rp-1", partner: { id: "lin", name: "Lin" } };
		const v = view.render({ client });
		document.body.append(v.el);
		v.el.querySelector("#interests").value = " Go , MUSIC";
		const start = () => [...v.el.querySelectorAll("button")].find((b) => b.textContent === "Start").click();
		start();
		pending.shift()({ type: "roulette.waiting", interests: ["go", "music"], retry: 7000 });
		await tick();
		const r = { sent, delays: [...timers.values()].map((t) => t.ms) };
		fire(); // 7 seconds later: the screen asks again by itself
		pending.shift()({ type: "roulette.waiting", interests: ["go", "music"] }); // no retry: 20 s
		await tick();
		r.delays.push(...[...timers.values()].map((t) => t.ms));
		fire();
		pending.shift()(lin); // the ask finds Lin
		await tick();
		r.status = v.el.querySelector(".rl-status").textContent;
		emit("roulette.ended", { type: "roulette.ended", room: "rp-1", reason: "next" });
		// Start again; the match arrives as an event before the waiting reply.
		start();
		const lin2 = { ...lin, room: "rp-2" };
		emit("roulette.matched", lin2);
		pending.shift()({ type: "roulette.waiting", interests: ["go", "music"], retry: 5 });
		await tick();
		r.afterLate = v.el.dataset.state;
		fire(); // the ask of the late waiting answers the same pair
		pending.shift()(lin2);
		await tick();
		r.matched = matched;
		r.pending = timers.size + pending.length;
		emit("roulette.ended", { type: "roulette.ended", room: "rp-2", reason: "disconnected" });
		r.afterEnded = v.el.querySelector(".rl-status").textContent;
		v.destroy();
		v.el.remove();
		window.setTimeout = realTimeout;
		return r;
	})()`)
	want := result{
		Delays:     []int{7000, 20000},
		Sent:       []string{"roulette.join go+music", "roulette.join go+music", "roulette.join go+music", "roulette.join go+music", "roulette.join go+music"},
		Status:     "Talking with Lin",
		AfterLate:  "matched",
		Matched:    2, // Lin from the screen's own ask, then Lin's event of rp-2; not the repeat
		Pending:    0,
		AfterEnded: "The chat ended: Lin disconnected. Press Start to meet someone new.",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("roulette screen:\n got  %+v\n want %+v", got, want)
	}
	tb.Check()
}

// TestBrowserRouletteAsksAgain: two people in real browser tabs of the
// app each press Start once, Cy without interests, then Ada with one,
// whose join cannot pair her before her fallback (300 ms here); they are
// paired without touching anything, because the page asks again when the
// server says.
func TestBrowserRouletteAsksAgain(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret, func(o *chatfly.Options) {
		o.Matcher = chatfly.NewMatcher(memstore.New(nil), &chatfly.MatcherOptions{FallbackAfter: 300 * time.Millisecond})
	})
	ada, cy := newTab(t, browser, "Ada"), newTab(t, browser, "Cy")
	for _, x := range []struct {
		tb        *tab
		name, tag string
	}{{cy, "Cy", ""}, {ada, "Ada", "go"}} {
		enter(x.tb, srv.url(), x.name)
		x.tb.Do("open Roulette", chromedp.Click(chromedp.CSS(`a[href="#/roulette"]`)))
		x.tb.WaitJS("the roulette screen", `location.hash === "#/roulette" && `+jsRouletteStatus("Press Start"))
		if x.tag != "" {
			x.tb.Do("interests", chromedp.SendKeys(chromedp.ID("interests"), x.tag))
		}
		x.tb.ClickJS("Start", jsButton("rl-controls", "Start"))
		x.tb.WaitJS("started", jsRouletteState+` !== "idle"`)
	}
	ada.WaitJS("Ada is paired with Cy", jsRouletteStatus("Talking with Cy"))
	cy.WaitJS("Cy is paired with Ada", jsRouletteStatus("Talking with Ada"))
	ada.Check()
	cy.Check()
}

// jsGame is the newest game card on the page.
const jsGame = `document.querySelector(".game-list .game")`

func jsGameStatus(text string) string {
	return jsGame + `?.querySelector(".game-status").textContent === ` + jsString(text)
}

// jsGameButton is the button of the newest game card whose text is text.
func jsGameButton(text string) string {
	return `[...(` + jsGame + `?.querySelectorAll("button") ?? [])].find((b) => b.textContent === ` + jsString(text) + `)`
}

// jsButton is the button within an element of class class whose text is
// text (the JavaScript counterpart of button, for ClickJS).
func jsButton(class, text string) string {
	return `[...document.querySelectorAll(` + jsString("."+class+" button") + `)].find((b) => b.textContent === ` + jsString(text) + `)`
}

// jsQuery is the first element matching the CSS selector, when evaluated.
func jsQuery(sel string) string { return `document.querySelector(` + jsString(sel) + `)` }

func jsCell(i string) string {
	return jsGame + `?.querySelector('.ttt [data-cell="` + i + `"]')`
}

// TestBrowserTicTacToe: in the games room Ada invites Lin to tic-tac-toe,
// Lin accepts, and they play it to the end by clicking the board while Kim
// watches the public view; Lin asks for a rematch and Ada accepts.
func TestBrowserTicTacToe(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	ada := newTab(t, browser, "Ada")
	lin := newTab(t, browser, "Lin")
	kim := newTab(t, browser, "Kim")
	enterGames(srv.url(), "tictactoe", ada, lin, kim)

	// Ada invites Lin.
	ada.Do("choose tic-tac-toe with Lin", chromedp.Evaluate[chromedp.Void](`(() => {
		const kind = document.querySelector("#game-kind");
		kind.value = "tictactoe";
		const who = document.querySelector("#game-who");
		who.value = [...who.options].find((o) => o.text === "Lin").value;
		who.dispatchEvent(new Event("change", { bubbles: true }));
	})()`))
	checkLabels(ada)
	ada.ClickJS("Start", jsButton("new-game", "Start"))
	ada.WaitJS("waiting for Lin", jsGameStatus("Waiting for Lin to accept."))
	lin.WaitJS("the invitation", jsGameStatus("Ada invites you to play.")+` && document.querySelector(".msgs").textContent.includes("Ada invites you to play Tic-tac-toe.")`)
	kim.WaitJS("the invitation, for Lin", jsGameStatus("Ada invited Lin."))
	if n := eval[int](kim, jsGame+`.querySelectorAll("button").length`); n != 0 {
		t.Errorf("Kim can act on an invitation for Lin: %d buttons", n)
	}
	lin.ClickJS("Accept", jsGameButton("Accept"))

	// X: Ada, O: Lin. Ada takes the top row.
	ada.WaitJS("Ada's turn", jsGameStatus("Your turn.")+` && !`+jsCell("0")+`.disabled`)
	// Lin's page gets the started game at its own pace: wait for it.
	lin.WaitJS("Lin's seats line", jsGame+`.querySelector(".seats")?.textContent === "Ada · X vs Lin (you) · O"`)
	for i, m := range []struct {
		tb   *tab
		cell string
	}{{ada, "0"}, {lin, "3"}, {ada, "1"}, {lin, "4"}, {ada, "2"}} {
		m.tb.WaitJS("my turn", `!`+jsCell(m.cell)+`?.disabled`)
		if i == 1 && eval[bool](kim, `[...`+jsGame+`.querySelectorAll(".ttt button")].some((b) => !b.disabled)`) {
			t.Error("Kim (a spectator) can play")
		}
		m.tb.ClickJS("play cell "+m.cell, jsQuery(`.game-list .game .ttt [data-cell="`+m.cell+`"]`))
		mark := map[bool]string{true: "X", false: "O"}[m.tb == ada]
		for _, tb := range []*tab{ada, lin, kim} {
			tb.WaitJS("the "+mark+" in cell "+m.cell, jsCell(m.cell)+`?.textContent === "`+mark+`"`)
		}
	}
	ada.WaitJS("Ada won", jsGameStatus("You won!"))
	lin.WaitJS("Lin lost", jsGameStatus("Ada won."))
	kim.WaitJS("Kim saw it", jsGameStatus("Ada won."))
	for _, tb := range []*tab{ada, lin, kim} {
		if got := eval[string](tb, `[...`+jsGame+`.querySelectorAll(".ttt .win")].map((b) => b.dataset.cell).join()`); got != "0,1,2" {
			t.Errorf("%s: winning line %q, want 0,1,2", tb.Name, got)
		}
	}
	checkLabels(lin)
	checkPhone(lin, ".composer")

	// Rematch: Lin starts a new game with the same players; Ada accepts.
	lin.ClickJS("Rematch", jsGameButton("Rematch"))
	ada.WaitJS("the rematch invitation", jsGameStatus("Lin invites you to play."))
	ada.ClickJS("Accept", jsGameButton("Accept"))
	lin.WaitJS("Lin's turn, now X", jsGameStatus("Your turn.")+` && `+jsGame+`.querySelector(".seats").textContent === "Lin (you) · X vs Ada · O"`)
	kim.WaitJS("the finished game and the rematch", `document.querySelectorAll(".game-list .game").length === 2`)

	// Keyboard: Lin plays the centre with Tab and Enter, and keeps the focus
	// on the board.
	lin.Do("focus the first cell", chromedp.Focus(chromedp.CSS(`.game-list .game .ttt [data-cell="0"]`)))
	for i := 0; i < 4; i++ {
		lin.Do("Tab", chromedp.KeyEvent("\t"))
	}
	lin.Do("Enter on the centre", chromedp.KeyEvent("\r"))
	ada.WaitJS("Lin's X in the centre", jsCell("4")+`?.textContent === "X"`)
	lin.WaitJS("the focus stays in the game", `document.activeElement.closest(".game") !== null`)

	for _, tb := range []*tab{ada, lin, kim} {
		tb.Check()
	}
}

// enterGames has each tab pick its name (the tab's name) and join the
// games room, until its games panel offers game; then the first sees the
// second among the people to invite.
func enterGames(base, game string, tabs ...*tab) {
	tabs[0].T.Helper()
	for _, tb := range tabs {
		enter(tb, base, tb.Name)
		tb.Do("join the games room", chromedp.Click(chromedp.CSS(`a.room[data-room="games"]`)))
		tb.WaitJS("the games panel", jsInRoom+` && document.querySelector("#game-kind option[value=`+game+`]")`)
	}
	tabs[0].WaitJS(tabs[1].Name+" in the room", `[...document.querySelectorAll("#game-who option")].some((o) => o.text === `+jsString(tabs[1].Name)+`)`)
}

// startGame has Ada start game in the room, inviting Lin (or with open
// seats when invite is false, for players players), and Lin accept it.
func startGame(ada, lin *tab, game string, invite bool, players int) {
	ada.T.Helper()
	ada.Do("choose "+game, chromedp.Evaluate[chromedp.Void](`(() => {
		const kind = document.querySelector("#game-kind");
		kind.value = `+jsString(game)+`;
		kind.dispatchEvent(new Event("change", { bubbles: true }));
		const who = document.querySelector("#game-who");
		who.value = `+map[bool]string{true: `[...who.options].find((o) => o.text === "Lin").value`, false: `""`}[invite]+`;
		who.dispatchEvent(new Event("change", { bubbles: true }));
		document.querySelector("#game-count").value = `+jsString(fmt.Sprint(players))+`;
	})()`))
	ada.ClickJS("Start", jsButton("new-game", "Start"))
	want := "Ada invites you to play."
	if !invite {
		want = "Ada is looking for players."
	}
	lin.WaitJS("the game offered", jsGameStatus(want)+` && `+jsGame+`.dataset.game === `+jsString(game))
	lin.ClickJS("Accept", jsGameButton("Accept"))
	ada.WaitJS("the game started", jsGame+`.dataset.status === "playing" && `+jsGame+`.dataset.game === `+jsString(game))
}

// TestBrowserMoreGames plays the other built-in games in the app: Connect
// Four to a win by clicking columns, rock-paper-scissors (the opponent's
// hand stays hidden until both chose), and word guess with an open seat,
// ended by resigning.
func TestBrowserMoreGames(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	ada := newTab(t, browser, "Ada")
	lin := newTab(t, browser, "Lin")
	enterGames(srv.url(), "connectfour", ada, lin)

	// Connect Four: Ada (red) stacks four in column 1 while Lin plays column 2.
	startGame(ada, lin, "connectfour", true, 2)
	for _, m := range []struct {
		tb  *tab
		col string
	}{{ada, "0"}, {lin, "1"}, {ada, "0"}, {lin, "1"}, {ada, "0"}, {lin, "1"}, {ada, "0"}} {
		sel := `.game-list .game .c4 [data-column="` + m.col + `"]`
		m.tb.WaitJS("my turn", `!document.querySelector(`+jsString(sel)+`)?.disabled`)
		m.tb.ClickJS("drop in column "+m.col, jsQuery(sel))
	}
	ada.WaitJS("Ada won", jsGameStatus("You won!"))
	lin.WaitJS("Lin lost", jsGameStatus("Ada won."))
	if got := eval[int](lin, jsGame+`.querySelectorAll(".c4 .disc.win.R").length`); got != 4 {
		t.Errorf("Lin sees %d winning discs, want 4", got)
	}
	if got := eval[string](lin, jsGame+`.querySelector('[data-column="0"]').getAttribute("aria-label")`); got != "Column 1, 4 of 6 filled" {
		t.Errorf("column label %q", got)
	}

	// Rock-paper-scissors: a chosen hand stays hidden from the other side.
	startGame(ada, lin, "rps", true, 2)
	ada.ClickJS("rock", jsQuery(`.game-list .game .hands [data-hand="rock"]`))
	ada.WaitJS("Ada's own hand", jsGame+`.textContent.includes("You chose rock.")`)
	lin.WaitJS("Ada has chosen", jsGame+`.textContent.includes("Round 1: Ada has chosen, Lin is choosing")`)
	if eval[bool](lin, `[...`+jsGame+`.querySelectorAll("p, li")].some((p) => p.textContent.includes("rock"))`) {
		t.Error("Lin sees Ada's hand before choosing")
	}
	lin.ClickJS("scissors", jsQuery(`.game-list .game .hands [data-hand="scissors"]`))
	for _, tb := range []*tab{ada, lin} {
		tb.WaitJS("round 1 scored", jsGame+`.querySelector(".rounds")?.textContent === "rock vs scissors: Ada"`)
	}
	ada.WaitJS("round 2", `!document.querySelector('.game-list .game .hands [data-hand="paper"]').disabled`)
	ada.ClickJS("paper", jsQuery(`.game-list .game .hands [data-hand="paper"]`))
	lin.WaitJS("round 2", `!document.querySelector('.game-list .game .hands [data-hand="rock"]').disabled`)
	lin.ClickJS("rock", jsQuery(`.game-list .game .hands [data-hand="rock"]`))
	ada.WaitJS("Ada won, 2–0", jsGameStatus("You won!")+` && `+jsGame+`.textContent.includes("Ada 2 – 0 Lin")`)

	// Word guess, with an open seat: Lin takes it; Ada guesses a letter,
	// then resigns.
	startGame(ada, lin, "wordguess", false, 2)
	ada.ClickJS("guess e", jsQuery(`.game-list .game .letters [data-key="le"]`))
	lin.WaitJS("e guessed", jsGame+`.querySelector('[data-key="le"]').disabled && `+jsGame+`.textContent.includes("guessed: e")`)
	checkLabels(lin)
	ada.ClickJS("resign", jsGameButton("Resign"))
	ada.WaitJS("resigned", jsGameStatus("Lin won. You resigned."))
	lin.WaitJS("won", jsGameStatus("You won! Ada resigned."))

	for _, tb := range []*tab{ada, lin} {
		tb.Check()
	}
}

// TestBrowserGameClaim: with a turn timer on the server, a player whose
// opponent lets the timer run out gets "Claim the win" when it does, and
// wins by it.
func TestBrowserGameClaim(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret, func(o *chatfly.Options) { o.TurnTimeout = 3 * time.Second })
	ada := newTab(t, browser, "Ada")
	lin := newTab(t, browser, "Lin")
	enterGames(srv.url(), "tictactoe", ada, lin)
	startGame(ada, lin, "tictactoe", true, 2)
	ada.ClickJS("play the centre", jsQuery(`.game-list .game .ttt [data-cell="4"]`))
	lin.WaitJS("Lin's turn", `!`+jsCell("0")+`.disabled`)
	if eval[bool](ada, `[...`+jsGame+`.querySelectorAll("button")].some((b) => b.textContent === "Claim the win")`) {
		t.Error("Claim the win offered before the deadline")
	}
	ada.ClickJS("claim once the timer ran out", jsGameButton("Claim the win"))
	ada.WaitJS("Ada won", jsGameStatus("You won! Lin ran out of time."))
	lin.WaitJS("Lin lost", jsGameStatus("Ada won. You ran out of time."))
	for _, tb := range []*tab{ada, lin} {
		tb.Check()
	}
}
