package main

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatfly/chatfly/client"
)

var screenshotPath = flag.String("screenshot", "", "TestBrowserChat writes a screenshot of the chat to this PNG `file`")

var secret = []byte("browser-test-secret-0123456789abcdef")

const (
	// JavaScript predicates over the app's DOM.
	jsInRoom    = `!document.querySelector("#msg")?.disabled`
	jsRoomLinks = `document.querySelectorAll("a.room").length >= 3`
	xss         = `<img src=x onerror=alert(1)>`
	earlierText = "Anyone up for a game later?"
)

func jsHasMessage(from, text string) string {
	return `[...document.querySelectorAll(".msgs li.msg")].some((li) => li.querySelector(".who")?.textContent === ` +
		jsString(from) + ` && li.querySelector(".text")?.textContent === ` + jsString(text) + `)`
}

func jsHasMember(name string) string {
	return `[...document.querySelectorAll(".members li")].some((li) => li.firstChild?.textContent === ` + jsString(name) + `)`
}

func jsStatusIs(text string) string {
	return `document.querySelector("#status").textContent.startsWith(` + jsString(text) + `)`
}

// postEarlier posts a message into room as Sam, an earlier visitor who has
// left, with the Go client, so that the browsers find history when they join.
func postEarlier(t testing.TB, wsURL, room, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, wsURL, &client.Options{Name: "Sam"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Join(ctx, room, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, room, text); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserChat drives the app in two browser contexts: Ada with the mouse,
// Lin with the keyboard alone. They join the lobby, see each other and each
// other's messages and typing, an HTML-looking message stays text, and after
// a server restart both pages reconnect on their own and chat again.
func TestBrowserChat(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	postEarlier(t, srv.wsURL(), "lobby", earlierText)

	ada := newTab(t, browser, "Ada")
	lin := newTab(t, browser, "Lin")

	// Ada: pick a name, see the rooms with their counts, join with the mouse.
	ada.Do("open the app", chromedp.Navigate(srv.url()+"/"))
	ada.Do("pick a name",
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "Ada"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
	)
	ada.WaitJS("the rooms", jsRoomLinks)
	if got := eval[string](ada, `document.querySelector('a.room[data-room="lobby"] .room-count').textContent`); got != "0 people" {
		t.Errorf("Ada: lobby count = %q, want %q", got, "0 people")
	}
	ada.Do("join the lobby", chromedp.Click(chromedp.CSS(`a.room[data-room="lobby"]`)))
	ada.WaitJS("the lobby's history", jsHasMessage("Sam", earlierText))
	ada.WaitJS("the composer", jsInRoom)
	lt := eval[loadTiming](ada, jsLoadTiming)
	t.Logf("Ada's page: index.html at %.1f ms, DOMContentLoaded %.1f ms, load %.1f ms, ready %.1f ms, first message %.1f ms (Navigation Timing); %.0f bytes transferred for %.0f",
		lt.ResponseEnd, lt.DOMContentLoaded, lt.Load, lt.Ready, lt.FirstMessage, lt.Transferred, lt.Decoded)
	if lt.FirstMessage <= 0 || lt.Transferred >= lt.Decoded {
		t.Errorf("timing %+v: want a first-message mark and gzipped transfers", lt)
	}

	// Lin: the keyboard alone. The name field has the focus on arrival, the
	// first room link after the name, the composer after joining.
	lin.Do("open the app", chromedp.Navigate(srv.url()+"/"))
	lin.WaitJS("focus on the name field", `document.activeElement?.id === "name"`)
	lin.Do("type a name and Enter", chromedp.KeyEvent("Lin\r"))
	lin.WaitJS("the rooms", jsRoomLinks)
	lin.WaitJS("focus on the first room", `document.activeElement?.classList.contains("room")`)
	for i := 0; i < 5 && !eval[bool](lin, `document.activeElement?.dataset?.room === "lobby"`); i++ {
		lin.Do("Tab to the next room", chromedp.KeyEvent("\t"))
	}
	if got := eval[string](lin, `document.activeElement.querySelector(".room-count").textContent`); got != "1 person" {
		t.Errorf("Lin: lobby count = %q, want %q (Ada is in)", got, "1 person")
	}
	lin.Do("Enter on the lobby", chromedp.KeyEvent("\r"))
	lin.WaitJS("the composer focused", `document.activeElement?.id === "msg" && !document.activeElement.disabled`)
	lin.WaitJS("the lobby's history", jsHasMessage("Sam", earlierText))

	// Presence both ways.
	lin.WaitJS("Ada in the member list", jsHasMember("Ada"))
	ada.WaitJS("Lin in the member list", jsHasMember("Lin"))
	ada.WaitJS("Lin's arrival", `document.querySelector(".msgs").textContent.includes("Lin joined")`)

	// Typing shows on the other side, then the message.
	lin.Do("type", chromedp.KeyEvent("hi Ada"))
	ada.WaitJS("Lin typing", `document.querySelector(".typing").textContent === "Lin is typing…"`)
	lin.Do("send with Enter", chromedp.KeyEvent("\r"))
	ada.WaitJS("Lin's message", jsHasMessage("Lin", "hi Ada"))
	ada.WaitJS("the typing notice gone", `document.querySelector(".typing").textContent === ""`)
	lin.WaitJS("Lin's own message", jsHasMessage("Lin", "hi Ada"))
	if *screenshotPath != "" {
		ada.Do("a README-sized window", chromedp.EmulateViewport(880, 520))
		ada.WaitJS("the layout", `innerWidth === 880`)
		buf, err := chromedp.Run(ada.Ctx, chromedp.CaptureScreenshot())
		if err == nil {
			err = os.WriteFile(*screenshotPath, buf, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot: %v", err)
		}
		ada.Do("back to the desktop size", chromedp.EmulateViewport(1024, 768))
	}

	// Text that looks like HTML is shown as text and runs nothing.
	ada.Do("send HTML-looking text",
		chromedp.SendKeys(chromedp.ID("msg"), xss),
		chromedp.Click(chromedp.CSS(`.composer button[type=submit]`)),
	)
	for _, tb := range []*tab{ada, lin} {
		tb.WaitJS("the literal text", jsHasMessage("Ada", xss))
		if n := eval[int](tb, `document.querySelectorAll(".msgs img, .msgs script, .msgs [onerror]").length`); n != 0 {
			t.Errorf("%s: %d elements made from a message's text", tb.Name, n)
		}
	}
	time.Sleep(200 * time.Millisecond) // time for an onerror to fire, if it could
	if n := eval[int](lin, `[...document.querySelectorAll(".msgs li.msg")].map((li) => li.dataset.seq).join() === "1,2,3" ? 3 : -1`); n != 3 {
		t.Errorf("Lin: message seqs = %s, want 1,2,3 in order", eval[string](lin, `[...document.querySelectorAll(".msgs li.msg")].map((li) => li.dataset.seq).join()`))
	}

	// Phone-sized screen: nothing wider than the screen, composer in view.
	lin.Do("phone viewport", chromedp.EmulateViewport(360, 640, chromedp.EmulateMobile))
	if ok := eval[bool](lin, `document.documentElement.scrollWidth <= innerWidth &&
		document.querySelector(".composer").getBoundingClientRect().bottom <= innerHeight`); !ok {
		t.Errorf("Lin: the chat does not fit a 360×640 screen")
	}
	lin.Do("desktop viewport", chromedp.EmulateViewport(1024, 768))

	// Every control has a label.
	for _, tb := range []*tab{ada, lin} {
		unlabelled := eval[[]string](tb, `[...document.querySelectorAll("input, button, select, textarea, a")]
			.filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.textContent.trim()))
			.map((el) => el.outerHTML)`)
		if len(unlabelled) > 0 {
			t.Errorf("%s: controls without a label: %q", tb.Name, unlabelled)
		}
	}

	// Restart the server: Shutdown closes the sockets with 1001; the pages
	// say so, and come back by themselves once a new process listens on the
	// same port with the same secret (resume tokens stay valid).
	addr := srv.addr
	srv.stop()
	for _, tb := range []*tab{ada, lin} {
		tb.WaitJS("Reconnecting…", jsStatusIs("Reconnecting…"))
	}
	startServer(t, addr, secret) // stopped by its cleanup
	for _, tb := range []*tab{ada, lin} {
		tb.WaitJS("Back online", jsStatusIs("Back online"))
		tb.WaitJS("the restart note", `document.querySelector(".msgs").textContent.includes("The server restarted")`)
	}
	lin.WaitJS("Ada back in the member list", jsHasMember("Ada"))
	ada.WaitJS("Lin back in the member list", jsHasMember("Lin"))

	ada.Do("send after the restart",
		chromedp.SendKeys(chromedp.ID("msg"), "still here?"),
		chromedp.Click(chromedp.CSS(`.composer button[type=submit]`)),
	)
	lin.WaitJS("Ada's message after the restart", jsHasMessage("Ada", "still here?"))
	lin.Do("answer", chromedp.Focus(chromedp.ID("msg")), chromedp.KeyEvent("yes!\r"))
	ada.WaitJS("Lin's answer", jsHasMessage("Lin", "yes!"))
	if got := eval[string](ada, `sessionStorage.getItem("chatfly.name")`); got != "Ada" {
		t.Errorf("Ada: stored name %q after the restart, want Ada (the same identity resumed)", got)
	}

	// A reload resumes the same person in the same room (token and name in
	// sessionStorage, room in the URL).
	// (The page's modules are reachable through the import map.)
	const jsSession = `import("/app.js").then((m) => m.app.client.welcome.session)`
	before := eval[string](lin, jsSession)
	lin.Do("reload", chromedp.Reload())
	lin.WaitJS("back in the lobby", jsInRoom+` && location.hash === "#/room/lobby"`)
	lin.WaitJS("the history", jsHasMessage("Ada", "still here?"))
	if got := eval[string](lin, `document.querySelector("#me").textContent`); got != "Lin" {
		t.Errorf("Lin after a reload: named %q", got)
	}
	if after := eval[string](lin, jsSession); after != before || before == "" {
		t.Errorf("Lin after a reload: session %q, want %q (resumed)", after, before)
	}
	ada.WaitJS("Lin still in the member list", jsHasMember("Lin"))

	// A shared link to a room: pick a name first, then land in that room.
	kim := newTab(t, browser, "Kim")
	kim.Do("open a room link", chromedp.Navigate(srv.url()+"/#/room/random"))
	kim.Do("pick a name", chromedp.WaitVisible(chromedp.ID("name")), chromedp.SendKeys(chromedp.ID("name"), "Kim\r"))
	kim.WaitJS("in the random room", jsInRoom+` && location.hash === "#/room/random" && document.querySelector("h1").textContent === "Random"`)

	// Back goes to the rooms: Lin leaves the lobby, Ada sees it.
	lin.Do("Back", chromedp.NavigateBack())
	lin.WaitJS("the rooms again", jsRoomLinks)
	ada.WaitJS("Lin left", `document.querySelector(".msgs").textContent.includes("Lin left")`)
	ada.WaitJS("Lin out of the member list", `!(`+jsHasMember("Lin")+`)`)

	for _, tb := range []*tab{ada, lin, kim} {
		tb.Check()
	}
}

// TestBrowserScrollBack joins a room with more history than a join returns
// and scrolls up: the older messages load above, in order, and the reader
// keeps their place.
func TestBrowserScrollBack(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, bot := range []string{"Bot A", "Bot B"} { // two sessions: 30 frames each stay under the rate limit
		c, err := client.Dial(ctx, srv.wsURL(), &client.Options{Name: bot})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Join(ctx, "random", 0); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 30; i++ {
			if _, err := c.Send(ctx, "random", bot+" says "+strconv.Itoa(i)); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
	}

	tb := newTab(t, browser, "reader")
	openChat(tb, srv.url(), "Reader", "random")
	const jsSeqs = `[...document.querySelectorAll(".msgs li.msg")].map((li) => +li.dataset.seq)`
	tb.WaitJS("the latest 50", jsSeqs+`.length === 50 && !document.querySelector(".older").hidden`)
	if first := eval[int](tb, jsSeqs+`[0]`); first != 11 {
		t.Errorf("first message after joining: seq %d, want 11", first)
	}
	tb.Do("scroll to the top", chromedp.Evaluate[chromedp.Void](`document.querySelector(".log").scrollTop = 0`))
	tb.WaitJS("the older ten", jsSeqs+`.length === 60`)
	if got := eval[bool](tb, jsSeqs+`.every((s, i) => s === i + 1)`); !got {
		t.Errorf("seqs after scrolling back: %v", eval[[]int](tb, jsSeqs))
	}
	if eval[bool](tb, `document.querySelector(".log").scrollTop === 0`) {
		t.Error("the view jumped to the top: the reader lost their place")
	}
	tb.WaitJS("no more to load", `document.querySelector(".older").hidden`)
	tb.Check()
}

// TestBrowserClientModule uses chatfly.js on its own, as an integrator's
// page would: connect, join, send, events, typing, errors with codes, and a
// session replaced by another connection (4001) that does not reconnect.
func TestBrowserClientModule(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	tb := newTab(t, browser, "module")
	tb.Do("open a page of the site", chromedp.Navigate(srv.url()+"/"))

	type result struct {
		Seq      int64    `json:"seq"`
		Text     string   `json:"text"`
		From     string   `json:"from"`
		Code     string   `json:"code"`
		IsError  bool     `json:"isError"`
		NameErr  string   `json:"nameErr"`
		History  int      `json:"history"`
		Typing   string   `json:"typing"`
		Rooms    string   `json:"rooms"`
		Presence string   `json:"presence"`
		Replaced []string `json:"replaced"`
		Custom   string   `json:"custom"`
	}
	got := eval[result](tb, `(async () => {
		const { connect, Client, ChatflyError } = await import("/chatfly.js");
		const a = await connect({ name: "Mod A", storage: null });
		const b = await connect({ name: "Mod B", storage: null });
		const r = {};
		const message = new Promise((res) => b.on("message", (m) => m.text === "ping from a" && res(m)));
		const presence = new Promise((res) => a.on("presence", (p) => res(p.event + " " + p.member.name + " " + p.members)));
		await a.join("random");
		await b.join("random");
		r.presence = await presence;
		r.seq = (await a.send("random", "ping from a")).seq;
		const m = await message;
		r.text = m.text;
		r.from = m.from.name;
		try { await a.send("lobby", "not a member") } catch (e) { r.code = e.code; r.isError = e instanceof ChatflyError; }
		try { await connect({ name: "   ", storage: null }) } catch (e) { r.nameErr = e.code }
		r.history = (await b.history("random", { limit: 10 })).messages.length;
		const typing = new Promise((res) => b.on("typing", (t) => res(t.member.name)));
		a.typing("random");
		r.typing = await typing;
		r.rooms = (await a.rooms()).rooms.map((x) => x.id).sort().join();
		r.custom = (await a.request("ping")).type;
		// The same session from another connection replaces the first (4001): no reconnect.
		const states = [];
		a.on("state", (s) => states.push(s.state + (s.code ? " " + s.code : "")));
		const a2 = new Client({ token: a.token, storage: null });
		await a2.ready;
		await new Promise((res) => setTimeout(res, 1500));
		r.replaced = states;
		a2.close(); b.close(); a.close();
		return r;
	})()`)
	want := result{Seq: 1, Text: "ping from a", From: "Mod A", Code: "not_member", IsError: true, NameErr: "invalid_name",
		History: 1, Typing: "Mod A", Rooms: "games,lobby,random", Presence: "join Mod B 2", Custom: "pong", Replaced: []string{"closed 4001"}}
	if strings.Join(got.Replaced, "|") != strings.Join(want.Replaced, "|") {
		t.Errorf("states of the replaced client = %q, want %q", got.Replaced, want.Replaced)
	}
	got.Replaced, want.Replaced = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("chatfly.js:\n got  %+v\n want %+v", got, want)
	}
	tb.Check()
}

// BenchmarkBrowserFirstMessage measures a first visit: a new browser context
// (empty cache) opens the app, picks a name, joins the lobby and shows its
// first message. It reports, in milliseconds since navigation start and
// averaged over the iterations, the page's Navigation Timing, the app's
// marks (first screen up; first message shown) and the wall time from the
// navigation to that message, and for scale the DOMContentLoaded of a blank
// page in the same browser ("floor"):
//
//	go test -run '^$' -bench BrowserFirstMessage -benchtime 20x ./examples/standalone
func BenchmarkBrowserFirstMessage(b *testing.B) {
	browser := newBrowser(b)
	srv := startServer(b, "127.0.0.1:0", secret)
	postEarlier(b, srv.wsURL(), "lobby", earlierText)
	blank := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>blank</title><link rel=icon href="data:,"><p>blank</p>`))
	}))
	defer blank.Close()
	var sum loadTiming
	var wall time.Duration
	var floor float64
	b.ResetTimer()
	for i := range b.N {
		tb := newTab(b, browser, "visitor")
		lt, w := openChat(tb, srv.url(), "Visitor "+strconv.Itoa(i), "lobby")
		tb.Close()
		sum.ResponseEnd += lt.ResponseEnd
		sum.DOMContentLoaded += lt.DOMContentLoaded
		sum.Load += lt.Load
		sum.Ready += lt.Ready
		sum.FirstMessage += lt.FirstMessage
		sum.Transferred += lt.Transferred
		wall += w

		tb = newTab(b, browser, "blank")
		tb.Do("open a blank page", chromedp.Navigate(blank.URL))
		floor += eval[loadTiming](tb, jsLoadTiming).DOMContentLoaded
		tb.Close()
	}
	n := float64(b.N)
	b.ReportMetric(sum.ResponseEnd/n, "ms/html")
	b.ReportMetric(sum.DOMContentLoaded/n, "ms/dcl")
	b.ReportMetric(sum.Load/n, "ms/load")
	b.ReportMetric(sum.Ready/n, "ms/ready")
	b.ReportMetric(sum.FirstMessage/n, "ms/first-msg")
	b.ReportMetric(float64(wall.Milliseconds())/n, "ms/first-msg-wall")
	b.ReportMetric(floor/n, "ms/floor-dcl")
	b.ReportMetric(sum.Transferred/n, "B/page")
}
