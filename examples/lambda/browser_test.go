package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/internal/browsertest"
	"github.com/chatfly/chatfly/transport/apigw"
)

// startLocal runs the stack of `go run ./examples/lambda -local`, with the
// flags' defaults (memory storage, stage "local"), on a 127.0.0.1 listener,
// and returns the app's http:// URL and the API's ws:// URL. It stops at the
// end of the test as on SIGINT.
func startLocal(t *testing.T) (base, ws string) {
	t.Helper()
	fs := flag.NewFlagSet("lambda", flag.ContinueOnError)
	sf := localStorageFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := quietLog()
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runLocal(ctx, ln, localConfig{stage: "local", storage: sf, log: log}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("runLocal: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("runLocal did not return 15s after shutdown")
		}
	})
	return "http://" + ln.Addr().String(), "ws://" + ln.Addr().String() + "/local"
}

// JavaScript predicates over the app's DOM.
const (
	jsInRoom = `!document.querySelector("#msg")?.disabled`
	jsSeqs   = `[...document.querySelectorAll(".msgs li.msg")].map((li) => +li.dataset.seq)`
)

func jsHasMessage(from, text string) string {
	return `[...document.querySelectorAll(".msgs li.msg")].some((li) => li.querySelector(".who")?.textContent === ` +
		browsertest.JSString(from) + ` && li.querySelector(".text")?.textContent === ` + browsertest.JSString(text) + `)`
}

func jsHasMember(name string) string {
	return `[...document.querySelectorAll(".members li")].some((li) => li.firstChild?.textContent === ` + browsertest.JSString(name) + `)`
}

// longText is a message of the longest text allowed, in 4-byte characters:
// about 8 KB on the wire, so that 20 of them are more than API Gateway
// delivers in one message.
func longText(i int) string {
	return fmt.Sprintf("long %02d ", i) + strings.Repeat("🙂", 2000-8)
}

// TestBrowserLocal loads the web app, unchanged, from the local serverless
// stack (`-local`) in a real browser, two people in two browser contexts:
// they pick names, join the lobby with a history too big for one API
// Gateway message (the Hub shortens it to 128 KB; the rest comes by
// scrolling back), see each other, and exchange messages both ways. The
// roulette.* actions, which route selection sends to the Roulette function,
// pair them for a private chat. And when Ada's session is taken over
// elsewhere, API Gateway closes her socket with 1000: the "close" frame that
// precedes it makes the page say why and offer to reconnect.
func TestBrowserLocal(t *testing.T) {
	browser := browsertest.NewBrowser(t)
	base, ws := startLocal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A bot fills the lobby with long messages.
	const long = 20
	bot, err := client.Dial(ctx, ws, &client.Options{Name: "Bot"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bot.Join(ctx, "lobby", 0); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= long; i++ {
		if _, err := bot.Send(ctx, "lobby", longText(i)); err != nil {
			t.Fatal(err)
		}
	}
	_ = bot.Close()
	if long*len(longText(0)) <= apigw.MaxPayloadBytes {
		t.Fatalf("%d long messages fit one API Gateway message: the history is not shortened", long)
	}

	ada := browsertest.NewTab(t, browser, "Ada", nil)
	lin := browsertest.NewTab(t, browser, "Lin", nil)
	enter := func(tb *browsertest.Tab) {
		t.Helper()
		tb.Do("open the app", chromedp.Navigate(base+"/"))
		tb.Do("pick a name",
			chromedp.WaitVisible(chromedp.ID("name")),
			chromedp.SendKeys(chromedp.ID("name"), tb.Name),
			chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		)
		tb.Do("join the lobby", chromedp.Click(chromedp.CSS(`a.room[data-room="lobby"]`)))
		tb.WaitJS("the composer", jsInRoom)
	}

	// Ada joins: the newest messages that fit 128 KB, then the older ones
	// as she scrolls back, every one in order.
	enter(ada)
	ada.WaitJS("the latest long message", jsHasMessage("Bot", longText(long)))
	n := len(browsertest.Eval[[]int](ada, jsSeqs))
	t.Logf("Ada: %d of the %d long messages on joining", n, long)
	if n >= long || n == 0 {
		t.Errorf("Ada: %d messages on joining, want fewer than %d (shortened to fit 128 KB)", n, long)
	}
	ada.WaitJS("the whole history, scrolling back", `(() => {
		const log = document.querySelector(".log"), older = document.querySelector(".older");
		if (!older.hidden && !older.disabled) log.scrollTop = 0;
		const s = `+jsSeqs+`;
		return s.length === `+fmt.Sprint(long)+` && s.every((x, i) => x === i + 1);
	})()`)

	// Lin joins: presence both ways, messages both ways.
	enter(lin)
	lin.WaitJS("the latest long message", jsHasMessage("Bot", longText(long)))
	lin.WaitJS("Ada in the member list", jsHasMember("Ada"))
	ada.WaitJS("Lin in the member list", jsHasMember("Lin"))
	ada.WaitJS("Lin's arrival", `document.querySelector(".msgs").textContent.includes("Lin joined")`)
	lin.Do("type", chromedp.Focus(chromedp.ID("msg")), chromedp.KeyEvent("hi Ada"))
	ada.WaitJS("Lin typing", `document.querySelector(".typing").textContent === "Lin is typing…"`)
	lin.Do("send with Enter", chromedp.KeyEvent("\r"))
	ada.WaitJS("Lin's message", jsHasMessage("Lin", "hi Ada"))
	ada.Do("answer",
		chromedp.SendKeys(chromedp.ID("msg"), "hi Lin"),
		chromedp.Click(chromedp.CSS(`.composer button[type=submit]`)),
	)
	lin.WaitJS("Ada's message", jsHasMessage("Ada", "hi Lin"))
	ada.WaitJS("Ada's own message", jsHasMessage("Ada", "hi Lin"))

	// Ada's session resumed by another client: her socket is closed with
	// 1000, after a "close" frame with 4001.
	token := browsertest.Eval[string](ada, `sessionStorage.getItem("chatfly.token")`)
	if token == "" {
		t.Fatal("Ada: no resume token in sessionStorage")
	}
	other, err := client.Dial(ctx, ws, &client.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ada.WaitJS("the replaced notice", `document.querySelector("#status").textContent.startsWith("This chat was opened in another tab or window.")`)
	ada.Do("reconnect here", chromedp.Click(chromedp.CSS(`#status button`)))
	select {
	case <-other.Done():
		if code := other.CloseCode(); code != 4001 {
			t.Errorf("the other client: close code %d, want 4001 (replaced)", code)
		}
	case <-ctx.Done():
		t.Fatal("the other client was not replaced when Ada reconnected")
	}
	ada.WaitJS("back in the lobby", jsInRoom+` && location.hash === "#/room/lobby"`)
	ada.Do("send after reconnecting",
		chromedp.SendKeys(chromedp.ID("msg"), "back again"),
		chromedp.Click(chromedp.CSS(`.composer button[type=submit]`)),
	)
	lin.WaitJS("Ada's message after reconnecting", jsHasMessage("Ada", "back again"))

	// Roulette: route selection sends roulette.* to the Roulette function.
	for _, tb := range []*browsertest.Tab{ada, lin} {
		tb.Do("open the roulette",
			chromedp.Click(chromedp.CSS(`a.back[href="#/rooms"]`)),
			chromedp.Click(chromedp.CSS(`a[href="#/roulette"]`)),
		)
		tb.Do("start", chromedp.WaitVisible(chromedp.CSS(`.roulette .buttons button`)), chromedp.Click(chromedp.CSS(`.roulette .buttons button`)))
	}
	ada.WaitJS("matched with Lin", `document.querySelector(".roulette").dataset.state === "matched" &&
		document.querySelector(".rl-status").textContent.startsWith("Talking with Lin")`)
	lin.WaitJS("matched with Ada", `document.querySelector(".roulette").dataset.state === "matched"`)
	ada.Do("say hi", chromedp.SendKeys(chromedp.ID("msg"), "hello stranger\r"))
	lin.WaitJS("Ada's roulette message", jsHasMessage("Ada", "hello stranger"))
	lin.Do("answer", chromedp.SendKeys(chromedp.ID("msg"), "hello you\r"))
	ada.WaitJS("Lin's roulette message", jsHasMessage("Lin", "hello you"))

	for _, tb := range []*browsertest.Tab{ada, lin} {
		tb.Check()
	}
}
