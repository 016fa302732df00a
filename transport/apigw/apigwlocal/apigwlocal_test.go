package apigwlocal_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/chatfly/chatfly/transport/apigw/apigwlocal"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rig is an emulator on 127.0.0.1 whose routes record their events.
type rig struct {
	t      *testing.T
	emu    *apigwlocal.Server
	srv    *httptest.Server
	client *apigatewaymanagementapi.Client
	evs    chan events.APIGatewayWebsocketProxyRequest
}

type rigOptions struct {
	opts    apigwlocal.Options
	connect func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)
	message func(events.APIGatewayWebsocketProxyRequest) error
}

func newRig(t *testing.T, ro rigOptions) *rig {
	r := &rig{t: t, evs: make(chan events.APIGatewayWebsocketProxyRequest, 100)}
	rec := func(resp func(events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)) apigwlocal.Handler {
		return apigwlocal.HandlerFunc(func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("handler context without a deadline")
			}
			r.evs <- ev
			if resp != nil {
				return resp(ev)
			}
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		})
	}
	msg := func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if ro.message != nil {
			return events.APIGatewayProxyResponse{StatusCode: 200}, ro.message(ev)
		}
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	o := ro.opts
	if o.Stage == "" {
		o.Stage = "dev"
	}
	o.Logger = slog.New(slog.DiscardHandler)
	o.Routes = map[string]apigwlocal.Handler{
		"$connect":    rec(ro.connect),
		"$disconnect": rec(nil),
		"$default":    rec(msg),
		"sendmessage": rec(msg),
	}
	r.emu = apigwlocal.New(&o)
	r.srv = httptest.NewServer(r.emu)
	tr := &http.Transport{}
	r.client = apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		HTTPClient:   &http.Client{Transport: tr},
		BaseEndpoint: aws.String(r.srv.URL + "/" + o.Stage),
	})
	t.Cleanup(func() {
		_ = r.emu.Close()
		r.srv.Close()
		tr.CloseIdleConnections()
	})
	return r
}

func (r *rig) url() string { return "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/" + r.emu.Stage() }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// dial connects and returns the socket and the $connect event.
func (r *rig) dial(query string) (*websocket.Conn, events.APIGatewayWebsocketProxyRequest) {
	r.t.Helper()
	c, _, err := websocket.Dial(ctx(r.t), r.url()+query, &websocket.DialOptions{HTTPHeader: http.Header{"User-Agent": {"rig/1"}, "Cookie": {"a=1", "b=2"}}})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { c.CloseNow() })
	ev := r.next("CONNECT")
	// Wait until the connection is registered (right after the upgrade).
	for !r.open(ev.RequestContext.ConnectionID) {
		time.Sleep(time.Millisecond)
	}
	return c, ev
}

func (r *rig) open(id string) bool {
	for _, c := range r.emu.Connections() {
		if c.ID == id {
			return true
		}
	}
	return false
}

func (r *rig) next(eventType string) events.APIGatewayWebsocketProxyRequest {
	r.t.Helper()
	select {
	case ev := <-r.evs:
		if ev.RequestContext.EventType != eventType {
			r.t.Fatalf("got a %s event, want %s: %+v", ev.RequestContext.EventType, eventType, ev.RequestContext)
		}
		return ev
	case <-time.After(10 * time.Second):
		r.t.Fatalf("no %s event", eventType)
	}
	panic("unreachable")
}

func (r *rig) noEvent() {
	r.t.Helper()
	select {
	case ev := <-r.evs:
		r.t.Fatalf("unexpected event %+v", ev.RequestContext)
	case <-time.After(100 * time.Millisecond):
	}
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_, b, err := c.Read(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEvents(t *testing.T) {
	r := newRig(t, rigOptions{})
	start := time.Now()
	c, conn := r.dial("?name=Ada&tag=a&tag=b")
	rc := conn.RequestContext
	id := rc.ConnectionID
	if len(id) != 16 || !strings.HasSuffix(id, "=") || rc.RouteKey != "$connect" || rc.Stage != "dev" || rc.APIID != "local" ||
		rc.DomainName != strings.TrimPrefix(r.srv.URL, "http://") || rc.Identity.SourceIP != "127.0.0.1" || rc.Identity.UserAgent != "rig/1" ||
		rc.RequestTimeEpoch < start.UnixMilli() || rc.ConnectedAt < start.UnixMilli() || rc.RequestID == "" {
		t.Fatalf("$connect context %+v", rc)
	}
	if conn.QueryStringParameters["name"] != "Ada" || len(conn.MultiValueQueryStringParameters["tag"]) != 2 ||
		conn.Headers["Cookie"] != "a=1,b=2" || len(conn.MultiValueHeaders["Cookie"]) != 2 {
		t.Fatalf("$connect request %+v", conn)
	}

	// Route selection on $request.body.action.
	for body, route := range map[string]string{
		`{"action":"sendmessage","text":"hi"}`: "sendmessage",
		`{"action":"nope"}`:                    "$default",
		`{"action":"$connect"}`:                "$default",
		`{"action":7}`:                         "$default",
		`not json`:                             "$default",
	} {
		if err := c.Write(ctx(t), websocket.MessageText, []byte(body)); err != nil {
			t.Fatal(err)
		}
		ev := r.next("MESSAGE")
		if ev.RequestContext.RouteKey != route || ev.Body != body || ev.IsBase64Encoded || ev.RequestContext.ConnectionID != id ||
			ev.RequestContext.MessageID == nil || ev.RequestContext.MessageDirection != "IN" || ev.RequestContext.ConnectedAt != rc.ConnectedAt {
			t.Fatalf("message %s: %+v", body, ev)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	d := r.next("DISCONNECT")
	if d.RequestContext.ConnectionID != id || d.RequestContext.RouteKey != "$disconnect" || d.RequestContext.DisconnectStatusCode != 1000 || *d.RequestContext.DisconnectReason != "bye" {
		t.Fatalf("$disconnect %+v", d.RequestContext)
	}
	if r.open(id) {
		t.Fatal("closed connection still listed")
	}
}

// A binary message closes the connection with 1003, as API Gateway does;
// with Lenient it is passed base64-encoded.
func TestBinaryMessage(t *testing.T) {
	t.Run("strict", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		c, _ := r.dial("")
		if err := c.Write(ctx(t), websocket.MessageBinary, []byte(`{"action":"sendmessage"}`)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Read(ctx(t)); websocket.CloseStatus(err) != websocket.StatusUnsupportedData {
			t.Fatalf("after a binary message: %v, want 1003", err)
		}
		if d := r.next("DISCONNECT"); d.RequestContext.DisconnectStatusCode != 1003 { // and no MESSAGE event
			t.Fatalf("$disconnect %+v", d.RequestContext)
		}
	})
	t.Run("lenient", func(t *testing.T) {
		r := newRig(t, rigOptions{opts: apigwlocal.Options{Lenient: true}})
		c, _ := r.dial("")
		if err := c.Write(ctx(t), websocket.MessageBinary, []byte{0, 1, 2}); err != nil {
			t.Fatal(err)
		}
		if ev := r.next("MESSAGE"); !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString([]byte{0, 1, 2}) || ev.RequestContext.RouteKey != "$default" {
			t.Fatalf("binary message %+v", ev)
		}
	})
}

// A non-2xx $connect refuses the upgrade with its status only; with
// Lenient, with its headers and body too.
func TestConnectRefused(t *testing.T) {
	t.Run("strict", func(t *testing.T) { testConnectRefused(t, false) })
	t.Run("lenient", func(t *testing.T) { testConnectRefused(t, true) })
}

func testConnectRefused(t *testing.T, lenient bool) {
	r := newRig(t, rigOptions{opts: apigwlocal.Options{Lenient: lenient}, connect: func(ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		switch ev.QueryStringParameters["who"] {
		case "banned":
			return events.APIGatewayProxyResponse{StatusCode: 403, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"code":"rejected","message":"no"}`}, nil
		case "broken":
			return events.APIGatewayProxyResponse{}, errors.New("handler crashed")
		case "panic":
			panic("boom")
		}
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}})
	for who, want := range map[string]int{"banned": 403, "broken": 500, "panic": 500} {
		_, resp, err := websocket.Dial(ctx(t), r.url()+"?who="+who, nil)
		if err == nil || resp == nil || resp.StatusCode != want {
			t.Fatalf("%s: %v %v, want %d", who, resp, err, want)
		}
		body, _ := io.ReadAll(resp.Body)
		passed := string(body) == `{"code":"rejected","message":"no"}` && resp.Header.Get("Content-Type") == "application/json"
		if who == "banned" && passed != lenient {
			t.Fatalf("lenient=%v: refusal body %q, headers %v", lenient, body, resp.Header)
		}
		r.next("CONNECT")
	}
	r.noEvent() // no $disconnect for a refused connection
	if n := len(r.emu.Connections()); n != 0 {
		t.Fatalf("%d connections", n)
	}
}

// Integration errors and unmatched routes are reported to the client as
// API Gateway does.
func TestIntegrationErrors(t *testing.T) {
	r := newRig(t, rigOptions{message: func(ev events.APIGatewayWebsocketProxyRequest) error {
		if strings.Contains(ev.Body, "fail") {
			return errors.New("lambda failed")
		}
		if strings.Contains(ev.Body, "panic") {
			panic("lambda panicked")
		}
		return nil
	}})
	c, conn := r.dial("")
	for _, body := range []string{`{"action":"fail"}`, `{"action":"panic"}`} {
		if err := c.Write(ctx(t), websocket.MessageText, []byte(body)); err != nil {
			t.Fatal(err)
		}
		r.next("MESSAGE")
		var got struct{ Message, ConnectionID, RequestID string }
		if err := json.Unmarshal([]byte(read(t, c)), &got); err != nil || got.Message != "Internal server error" ||
			got.ConnectionID != conn.RequestContext.ConnectionID || got.RequestID == "" {
			t.Fatalf("after %s the client got %+v (%v)", body, got, err)
		}
	}

	// Without $default, an unmatched action is Forbidden.
	emu := apigwlocal.New(&apigwlocal.Options{Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(emu)
	defer func() { _ = emu.Close(); srv.Close() }()
	c2, _, err := websocket.Dial(ctx(t), "ws"+strings.TrimPrefix(srv.URL, "http")+"/local", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	if err := c2.Write(ctx(t), websocket.MessageText, []byte(`{"action":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c2); !strings.Contains(got, `"message":"Forbidden"`) {
		t.Fatalf("unmatched route answered %s", got)
	}
}

// The management API, through the real SDK client.
func TestManagementAPI(t *testing.T) {
	r := newRig(t, rigOptions{})
	c, conn := r.dial("")
	id := conn.RequestContext.ConnectionID
	if _, err := r.client.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte(`{"type":"hi"}`)}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != `{"type":"hi"}` {
		t.Fatalf("client read %q", got)
	}
	got, err := r.client.GetConnection(ctx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if got.ConnectedAt == nil || got.ConnectedAt.UnixMilli() != conn.RequestContext.ConnectedAt || got.LastActiveAt == nil ||
		got.Identity == nil || *got.Identity.SourceIp != "127.0.0.1" || *got.Identity.UserAgent != "rig/1" {
		t.Fatalf("GetConnection %+v", got)
	}
	if _, err := r.client.DeleteConnection(ctx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx(t)); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after DELETE the client read %v", err)
	}
	if d := r.next("DISCONNECT"); d.RequestContext.DisconnectStatusCode != 1000 {
		t.Fatalf("$disconnect after DELETE %+v", d.RequestContext)
	}
	for name, call := range map[string]func() error{
		"post": func() error {
			_, err := r.client.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")})
			return err
		},
		"get": func() error {
			_, err := r.client.GetConnection(ctx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
			return err
		},
		"delete": func() error {
			_, err := r.client.DeleteConnection(ctx(t), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id})
			return err
		},
	} {
		var gone *types.GoneException
		if err := call(); !errors.As(err, &gone) {
			t.Errorf("%s after DELETE: %v, want GoneException", name, err)
		}
	}
}

// Connection ids in API Gateway's alphabet ('+', '/', '=') survive the
// SDK's path escaping.
func TestConnectionIDEscaping(t *testing.T) {
	ids := make(chan string, 1)
	ids <- "a+b/c=d/Ef+gh/I="
	r := newRig(t, rigOptions{opts: apigwlocal.Options{NewConnID: func() string { return <-ids }}})
	c, conn := r.dial("")
	id := conn.RequestContext.ConnectionID
	if id != "a+b/c=d/Ef+gh/I=" {
		t.Fatalf("id %q", id)
	}
	if _, err := r.client.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("escaped")}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != "escaped" {
		t.Fatalf("read %q", got)
	}
}

func TestUnsignedManagementCall(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, conn := r.dial("")
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/dev/@connections/"+conn.RequestContext.ConnectionID, strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("x-amzn-ErrorType") != "ForbiddenException" {
		t.Fatalf("unsigned call: %d %v", resp.StatusCode, resp.Header)
	}
	for _, path := range []string{"/other/@connections/x", "/dev/elsewhere", "/dev/@connections/"} {
		resp, err := http.Get(r.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}

// Drop loses a connection without $disconnect; the management API then
// answers 410 for it.
func TestDrop(t *testing.T) {
	r := newRig(t, rigOptions{})
	c, conn := r.dial("")
	id := conn.RequestContext.ConnectionID
	if !r.emu.Drop(id) || r.emu.Drop(id) {
		t.Fatal("Drop did not report the open connection once")
	}
	if _, _, err := c.Read(ctx(t)); err == nil {
		t.Fatal("the dropped client can still read")
	}
	r.noEvent()
	var gone *types.GoneException
	if _, err := r.client.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")}); !errors.As(err, &gone) {
		t.Fatalf("post to a dropped connection: %v", err)
	}
}

func TestTimeouts(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		r := newRig(t, rigOptions{opts: apigwlocal.Options{IdleTimeout: 300 * time.Millisecond}})
		c, conn := r.dial("")
		// Activity either way keeps it open.
		id := conn.RequestContext.ConnectionID
		for range 4 {
			time.Sleep(150 * time.Millisecond)
			if _, err := r.client.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("keepalive")}); err != nil {
				t.Fatal(err)
			}
			read(t, c)
		}
		start := time.Now()
		_, _, err := c.Read(ctx(t))
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "Going away" {
			t.Fatalf("idle connection ended with %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("idle close after %v", d)
		}
		if d := r.next("DISCONNECT"); d.RequestContext.DisconnectStatusCode != 1001 {
			t.Fatalf("$disconnect %+v", d.RequestContext)
		}
	})
	t.Run("max duration", func(t *testing.T) {
		r := newRig(t, rigOptions{opts: apigwlocal.Options{MaxDuration: 400 * time.Millisecond}})
		c, _ := r.dial("")
		closed := c.CloseRead(ctx(t))
		start := time.Now()
		var disconnect *events.APIGatewayWebsocketProxyRequest
		// take reads the next event, and keeps it if it is $disconnect.
		take := func() {
			select {
			case ev := <-r.evs:
				if ev.RequestContext.EventType == "DISCONNECT" {
					disconnect = &ev
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no event")
			}
		}
		for closed.Err() == nil && disconnect == nil {
			if err := c.Write(ctx(t), websocket.MessageText, []byte(`{"action":"busy"}`)); err == nil {
				// A message written as MaxDuration passes may be cut off
				// by the close: then $disconnect comes instead.
				take()
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("connection outlived MaxDuration")
			}
			time.Sleep(50 * time.Millisecond)
		}
		for disconnect == nil { // messages still in flight come first
			take()
		}
		if d := disconnect.RequestContext; d.DisconnectStatusCode != 1001 || time.Since(start) < 400*time.Millisecond {
			t.Fatalf("$disconnect %+v after %v", d, time.Since(start))
		}
	})
}

// A client frame over 32 KB closes the connection with 1009, even in a
// message within 128 KB; a 100 KB message in frames of 25 KB passes. With
// Lenient, frames up to 128 KB pass.
func TestFrameTooBig(t *testing.T) {
	// write sends msg as one message in frames of frame bytes.
	write := func(c *websocket.Conn, msg []byte, frame int) {
		t.Helper()
		w, err := c.Writer(ctx(t), websocket.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		for chunk := range slices.Chunk(msg, frame) {
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	big := []byte(`{"action":"sendmessage","text":"` + strings.Repeat("x", 100<<10) + `"}`)
	frame33 := []byte(`{"text":"` + strings.Repeat("x", 33<<10) + `"}`)

	r := newRig(t, rigOptions{})
	c, _ := r.dial("")
	write(c, big, 25<<10)
	if ev := r.next("MESSAGE"); ev.Body != string(big) {
		t.Fatalf("a 100 KB message in 25 KB frames: got %d bytes", len(ev.Body))
	}
	write(c, frame33, len(frame33))
	if _, _, err := c.Read(ctx(t)); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("a 33 KB frame: %v, want 1009", err)
	}
	if d := r.next("DISCONNECT"); d.RequestContext.DisconnectStatusCode != 1009 { // and no MESSAGE event
		t.Fatalf("$disconnect %+v", d.RequestContext)
	}

	r = newRig(t, rigOptions{opts: apigwlocal.Options{Lenient: true}})
	c, _ = r.dial("")
	write(c, frame33, len(frame33))
	if ev := r.next("MESSAGE"); ev.Body != string(frame33) {
		t.Fatalf("lenient: a 33 KB frame: got %d bytes", len(ev.Body))
	}
}

// A client message over 128 KB closes the connection with 1009.
func TestMessageTooBig(t *testing.T) {
	r := newRig(t, rigOptions{})
	c, _ := r.dial("")
	_ = c.Write(ctx(t), websocket.MessageText, make([]byte, apigwlocal.MaxMessageBytes+1))
	_, _, err := c.Read(ctx(t))
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized message: %v", err)
	}
	if d := r.next("DISCONNECT"); d.RequestContext.DisconnectStatusCode != 1009 {
		t.Fatalf("$disconnect %+v", d.RequestContext)
	}
}

// $disconnect does not wait for the connection's messages in flight, as
// API Gateway gives no order between them; with Lenient it comes after.
func TestDisconnectUnordered(t *testing.T) {
	for _, lenient := range []bool{false, true} {
		release := make(chan struct{})
		r := newRig(t, rigOptions{opts: apigwlocal.Options{Lenient: lenient}, message: func(events.APIGatewayWebsocketProxyRequest) error {
			<-release
			return nil
		}})
		c, _ := r.dial("")
		if err := c.Write(ctx(t), websocket.MessageText, []byte(`{"action":"sendmessage"}`)); err != nil {
			t.Fatal(err)
		}
		r.next("MESSAGE") // its handler is running, blocked
		_ = c.Close(websocket.StatusNormalClosure, "")
		if lenient {
			r.noEvent() // $disconnect waits for the message
			close(release)
			r.next("DISCONNECT")
			continue
		}
		r.next("DISCONNECT") // while the message is still in flight
		close(release)
	}
}

// Messages of one connection are handled concurrently, as API Gateway does,
// unless Ordered.
func TestConcurrency(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		var mu sync.Mutex
		running, peak := 0, 0
		r := newRig(t, rigOptions{opts: apigwlocal.Options{Ordered: ordered, Lenient: true}, message: func(events.APIGatewayWebsocketProxyRequest) error {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			time.Sleep(30 * time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
			return nil
		}})
		c, _ := r.dial("")
		for range 5 {
			if err := c.Write(ctx(t), websocket.MessageText, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		for range 5 {
			r.next("MESSAGE")
		}
		_ = c.Close(websocket.StatusNormalClosure, "")
		r.next("DISCONNECT") // after the messages in flight (Lenient)
		mu.Lock()
		if (ordered && peak != 1) || (!ordered && peak < 2) || running != 0 {
			t.Errorf("ordered=%v: peak %d, running %d at $disconnect", ordered, peak, running)
		}
		mu.Unlock()
	}
}

// Close closes every connection with 1001 and calls $disconnect.
func TestClose(t *testing.T) {
	r := newRig(t, rigOptions{})
	c, _ := r.dial("")
	done := make(chan error, 1)
	go func() { _, _, err := c.Read(context.Background()); done <- err }()
	if err := r.emu.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("client read %v", err)
	}
	r.next("DISCONNECT")
	if _, resp, err := websocket.Dial(ctx(t), r.url(), nil); err == nil || resp.StatusCode != 503 {
		t.Fatalf("dial after Close: %v", err)
	}
}

// Options.OriginPatterns refuse other web pages before $connect.
func TestOriginPatterns(t *testing.T) {
	r := newRig(t, rigOptions{opts: apigwlocal.Options{OriginPatterns: []string{"app.example.com"}}})
	for origin, want := range map[string]bool{"": true, "https://app.example.com": true, "https://evil.example": false, "null": false} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := websocket.Dial(ctx(t), r.url(), &websocket.DialOptions{HTTPHeader: h})
		if !want {
			if err == nil || resp == nil || resp.StatusCode != 403 {
				t.Fatalf("Origin %q: %v %v, want 403", origin, resp, err)
			}
			r.noEvent() // $connect was not called
			continue
		}
		if err != nil {
			t.Fatalf("Origin %q: %v", origin, err)
		}
		r.next("CONNECT")
		c.CloseNow()
		r.next("DISCONNECT")
	}
}

// The management API answers loopback clients only, signed or not: the
// emulator cannot check signatures made with placeholder credentials.
func TestManagementAPIOnLoopbackOnly(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, conn := r.dial("")
	path := "/dev/@connections/" + url.PathEscape(conn.RequestContext.ConnectionID)
	for addr, want := range map[string]int{"127.0.0.1:5000": 200, "[::1]:5000": 200, "192.0.2.7:5000": 403, "[2001:db8::1]:5000": 403} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = addr
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00")
		w := httptest.NewRecorder()
		r.emu.ServeHTTP(w, req)
		if w.Code != want || (want == 403 && w.Header().Get("x-amzn-ErrorType") != "ForbiddenException") {
			t.Errorf("from %s: %d %v, want %d", addr, w.Code, w.Header(), want)
		}
	}
}

// TestPostLatency: with PostLatency, a PostToConnection waits its delay
// (within the jitter) before its message is queued, a caller that gives up
// during the delay sends nothing, and the other calls are not delayed.
func TestPostLatency(t *testing.T) {
	entered := make(chan time.Duration)
	release := make(chan struct{})
	left := make(chan error, 2) // how each blocked delay ended
	var mu sync.Mutex
	var delays []time.Duration
	blocking := true
	sleep := func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		delays = append(delays, d)
		block := blocking
		mu.Unlock()
		if !block {
			return nil
		}
		entered <- d
		var err error
		select {
		case <-release:
		case <-ctx.Done():
			err = ctx.Err()
		}
		left <- err
		return err
	}
	r := newRig(t, rigOptions{opts: apigwlocal.Options{PostLatency: 5 * time.Millisecond, PostJitter: 2 * time.Millisecond, Sleep: sleep}})
	c, conn := r.dial("")
	id := conn.RequestContext.ConnectionID
	post := func(ctx context.Context, data string) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := r.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte(data)})
			done <- err
		}()
		return done
	}

	// A caller that gives up while its call is delayed sends nothing.
	cctx, cancel := context.WithCancel(ctx(t))
	given := post(cctx, "given up")
	<-entered
	cancel()
	if err := <-given; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled PostToConnection: %v", err)
	}
	if err := <-left; err == nil {
		t.Fatal("the delay of a cancelled PostToConnection ended without an error")
	}

	done := post(ctx(t), "first")
	<-entered
	select {
	case err := <-done:
		t.Fatalf("PostToConnection returned (%v) during its delay", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != "first" {
		t.Fatalf("client read %q, want first (the cancelled call sent nothing)", got)
	}

	mu.Lock()
	blocking = false
	mu.Unlock()
	for range 20 {
		if err := <-post(ctx(t), "more"); err != nil {
			t.Fatal(err)
		}
		read(t, c)
	}
	if _, err := r.client.GetConnection(ctx(t), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delays) != 22 {
		t.Fatalf("%d delays for 22 PostToConnection calls and a GetConnection", len(delays))
	}
	distinct := map[time.Duration]bool{}
	for _, d := range delays {
		if d < 3*time.Millisecond || d > 7*time.Millisecond {
			t.Errorf("delay %v outside 5 ms ± 2 ms", d)
		}
		distinct[d] = true
	}
	if len(distinct) < 2 {
		t.Errorf("the jitter did not vary the delays: %v", delays)
	}
}
