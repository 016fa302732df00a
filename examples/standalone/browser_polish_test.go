package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatfly/chatfly/client"
)

// jsNoNull: no game card on the page shows the text "null".
const jsNoNull = `[...document.querySelectorAll(".game-list .game")].every((g) => !/\bnull\b/.test(g.textContent))`

// jsStatusColor is the computed colour of the newest game's status line,
// and the colour of the CSS variable v, as "status|variable".
func jsStatusColor(v string) string {
	return `(() => { const p = document.createElement("p"); p.style.color = "var(` + v + `)"; document.body.append(p);
		const want = getComputedStyle(p).color; p.remove();
		return getComputedStyle(` + jsGame + `.querySelector(".game-status")).color === want; })()`
}

// TestBrowserGamesLatecomerAndReload: a game is under way when Kim joins
// the room (she sees the board) and when Lin reloads her page (she keeps
// it, and plays on); cards of invitations and cancelled games show no
// "null"; a finished game is coloured by its outcome for each viewer; the
// Start form stays in view above the finished games.
func TestBrowserGamesLatecomerAndReload(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	ada := newTab(t, browser, "Ada")
	lin := newTab(t, browser, "Lin")
	kim := newTab(t, browser, "Kim")
	jsPanel := jsInRoom + ` && document.querySelector("#game-kind option[value=tictactoe]")`
	enterGames(srv.url(), "tictactoe", ada, lin)
	startGame(ada, lin, "tictactoe", true, 2)
	ada.ClickJS("play the centre", jsQuery(`.game-list .game .ttt [data-cell="4"]`))
	lin.WaitJS("Ada's X", jsCell("4")+`?.textContent === "X"`)

	// A latecomer watches the game under way, and keeps it across a reload.
	enter(kim, srv.url(), "Kim")
	kim.Do("join the games room", chromedp.Click(chromedp.CSS(`a.room[data-room="games"]`)))
	jsUnderWay := jsPanel + ` && ` + jsCell("4") + `?.textContent === "X" && ` + jsGameStatus("Waiting for Lin.")
	kim.WaitJS("the board of the game under way", jsUnderWay)
	kim.Do("reload", chromedp.Reload())
	kim.WaitJS("the board after a reload", jsUnderWay)
	lin.ClickJS("play a corner", jsQuery(`.game-list .game .ttt [data-cell="0"]`))
	for _, tb := range []*tab{ada, kim} {
		tb.WaitJS("Lin's O", jsCell("0")+`?.textContent === "O"`)
	}

	// A player's reload is a leave (the server forfeits the game: Ada wins);
	// Lin's page shows the board again, with the result. It is coloured by
	// the outcome: won for Ada (ok), lost for Lin (error), neutral for Kim.
	lin.Do("reload", chromedp.Reload())
	lin.WaitJS("the board after the reload, lost", jsPanel+` && `+jsCell("4")+`?.textContent === "X" && `+jsCell("0")+`?.textContent === "O" && `+
		jsGameStatus("Ada won. You left the room.")+` && `+jsGame+`.dataset.outcome === "lost" && `+jsStatusColor("--error"))
	ada.WaitJS("won, in the ok colour", jsGameStatus("You won! Lin left the room.")+` && `+jsGame+`.dataset.outcome === "won" && `+jsStatusColor("--ok"))
	kim.WaitJS("over, in the muted colour", jsGameStatus("Ada won. Lin left the room.")+` && `+jsGame+`.dataset.outcome === "over" && `+jsStatusColor("--muted"))
	for _, tb := range []*tab{ada, lin, kim} {
		if text := tb.Text(); containsAny(text, "Could not load part of this room", "before initialization") {
			t.Errorf("%s: %s", tb.Name, text)
		}
	}

	// A rematch invitation, then cancelled: no "null" on any card.
	lin.ClickJS("Rematch", jsGameButton("Rematch"))
	ada.WaitJS("the rematch invitation", jsGameStatus("Lin invites you to play."))
	kim.WaitJS("the rematch invitation, for Ada", jsGameStatus("Lin invited Ada."))
	for _, tb := range []*tab{ada, lin, kim} {
		tb.WaitJS("no null on the invitation", `document.querySelectorAll(".game-list .game").length === 2 && `+jsNoNull)
	}
	lin.ClickJS("Cancel", jsGameButton("Cancel"))
	for _, tb := range []*tab{ada, lin, kim} {
		tb.WaitJS("cancelled, without null", jsGameStatus("Cancelled.")+` && `+jsNoNull)
	}
	// The Start form is first in the panel, in view above the finished games.
	for _, tb := range []*tab{ada, kim} {
		tb.WaitJS("the Start form in view", `(() => {
			const f = document.querySelector(".new-game").getBoundingClientRect(), s = document.querySelector(".side").getBoundingClientRect();
			const g = document.querySelector(".game-list .game").getBoundingClientRect();
			return f.top >= s.top && f.bottom <= s.bottom && f.bottom <= g.top;
		})()`)
	}
	for _, tb := range []*tab{ada, lin, kim} {
		tb.Check()
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestBrowserPresenceBeforeJoined drives the room screen against a scripted
// client: someone's presence join that arrives before the page's own joined
// reply (whose member list predates it) keeps that person in People.
func TestBrowserPresenceBeforeJoined(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	tb := newTab(t, browser, "scripted")
	tb.Do("open the app", chromedp.Navigate(srv.url()+"/"))
	tb.WaitJS("the app", `document.querySelector("#name")`)
	got := eval[[]string](tb, `(async () => {
		const { default: view } = await import("/views/chat.js");
		const client = new EventTarget();
		client.welcome = { session: "me" };
		client.on = (type, fn) => {
			const h = (e) => fn(e.detail);
			client.addEventListener(type, h);
			return () => client.removeEventListener(type, h);
		};
		let joined;
		client.join = () => new Promise((res) => (joined = res));
		client.leave = client.request = client.roomInfo = () => Promise.reject(new Error("offline"));
		const emit = (type, detail) => client.dispatchEvent(new CustomEvent(type, { detail }));
		const v = view.render({ client, games: false }, ["lobby"]);
		document.body.append(v.el);
		emit("presence", { type: "presence", room: "lobby", event: "join", member: { id: "bob", name: "Bob" }, members: 2 });
		const reply = { type: "joined", room: { id: "lobby", name: "Lobby" }, members: [{ id: "me", name: "Ada" }] };
		emit("joined", reply);
		joined(reply);
		await new Promise((res) => setTimeout(res, 0));
		const names = [...v.el.querySelectorAll(".members li")].map((li) => li.firstChild.textContent);
		v.destroy();
		v.el.remove();
		return names;
	})()`)
	if len(got) != 2 || got[0] != "Ada" || got[1] != "Bob" {
		t.Errorf("People after a presence join before joined: %q, want [Ada Bob]", got)
	}
	tb.Check()
}

// postMany posts n messages into room as Sam with the Go client.
func postMany(t *testing.T, wsURL, room string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, wsURL, &client.Options{Name: "Sam"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Join(ctx, room, 0); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := c.Send(ctx, room, "message "+strconv.Itoa(i+1)); err != nil {
			t.Fatal(err)
		}
	}
}

// jsAtBottom: the room's log shows its newest message.
const jsAtBottom = `(() => { const l = document.querySelector(".log"); return l.scrollHeight - l.scrollTop - l.clientHeight < 2; })()`

// TestBrowserRoomStates: a name already used in a room is a state panel
// headed by the room's name, with a way out; a new room says it has no
// messages yet; disabled controls look disabled (the roulette idle
// screen); on a phone, opening Games keeps the log following new messages.
func TestBrowserRoomStates(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	ada := newTab(t, browser, "Ada")
	other := newTab(t, browser, "other Ada")
	kim := newTab(t, browser, "Kim")

	enter(ada, srv.url(), "Ada")
	ada.Do("join the lobby", chromedp.Click(chromedp.CSS(`a.room[data-room="lobby"]`)))
	ada.WaitJS("in the lobby", jsInRoom)
	enter(other, srv.url(), "Ada")
	other.Do("join the lobby", chromedp.Click(chromedp.CSS(`a.room[data-room="lobby"]`)))
	other.WaitJS("refused: the name is taken", jsRefused("name_taken", "Lobby", "already uses the name Ada")+
		` && document.querySelector('.state a[href="#/name"]')?.textContent === "Pick another name"`)

	// A new room is empty, and says so until someone talks.
	ada.Do("back to the rooms", chromedp.Click(chromedp.CSS(`a.back`)))
	ada.ClickJS("New room", jsButton("tools", "New room"))
	ada.WaitJS("the dialog", `document.activeElement?.id === "room-name"`)
	ada.Do("create", chromedp.SendKeys(chromedp.ID("room-name"), "Quiet"), chromedp.Click(dialogButton("Create room")))
	ada.WaitJS("the empty state", jsInRoom+` && document.querySelector("h1").textContent === "Quiet" && document.querySelector(".log .empty")?.checkVisibility()`)
	ada.Do("say something", chromedp.SendKeys(chromedp.ID("msg"), "first!\r"))
	ada.WaitJS("no more empty state", jsHasMessage("Ada", "first!")+` && !document.querySelector(".log .empty").checkVisibility()`)

	// Disabled controls look disabled: the roulette screen while idle.
	ada.Do("back to the rooms", chromedp.Click(chromedp.CSS(`a.back`)))
	ada.Do("open Roulette", chromedp.Click(chromedp.CSS(`a[href="#/roulette"]`)))
	ada.WaitJS("idle", jsRouletteState+` === "idle"`)
	ada.WaitJS("the idle composer greyed out", `(() => {
		const off = getComputedStyle(document.querySelector("#msg")), on = getComputedStyle(document.querySelector("#interests"));
		const send = getComputedStyle(document.querySelector(".composer button"));
		return document.querySelector("#msg").disabled && off.borderStyle !== on.borderStyle && off.backgroundColor !== on.backgroundColor && +send.opacity < 1;
	})()`)

	// A phone: opening Games (above the log) keeps the log at the newest
	// message, and new messages keep coming into view.
	postMany(t, srv.wsURL(), "games", 40)
	enter(kim, srv.url(), "Kim")
	kim.Do("phone viewport", chromedp.EmulateViewport(360, 640, chromedp.EmulateMobile))
	kim.WaitJS("the phone layout", `innerWidth === 360`)
	kim.Do("join the games room", chromedp.Click(chromedp.CSS(`a.room[data-room="games"]`)))
	kim.WaitJS("the history, at the bottom", jsInRoom+` && `+jsHasMessage("Sam", "message 40")+` && document.querySelector(".games") && `+jsAtBottom)
	kim.ClickJS("open Games", jsQuery(`.games summary`))
	kim.WaitJS("Games open, the log still at the bottom", `document.querySelector(".games").open && `+jsAtBottom)
	postMany(t, srv.wsURL(), "games", 1)
	kim.WaitJS("the new message in view", jsHasMessage("Sam", "message 1")+` && document.querySelectorAll(".msgs li.msg").length === 41 && `+jsAtBottom)

	for _, tb := range []*tab{ada, other, kim} {
		tb.Check()
	}
}
