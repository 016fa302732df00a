package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/builtin"
	"github.com/chatfly/chatfly/internal/browsertest"
	"github.com/chatfly/chatfly/web"
)

// plainNim is Nim under another name, a game the app has no renderer for.
type plainNim struct{ nimGame }

func (plainNim) Info() chatfly.GameInfo {
	return chatfly.GameInfo{Name: "plainnim", Title: "Plain Nim", MinPlayers: 2, MaxPlayers: 2}
}

func jsNimLeft(text string) string {
	return jsGame + `?.querySelector(".nim-left")?.textContent === ` + jsString(text)
}

// TestBrowserCustomGame: the example's own game, Nim, registered on the
// server (nim.go) and drawn by the renderer its module registers
// (ext/nim.js, loaded through web.Options.Modules): Ada invites Lin, they
// play it to the end by clicking, each seeing every move. A game without a
// renderer shows the app's fallback; the module's screen opens from the
// header link.
func TestBrowserCustomGame(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret, func(o *chatfly.Options) {
		o.Games = append(builtin.All(), nimGame{}, plainNim{})
	})
	ada := newTab(t, browser, "Ada")
	lin := newTab(t, browser, "Lin")
	enterGames(srv.url(), "nim", ada, lin)
	startGame(ada, lin, "nim", true, 2)

	ada.WaitJS("the pile", jsNimLeft("10 of 10 stones left."))
	if eval[bool](lin, `[...`+jsGame+`.querySelectorAll(".nim-take button")].some((b) => !b.disabled)`) {
		t.Error("Lin may take stones on Ada's turn")
	}
	checkLabels(ada)
	for _, m := range []struct {
		tb   *tab
		take int
		left string
	}{{ada, 2, "8 of 10 stones left. %s took 2."}, {lin, 3, "5 of 10 stones left. %s took 3."}, {ada, 1, "4 of 10 stones left. %s took 1."}, {lin, 3, "1 of 10 stones left. %s took 3."}, {ada, 1, "0 of 10 stones left. %s took 1."}} {
		sel := fmt.Sprintf(`.game-list .game .nim-take [data-take="%d"]`, m.take)
		m.tb.ClickJS(fmt.Sprintf("take %d", m.take), jsQuery(sel))
		for _, tb := range []*tab{ada, lin} {
			who := m.tb.Name
			if tb == m.tb {
				who = "You"
			}
			tb.WaitJS("the move", jsNimLeft(fmt.Sprintf(m.left, who)))
		}
	}
	ada.WaitJS("Ada won", jsGameStatus("You won!"))
	lin.WaitJS("Lin lost", jsGameStatus("Ada won."))
	if n := eval[int](lin, jsGame+`.querySelectorAll(".nim-take button").length`); n != 0 {
		t.Errorf("%d Take buttons after the end", n)
	}

	// A game the app has no renderer for.
	startGame(ada, lin, "plainnim", true, 2)
	lin.WaitJS("the fallback", jsGame+`.textContent.includes("This app cannot show Plain Nim.")`)

	// The module's screen, from the header.
	lin.ClickJS("the rules link", `document.querySelector('.top a.nav[href="#/nim-rules"]')`)
	lin.WaitJS("the rules", `location.hash === "#/nim-rules" && document.querySelector("h1").textContent === "Nim" && document.title === "Nim rules · chatfly"`)
	for _, tb := range []*tab{ada, lin} {
		tb.Check()
	}
}

// jsJoined: the chat view is up and joined (jsInRoom is also true before
// the view is there).
const jsJoined = `document.querySelector("#msg")?.disabled === false`

// jsSawName records, from the first script of every page load on, whether
// the name step ever appeared.
const jsSawName = `window.__sawName = false;
new MutationObserver(() => { if (document.getElementById("name")) window.__sawName = true; })
  .observe(document, { childList: true, subtree: true });`

// TestBrowserIdentifiedUser: with an Identify hook on the server and
// web.Options.IdentifiedUsers, a signed-in visitor (a cookie) lands in the
// Home room without a name step, under the application's name, and a
// reload keeps it so; a visitor who is not signed in picks a name first.
// The rooms list is hidden (Hide.Rooms, Home "room/lobby").
func TestBrowserIdentifiedUser(t *testing.T) {
	browser := newBrowser(t)
	srv := startServerWith(t, "127.0.0.1:0", &config{
		hub: &chatfly.Options{Secret: secret, Identify: func(_ context.Context, req *chatfly.ConnectRequest) (*chatfly.Identity, error) {
			if c, err := (&http.Request{Header: req.Header}).Cookie("user"); err == nil && c.Value == "ada" {
				return &chatfly.Identity{UserID: "u-ada", Name: "Ada Lovelace"}, nil
			}
			return nil, nil
		}},
		web: &web.Options{IdentifiedUsers: true, Hide: web.Screens{Rooms: true}, Home: "room/lobby"},
	})
	ada := newTab(t, browser, "Ada")
	lin := newTab(t, browser, "Lin")
	for _, tb := range []*tab{ada, lin} {
		if _, err := chromedp.Call(tb.Ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: jsSawName}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := chromedp.Call(ada.Ctx, network.SetCookie, network.SetCookieParams{Name: "user", Value: "ada", URL: srv.url() + "/"}); err != nil {
		t.Fatal(err) // Ada signs in
	}

	for _, what := range []string{"open the app", "reload"} {
		ada.Do(what, chromedp.Navigate(srv.url()+"/"))
		ada.WaitJS("in the lobby", jsJoined+` && location.hash === "#/room/lobby"`)
		if got := eval[string](ada, `window.__sawName + " " + document.querySelector("#me").textContent + " " + document.querySelector("#me").disabled`); got != "false Ada Lovelace true" {
			t.Errorf("%s: saw the name step, the header's name, signed in: %s, want false Ada Lovelace true", what, got)
		}
		if eval[bool](ada, `document.querySelector('a[href="#/rooms"]').checkVisibility()`) {
			t.Errorf("%s: the rooms list is hidden, yet All rooms is shown", what)
		}
	}
	ada.Do("the name screen", chromedp.Navigate(srv.url()+"/#/name"))
	ada.WaitJS("back in the lobby", jsJoined+` && location.hash === "#/room/lobby" && !window.__sawName`)

	lin.Do("open the app", chromedp.Navigate(srv.url()+"/"))
	lin.Do("pick a name", chromedp.WaitVisible(chromedp.ID("name")), chromedp.SendKeys(chromedp.ID("name"), "Lin\r"))
	lin.WaitJS("in the lobby", jsJoined+` && location.hash === "#/room/lobby" && document.querySelector("#me").textContent === "Lin"`)
	lin.Do("rooms list", chromedp.Navigate(srv.url()+"/#/rooms"))
	lin.WaitJS("sent home", jsJoined+` && location.hash === "#/room/lobby"`)
	ada.Do("say hi", chromedp.SendKeys(chromedp.ID("msg"), "hi, signed in\r"))
	lin.WaitJS("Ada's message", jsHasMessage("Ada Lovelace", "hi, signed in"))
	for _, tb := range []*tab{ada, lin} {
		tb.Check()
	}
}

// TestBrowserTheme: a title, a brand, theme colours for the light and the
// dark scheme, and hidden screens (roulette, custom rooms, games) reach the
// page without breaking its Content-Security-Policy.
func TestBrowserTheme(t *testing.T) {
	browser := newBrowser(t)
	srv := startServerWith(t, "127.0.0.1:0", &config{hub: &chatfly.Options{Secret: secret}, web: &web.Options{
		Title:     "Acme chat",
		Brand:     web.Brand{Name: "Acme"},
		Theme:     map[string]string{"accent": "#0a7d55", "accent-fg": "white"},
		DarkTheme: map[string]string{"accent": "rgb(61 220 151)"},
		Hide:      web.Screens{Roulette: true, CustomRooms: true, Games: true},
	}})
	tb := newTab(t, browser, "visitor")
	tb.Do("open the app", chromedp.Navigate(srv.url()+"/"))
	tb.WaitJS("the name screen", `document.querySelector("#name")`)
	const jsButtonColour = `getComputedStyle(document.querySelector("button[type=submit]")).backgroundColor`
	if got := eval[string](tb, jsButtonColour); got != "rgb(10, 125, 85)" {
		t.Errorf("light scheme: the button's colour is %s, want the theme's accent rgb(10, 125, 85)", got)
	}
	dark := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}
	if _, err := chromedp.Call(tb.Ctx, emulation.SetEmulatedMedia, dark); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](tb, jsButtonColour); got != "rgb(61, 220, 151)" {
		t.Errorf("dark scheme: the button's colour is %s, want DarkTheme's accent", got)
	}
	if got := eval[string](tb, `document.querySelector(".brand").textContent + " | " + document.title`); got != "Acme | Pick a name · Acme chat" {
		t.Errorf("brand and title: %q", got)
	}
	tb.Do("pick a name", chromedp.SendKeys(chromedp.ID("name"), "Vi\r"))
	tb.WaitJS("the rooms", jsRoomLinks+` && document.title === "Rooms · Acme chat"`)
	if got := eval[[]string](tb, `[...document.querySelectorAll(".rooms-view .tools a, .rooms-view .tools button")].filter((el) => el.checkVisibility()).map((el) => el.textContent)`); len(got) != 0 {
		t.Errorf("roulette and custom rooms are hidden, yet the rooms screen offers %q", got)
	}
	tb.Do("the roulette address", chromedp.Navigate(srv.url()+"/#/roulette"))
	tb.WaitJS("sent home", jsRoomLinks+` && location.hash === "#/rooms"`)
	tb.Do("join the games room", chromedp.Click(chromedp.CSS(`a.room[data-room="games"]`)))
	tb.WaitJS("in the games room", jsJoined)
	if eval[bool](tb, `performance.getEntriesByType("resource").some((e) => e.name.includes("/views/games.js")) || !!document.querySelector(".games")`) {
		t.Error("games are hidden, yet the games panel was loaded")
	}
	tb.Check()
}

// TestBrowserModuleFails: a module that does not load is reported in the
// status line, and the app starts anyway with the modules that did.
func TestBrowserModuleFails(t *testing.T) {
	browser := newBrowser(t)
	srv := startServerWith(t, "127.0.0.1:0", &config{hub: &chatfly.Options{Secret: secret}, web: &web.Options{Modules: []string{"/ext/missing.js", "/ext/nim.js"}}})
	tb := browsertest.NewTab(t, browser, "visitor", regexp.MustCompile(`Failed to load resource: the server responded with a status of 404`))
	tb.Do("open the app", chromedp.Navigate(srv.url()+"/"))
	tb.WaitJS("the name screen and the report", `document.querySelector("#name") && document.querySelector("#status").textContent.startsWith("Could not load the extension /ext/missing.js")`)
	tb.ClickJS("the other module's link", `document.querySelector('.top a.nav[href="#/nim-rules"]')`)
	tb.WaitJS("its screen", `document.querySelector("h1").textContent === "Nim"`)
	tb.Check()
}
