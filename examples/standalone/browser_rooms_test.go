package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Browser tests of the parts of the app loaded on demand: custom rooms with
// their links and moderation, roulette and games.

// enter opens the app in tb and picks name, as a first-time visitor.
func enter(tb *tab, base, name string) {
	tb.T.Helper()
	tb.Do("open the app", chromedp.Navigate(base+"/"))
	tb.Do("pick a name", chromedp.WaitVisible(chromedp.ID("name")), chromedp.SendKeys(chromedp.ID("name"), name+"\r"))
	tb.WaitJS("the rooms", jsRoomLinks)
}

// button selects the visible button whose text is text, within the elements
// matching the CSS selector scope (XPath has no CSS, so scope is a class).
func button(class, text string) chromedp.Search {
	return chromedp.Search(`//*[contains(concat(" ", @class, " "), " ` + class + ` ")]//button[normalize-space()="` + text + `"]`)
}

// dialogButton selects a button of the open dialog by its text.
func dialogButton(text string) chromedp.Search {
	return chromedp.Search(`//dialog[@open]//button[normalize-space()="` + text + `"]`)
}

func jsHasSystem(text string) string {
	return `[...document.querySelectorAll(".msgs li.msg.sys .text")].some((s) => s.textContent === ` + jsString(text) + `)`
}

// jsInvitation: the invitation page shows the room's name and topic, with
// Join focused.
func jsInvitation(name, topic string) string {
	return `document.querySelector(".invite h1")?.textContent === ` + jsString(name) + ` && document.querySelector(".invite .topic")?.textContent === ` + jsString(topic) +
		` && document.activeElement?.textContent === "Join room"`
}

// jsRefused: the room's screen is a state panel for the error code, headed
// by heading, saying text.
func jsRefused(code, heading, text string) string {
	return `document.querySelector(".state-view")?.dataset.code === ` + jsString(code) + ` && document.querySelector("h1").textContent === ` + jsString(heading) +
		` && document.querySelector(".state").textContent.includes(` + jsString(text) + `)`
}

// checkLabels fails the test if a control on tb's page has no label.
func checkLabels(tb *tab) {
	tb.T.Helper()
	unlabelled := eval[[]string](tb, `[...document.querySelectorAll("input, button, select, textarea, a")]
		.filter((el) => el.checkVisibility() && !(el.labels?.length || el.getAttribute("aria-label") || el.textContent.trim()))
		.map((el) => el.outerHTML)`)
	if len(unlabelled) > 0 {
		tb.T.Errorf("%s: controls without a label: %q", tb.Name, unlabelled)
	}
}

// checkPhone checks that tb's page fits a 360×640 screen (nothing wider than
// it, the bottom element in view, the parts of the screen stacked without
// overlapping), then goes back to the desktop size.
func checkPhone(tb *tab, bottom string) {
	tb.T.Helper()
	tb.Do("phone viewport", chromedp.EmulateViewport(360, 640, chromedp.EmulateMobile))
	tb.WaitJS("the phone layout", `innerWidth === 360`)
	if ok := eval[bool](tb, `document.documentElement.scrollWidth <= innerWidth &&
		document.querySelector(`+jsString(bottom)+`).getBoundingClientRect().bottom <= innerHeight`); !ok {
		tb.T.Errorf("%s: the page does not fit a 360×640 screen (scroll width %d)", tb.Name, eval[int](tb, `document.documentElement.scrollWidth`))
	}
	overlaps := eval[[]string](tb, `(() => {
		const parts = [...document.querySelectorAll("main > section > *")].filter((el) => el.checkVisibility());
		const out = [];
		for (let i = 1; i < parts.length; i++) {
			const a = parts[i - 1].getBoundingClientRect(), b = parts[i].getBoundingClientRect();
			if (a.bottom > b.top + 1) out.push(parts[i - 1].className + " overlaps " + parts[i].className);
		}
		for (const el of parts) {
			if (el.scrollHeight > el.clientHeight + 1 && getComputedStyle(el).overflowY === "visible") out.push(el.className + " spills over");
		}
		return out;
	})()`)
	if len(overlaps) > 0 {
		tb.T.Errorf("%s: on a phone: %q", tb.Name, overlaps)
	}
	tb.Do("desktop viewport", chromedp.EmulateViewport(1024, 768))
}

// TestBrowserInitialWeight loads the first screen in a real browser and
// adds up what it fetched: within the 50 KB budget, and none of the parts
// loaded on demand. The example's page loads its module (ext/nim.js, with
// the app's lib/ext.js) at start, and they count.
func TestBrowserInitialWeight(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	tb := newTab(t, browser, "visitor")
	tb.Do("open the app", chromedp.Navigate(srv.url()+"/"))
	tb.WaitJS("the name screen, loaded", `document.activeElement?.id === "name" && document.readyState === "complete"`)
	type entry struct {
		Name string  `json:"name"`
		Size float64 `json:"size"`
	}
	entries := eval[[]entry](tb, `[performance.getEntriesByType("navigation")[0], ...performance.getEntriesByType("resource")]
		.map((e) => ({ name: new URL(e.name).pathname, size: e.decodedBodySize }))`)
	total := 0.0
	var names []string
	for _, e := range entries {
		total += e.Size
		names = append(names, e.Name)
		t.Logf("%-20s %6.0f bytes", e.Name, e.Size)
		if slices.Contains([]string{"/views/chat.js", "/views/games.js", "/views/tools.js", "/views/roulette.js", "/views/create.js", "/views/ui.js", "/views/more.css"}, e.Name) {
			t.Errorf("%s loaded at start", e.Name)
		}
	}
	t.Logf("%d files, %.0f bytes", len(entries), total)
	for _, want := range []string{"/", "/app.css", "/app.js", "/chatfly.js", "/views/name.js"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s not among the files fetched at start", want)
		}
	}
	if total > 50*1024 {
		t.Errorf("the first screen fetched %.0f bytes in %d files, want at most %d", total, len(entries), 50*1024)
	}
	tb.Check()
}

// TestBrowserCustomRoom: Ada creates a private room, copies its link; Lin
// opens the link in another browser context, picks a name and lands in the
// room; they chat; Ada edits the topic, makes the room public, mutes and
// unmutes Lin, then kicks Lin, who is told and taken back to the rooms, can
// come back by the link, and after a ban cannot, until Ada lifts the ban.
// Ada makes Lin a moderator, then the owner; Lin deletes the room.
func TestBrowserCustomRoom(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "127.0.0.1:0", secret)
	ada := newTab(t, browser, "Ada")
	lin := newTab(t, browser, "Lin")

	enter(ada, srv.url(), "Ada")
	ada.Do("open the New room dialog", chromedp.Click(button("tools", "New room")))
	ada.WaitJS("the dialog, focused on the name", `document.querySelector("dialog[open]") && document.activeElement?.id === "room-name"`)
	checkLabels(ada)
	if got := eval[string](ada, `document.querySelector('input[name="visibility"]:checked').value`); got != "private" {
		t.Errorf("default visibility %q, want private", got)
	}
	ada.Do("name, topic and create",
		chromedp.SendKeys(chromedp.ID("room-name"), "Book club"),
		chromedp.SendKeys(chromedp.ID("room-topic"), "Dune, ch. 3"),
		chromedp.Click(dialogButton("Create room")),
	)
	ada.WaitJS("in the new room", jsInRoom+` && /^#\/room\/[A-Za-z0-9_-]{22}$/.test(location.hash) && document.querySelector("h1").textContent === "Book club"`)
	ada.WaitJS("the room tools", `document.querySelector(".room-kind")?.textContent === "Private room"`)
	if got := eval[string](ada, `document.querySelector(".topic").textContent`); got != "Dune, ch. 3" {
		t.Errorf("topic %q", got)
	}
	id := strings.TrimPrefix(eval[string](ada, `location.hash`), "#/room/")
	link := eval[string](ada, `document.querySelector("#share-link").value`)
	if want := srv.url() + "/r/" + id; link != want {
		t.Fatalf("share link %q, want %q", link, want)
	}
	ada.Do("Copy link", chromedp.Click(button("room-tools", "Copy link")))
	ada.WaitJS("copied (or selected to copy)", `/^(Link copied|Press Ctrl\+C)/.test(document.querySelector("#status").textContent)`)
	ada.WaitJS("owner in the member list", jsHasMember("Ada")+` && document.querySelector(".members .role")?.textContent === " · owner"`)

	// Lin opens the link in another browser context: a name first, at the
	// link's address (a reload keeps it), then the room's name and topic,
	// then the room.
	jsInvited := `document.activeElement?.id === "name" && location.pathname === "/" && location.hash === "#/r/` + id + `" && document.querySelector("h1").textContent === "You're invited to a chat room"`
	lin.Do("open the link", chromedp.Navigate(link))
	lin.WaitJS("the name screen, invited", jsInvited)
	lin.Do("reload", chromedp.Reload())
	lin.WaitJS("still invited after a reload", jsInvited)
	lin.Do("pick a name", chromedp.SendKeys(chromedp.ID("name"), "Lin\r"))
	lin.WaitJS("the invitation", jsInvitation("Book club", "Dune, ch. 3"))
	lin.ClickJS("Join", jsQuery(`.invite a[href^="#/room/"]`))
	lin.WaitJS("in the room", jsInRoom+` && location.hash === "#/room/`+id+`" && document.querySelector("h1").textContent === "Book club"`)
	lin.WaitJS("the topic", `document.querySelector(".topic").textContent === "Dune, ch. 3"`)
	if n := eval[int](lin, `document.querySelectorAll("button.mod").length`); n != 0 {
		t.Errorf("Lin (a member) sees %d moderation buttons", n)
	}
	if settings := eval[bool](lin, `[...document.querySelectorAll(".room-tools button")].some((b) => !b.hidden && b.textContent === "Room settings")`); settings {
		t.Error("Lin (a member) sees Room settings")
	}
	if listed := eval[bool](lin, `import("/app.js").then((m) => m.app.client.rooms({ limit: 100 })).then((p) => p.rooms.some((r) => r.id === `+jsString(id)+`))`); listed {
		t.Error("the private room is in the directory")
	}

	// They chat.
	lin.Do("say hello", chromedp.SendKeys(chromedp.ID("msg"), "hello from the link\r"))
	ada.WaitJS("Lin's message", jsHasMessage("Lin", "hello from the link"))
	ada.Do("answer", chromedp.SendKeys(chromedp.ID("msg"), "welcome, Lin\r"))
	lin.WaitJS("Ada's answer", jsHasMessage("Ada", "welcome, Lin"))

	// The owner edits the topic: everyone sees it, and a system message.
	ada.Do("open Room settings", chromedp.Click(button("room-tools", "Room settings")))
	ada.WaitJS("the settings dialog", `document.activeElement?.id === "set-topic"`)
	checkLabels(ada)
	ada.Do("edit the topic",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#set-topic").select()`),
		chromedp.SendKeys(chromedp.ID("set-topic"), "Dune, ch. 4"),
		chromedp.Click(dialogButton("Save")),
	)
	for _, tb := range []*tab{ada, lin} {
		tb.WaitJS("the new topic", `document.querySelector(".topic").textContent === "Dune, ch. 4"`)
		tb.WaitJS("the topic's system message", jsHasSystem("Ada set the topic to Dune, ch. 4"))
	}
	ada.WaitJS("the dialog closed", `!document.querySelector("dialog")`)

	// The owner makes the room public: it is listed now.
	ada.Do("open Room settings", chromedp.Click(button("room-tools", "Room settings")))
	ada.WaitJS("the settings dialog", `document.activeElement?.id === "set-topic"`)
	ada.Do("make it public", chromedp.Click(chromedp.CSS(`dialog[open] input[value="public"]`)), chromedp.Click(dialogButton("Save")))
	for _, tb := range []*tab{ada, lin} {
		tb.WaitJS("a public room", `document.querySelector(".room-kind").textContent === "Public room"`)
		tb.WaitJS("the visibility's system message", jsHasSystem("Ada made the room public"))
	}
	if listed := eval[bool](lin, `import("/app.js").then((m) => m.app.client.rooms({ limit: 100 })).then((p) => p.rooms.some((r) => r.id === `+jsString(id)+`))`); !listed {
		t.Error("the public room is not in the directory")
	}

	// Mute for 5 minutes: Lin can read but not send; Ada sees it.
	ada.ClickJS("moderate Lin", jsQuery(`button[aria-label="Moderate Lin"]`))
	ada.WaitJS("the member dialog", `document.activeElement?.id === "mod-reason"`)
	ada.Do("mute for 5 minutes", chromedp.SetValue(chromedp.ID("mod-duration"), "300"), chromedp.Click(dialogButton("Mute")))
	ada.WaitJS("Lin muted", jsHasSystem("Ada muted Lin for 5 minutes")+` && [...document.querySelectorAll(".members li")].some((li) => li.firstChild.textContent === "Lin" && li.textContent.includes("· muted"))`)
	lin.WaitJS("told", `document.querySelector(".msgs").textContent.includes("You are muted until ")`)
	lin.Do("try to talk", chromedp.SendKeys(chromedp.ID("msg"), "can I talk?\r"))
	lin.WaitJS("not sent", `document.querySelector(".msgs").textContent.includes("Not sent: ")`)
	ada.ClickJS("moderate Lin", jsQuery(`button[aria-label="Moderate Lin"]`))
	ada.WaitJS("the member dialog", `document.activeElement?.id === "mod-reason"`)
	ada.Do("unmute", chromedp.Click(dialogButton("Unmute")))
	lin.WaitJS("unmuted", jsHasSystem("Ada unmuted Lin"))
	lin.Do("talk", chromedp.SendKeys(chromedp.ID("msg"), "\r"))
	ada.WaitJS("Lin's message", jsHasMessage("Lin", "can I talk?"))

	checkLabels(ada)
	checkLabels(lin)
	checkPhone(ada, ".composer")

	// Kick: Lin is told and taken back to the rooms; the room says so.
	ada.ClickJS("moderate Lin", jsQuery(`button[aria-label="Moderate Lin"]`))
	ada.WaitJS("the member dialog", `document.activeElement?.id === "mod-reason"`)
	checkLabels(ada)
	ada.Do("kick with a reason", chromedp.SendKeys(chromedp.ID("mod-reason"), "spoilers"), chromedp.Click(dialogButton("Kick")))
	lin.WaitJS("back at the rooms, told why", `location.hash === "#/rooms" && `+jsStatusIs("Ada removed you from Book club: spoilers"))
	ada.WaitJS("the kick's system message", jsHasSystem("Ada kicked Lin: spoilers"))
	ada.WaitJS("Lin out of the member list", `!(`+jsHasMember("Lin")+`)`)
	ada.WaitJS("the dialog closed", `!document.querySelector("dialog")`)

	// A kicked member may come back by the link.
	lin.Do("open the link again", chromedp.Navigate(link))
	lin.WaitJS("the invitation", jsInvitation("Book club", "Dune, ch. 4"))
	lin.ClickJS("Join", jsQuery(`.invite a[href^="#/room/"]`))
	lin.WaitJS("in the room again", jsInRoom+` && location.hash === "#/room/`+id+`"`)
	ada.WaitJS("Lin back", jsHasMember("Lin"))

	// A banned one may not, until unbanned.
	ada.ClickJS("moderate Lin", jsQuery(`button[aria-label="Moderate Lin"]`))
	ada.WaitJS("the member dialog", `document.activeElement?.id === "mod-reason"`)
	ada.Do("ban", chromedp.Click(dialogButton("Ban")))
	lin.WaitJS("banned, back at the rooms", `location.hash === "#/rooms" && `+jsStatusIs("Ada banned you from Book club"))
	ada.WaitJS("the ban's system message", jsHasSystem("Ada banned Lin"))
	lin.Do("open the link again", chromedp.Navigate(link))
	lin.ClickJS("Join", jsQuery(`.invite a[href^="#/room/"]`))
	lin.WaitJS("refused, under the room's name", jsRefused("banned", "Book club", "You are banned from this room."))
	ada.ClickJS("unban", jsQuery(`button[aria-label="Unban Lin"]`))
	ada.WaitJS("the unban's system message", jsHasSystem("Ada unbanned Lin"))
	lin.Do("reload", chromedp.Reload())
	lin.WaitJS("in the room again", jsInRoom+` && location.hash === "#/room/`+id+`"`)

	// Promote Lin to moderator: the roles change live on both sides.
	ada.ClickJS("moderate Lin", jsQuery(`button[aria-label="Moderate Lin"]`))
	ada.WaitJS("the member dialog", `document.activeElement?.id === "mod-reason"`)
	ada.Do("promote", chromedp.Click(dialogButton("Make moderator")))
	lin.WaitJS("Lin a moderator", `[...document.querySelectorAll(".members li")].some((li) => li.firstChild.textContent === "Lin" && li.querySelector(".role")?.textContent === " · moderator")`)
	if n := eval[int](lin, `document.querySelectorAll("button.mod").length`); n != 0 {
		t.Errorf("Lin, a moderator, may act on the owner: %d buttons", n)
	}

	// Ada hands the room over to Lin, who deletes it: everyone is out.
	ada.ClickJS("moderate Lin", jsQuery(`button[aria-label="Moderate Lin"]`))
	ada.WaitJS("the member dialog", `document.activeElement?.id === "mod-reason"`)
	ada.Do("make Lin the owner", chromedp.Click(dialogButton("Make owner")), chromedp.Click(dialogButton("Yes, make Lin the owner")))
	lin.WaitJS("Lin the owner, with the settings", jsHasSystem("Ada made Lin the owner")+
		` && [...document.querySelectorAll(".room-tools button")].some((b) => !b.hidden && b.textContent === "Room settings")`)
	ada.WaitJS("Ada a moderator, without the settings", `[...document.querySelectorAll(".members li")].some((li) => li.firstChild.textContent === "Ada" && li.querySelector(".role")?.textContent === " · moderator")`+
		` && ![...document.querySelectorAll(".room-tools button")].some((b) => !b.hidden && b.textContent === "Room settings")`)
	lin.Do("open Room settings", chromedp.Click(button("room-tools", "Room settings")))
	lin.WaitJS("the settings dialog", `document.activeElement?.id === "set-topic"`)
	lin.Do("delete the room", chromedp.Click(dialogButton("Delete room")), chromedp.Click(dialogButton("Yes, delete it for everyone")))
	ada.WaitJS("back at the rooms, told why", `location.hash === "#/rooms" && `+jsStatusIs("Lin deleted the room Book club"))
	lin.WaitJS("back at the rooms", `location.hash === "#/rooms" && `+jsStatusIs("You deleted the room Book club")+` && !document.querySelector("dialog")`)
	lin.Do("open the link again", chromedp.Navigate(link))
	lin.WaitJS("gone", `document.querySelector(".invite")?.dataset.code === "not_found" && document.querySelector("h1").textContent === "Room not found" && document.querySelector(".state").textContent.includes("it may have been deleted")`)

	for _, tb := range []*tab{ada, lin} {
		tb.Check()
	}
}
