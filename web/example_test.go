package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/chatfly/chatfly/web"
)

// The app at /, next to the WebSocket endpoint at /ws that it connects to.
func ExampleHandler() {
	mux := http.NewServeMux()
	// mux.Handle("/ws", ws.Handler(hub))
	mux.Handle("/", web.Handler(nil))

	r := httptest.NewRequest("GET", "/chatfly.js", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("Content-Encoding"), w.Header().Get("Cache-Control"))
	// Output: 200 text/javascript; charset=utf-8 gzip no-cache
}

// The same app for static hosting, connecting to an API Gateway endpoint.
func ExampleWriteFiles() {
	dir, err := os.MkdirTemp("", "chatfly-web")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	err = web.WriteFiles(dir, &web.Options{WebSocketURL: "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"})
	if err != nil {
		panic(err)
	}
	files, _ := web.Files(nil)
	for _, f := range files {
		_, err := os.Stat(filepath.Join(dir, f.Path))
		fmt.Println(f.Path, f.ContentType, err == nil)
	}
	// Output:
	// index.html text/html; charset=utf-8 true
	// app.css text/css; charset=utf-8 true
	// app.js text/javascript; charset=utf-8 true
	// chatfly-gaps.js text/javascript; charset=utf-8 true
	// chatfly.js text/javascript; charset=utf-8 true
	// lib/dom.js text/javascript; charset=utf-8 true
	// lib/ext.js text/javascript; charset=utf-8 true
	// views/chat.js text/javascript; charset=utf-8 true
	// views/create.js text/javascript; charset=utf-8 true
	// views/games.js text/javascript; charset=utf-8 true
	// views/invite.js text/javascript; charset=utf-8 true
	// views/more.css text/css; charset=utf-8 true
	// views/name.js text/javascript; charset=utf-8 true
	// views/rooms.js text/javascript; charset=utf-8 true
	// views/roulette.js text/javascript; charset=utf-8 true
	// views/state.js text/javascript; charset=utf-8 true
	// views/tools.js text/javascript; charset=utf-8 true
	// views/ui.js text/javascript; charset=utf-8 true
}
