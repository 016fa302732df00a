package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/transport/wstransport"
	"github.com/chatfly/chatfly/web"
)

// readmeSnippet returns the HTML embed example of README.md.
func readmeSnippet(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```html\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no html example")
	}
	return string(m[1])
}

// startChat serves a Hub at /ws and package web at / on a loopback port,
// allowing pages from the given origin patterns.
func startChat(t *testing.T, origins []string) *httptest.Server {
	t.Helper()
	ws := wstransport.New(&wstransport.Options{OriginPatterns: origins})
	hub := chatfly.New(memstore.New(nil), ws, &chatfly.Options{Rooms: chatfly.DefaultRooms()})
	mux := http.NewServeMux()
	mux.Handle("/ws", ws.Handler(hub))
	mux.Handle("/", web.Handler(nil))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ws.Shutdown(ctx)
		srv.Close()
	})
	return srv
}

// TestBrowserEmbedExample runs README.md's embed example as an integrator
// would: on the chat server's own origin, and on another origin that imports
// chatfly.js across origins.
func TestBrowserEmbedExample(t *testing.T) {
	snippet := readmeSnippet(t)
	browser := newBrowser(t)

	for _, cross := range []bool{false, true} {
		name := map[bool]string{false: "same origin", true: "cross origin"}[cross]
		t.Run(name, func(t *testing.T) {
			chat := startChat(t, []string{"127.0.0.1:*"})
			page, pageURL := snippet, chat.URL+"/embed.html"
			mux := http.NewServeMux()
			mux.HandleFunc("/embed.html", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = w.Write([]byte("<!doctype html><title>embed</title><link rel=icon href=\"data:,\">\n" + page))
			})
			if cross {
				page = strings.Replace(page, `from "/chatfly.js"`, `from "`+chat.URL+`/chatfly.js"`, 1)
				page = strings.Replace(page, `connect({ name: "Ada" })`, `connect({ name: "Ada", url: "ws`+strings.TrimPrefix(chat.URL, "http")+`/ws" })`, 1)
				if page == snippet {
					t.Fatal("the README example changed: update this test's rewriting")
				}
				other := httptest.NewServer(mux)
				t.Cleanup(other.Close)
				pageURL = other.URL + "/embed.html"
			} else {
				// The chat server's mux is built by startChat; serve the page from a
				// handler in front of it.
				chatMux := chat.Config.Handler
				chat.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/embed.html" {
						mux.ServeHTTP(w, r)
						return
					}
					chatMux.ServeHTTP(w, r)
				})
			}

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			bot, err := client.Dial(ctx, "ws"+strings.TrimPrefix(chat.URL, "http")+"/ws", &client.Options{Name: "Bot"})
			if err != nil {
				t.Fatal(err)
			}
			defer bot.Close()
			if _, err := bot.Join(ctx, "lobby", 0); err != nil {
				t.Fatal(err)
			}

			tb := newTab(t, browser, "integrator")
			tb.Do("open the page", chromedp.Navigate(pageURL))
			tb.WaitJS("the page", `document.querySelector("#say")`)
			if _, err := bot.Send(ctx, "lobby", "hello embed"); err != nil {
				t.Fatal(err)
			}
			tb.WaitJS("the bot's message", `[...document.querySelectorAll("#log li")].some((li) => li.textContent === "Bot: hello embed")`)
			tb.Do("answer", chromedp.SendKeys(chromedp.ID("text"), "hi bot"), chromedp.Click(chromedp.CSS("#say button")))
			timeout := time.After(15 * time.Second)
		wait:
			for {
				select {
				case ev, ok := <-bot.Events():
					if !ok {
						t.Fatalf("bot disconnected: %v", bot.Err())
					}
					if ev.Type == "message" && ev.Text == "hi bot" {
						if ev.From.Name != "Ada" {
							t.Errorf("message from %q, want Ada", ev.From.Name)
						}
						break wait
					}
				case <-timeout:
					t.Fatal("the bot did not get the page's message")
				}
			}
			tb.WaitJS("the input emptied once sent", `document.getElementById("text").value === ""`)
			tb.Check()
		})
	}
}
