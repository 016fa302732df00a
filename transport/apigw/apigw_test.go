package apigw_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/transport/apigw"
	"github.com/chatfly/chatfly/transport/apigw/apigwlocal"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var quiet = slog.New(slog.DiscardHandler)

// gateway is the emulator on 127.0.0.1 with a recording $connect and
// $default, and a management client of it.
type gateway struct {
	t      *testing.T
	emu    *apigwlocal.Server
	srv    *httptest.Server
	client *apigatewaymanagementapi.Client
	ws     string // WebSocket URL

	mu     sync.Mutex
	fault  func(op apigwlocal.Op, id string) *apigwlocal.Fault
	events []events.APIGatewayWebsocketProxyRequest
}

func newGateway(t *testing.T) *gateway {
	g := &gateway{t: t}
	record := apigwlocal.HandlerFunc(func(_ context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		g.mu.Lock()
		g.events = append(g.events, req)
		g.mu.Unlock()
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	})
	g.emu = apigwlocal.New(&apigwlocal.Options{
		Stage:  "prod",
		Routes: map[string]apigwlocal.Handler{"$connect": record, "$default": record},
		Fault: func(op apigwlocal.Op, id string) *apigwlocal.Fault {
			g.mu.Lock()
			f := g.fault
			g.mu.Unlock()
			if f == nil {
				return nil
			}
			return f(op, id)
		},
		Logger: quiet,
	})
	g.srv = httptest.NewServer(g.emu)
	tr := &http.Transport{}
	g.client = apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		HTTPClient:  &http.Client{Transport: tr},
	})
	g.ws = "ws" + strings.TrimPrefix(g.srv.URL, "http") + "/prod"
	t.Cleanup(func() {
		_ = g.emu.Close()
		g.srv.Close()
		tr.CloseIdleConnections()
	})
	return g
}

func (g *gateway) setFault(f func(op apigwlocal.Op, id string) *apigwlocal.Fault) {
	g.mu.Lock()
	g.fault = f
	g.mu.Unlock()
}

// endpoint is the management API URL of the emulator.
func (g *gateway) endpoint() string { return g.srv.URL + "/prod" }

// dial opens a raw WebSocket and returns it with its connection id.
func (g *gateway) dial() (*websocket.Conn, string) {
	g.t.Helper()
	before := ids(g.emu)
	c, _, err := websocket.Dial(ctx(g.t), g.ws, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { c.CloseNow() })
	// The emulator registers a connection right after the upgrade.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		for id := range ids(g.emu) {
			if !before[id] {
				return c, id
			}
		}
	}
	g.t.Fatal("no new connection")
	return nil, ""
}

func ids(emu *apigwlocal.Server) map[string]bool {
	m := make(map[string]bool)
	for _, c := range emu.Connections() {
		m[c.ID] = true
	}
	return m
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_, b, err := c.Read(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSendDeliversOverTheManagementAPI(t *testing.T) {
	g := newGateway(t)
	tr := apigw.New(g.client, &apigw.Options{Endpoint: g.endpoint(), Logger: quiet})
	c, id := g.dial()
	if err := tr.Send(ctx(t), id, []byte(`{"type":"pong"}`)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != `{"type":"pong"}` {
		t.Fatalf("client read %q", got)
	}
}

// The endpoint comes from the event in the context when not configured:
// the emulator's DomainName is a loopback address, called over http.
func TestEndpointFromTheEvent(t *testing.T) {
	g := newGateway(t)
	tr := apigw.New(g.client, &apigw.Options{Logger: quiet})
	c, id := g.dial()
	g.mu.Lock()
	rc := g.events[len(g.events)-1].RequestContext
	g.mu.Unlock()
	if rc.EventType != "CONNECT" || rc.ConnectionID != id || rc.Stage != "prod" || rc.DomainName != strings.TrimPrefix(g.srv.URL, "http://") {
		t.Fatalf("$connect event context %+v", rc)
	}
	if err := tr.Send(ctx(t), id, []byte("x")); err == nil || !strings.Contains(err.Error(), "no management API endpoint") {
		t.Fatalf("Send without an event in the context: %v", err)
	}
	if err := tr.Send(apigw.NewContext(ctx(t), rc), id, []byte("via event")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != "via event" {
		t.Fatalf("client read %q", got)
	}
}

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct {
		rc     events.APIGatewayWebsocketProxyRequestContext
		region string
		want   string
	}{
		{events.APIGatewayWebsocketProxyRequestContext{DomainName: "abc123.execute-api.eu-west-1.amazonaws.com", Stage: "prod", APIID: "abc123"}, "eu-west-1",
			"https://abc123.execute-api.eu-west-1.amazonaws.com/prod"},
		{events.APIGatewayWebsocketProxyRequestContext{DomainName: "abc.execute-api.cn-north-1.amazonaws.com.cn", Stage: "v1"}, "",
			"https://abc.execute-api.cn-north-1.amazonaws.com.cn/v1"},
		{events.APIGatewayWebsocketProxyRequestContext{DomainName: "127.0.0.1:8080", Stage: "local"}, "us-east-1", "http://127.0.0.1:8080/local"},
		{events.APIGatewayWebsocketProxyRequestContext{DomainName: "localhost:9000", Stage: "local"}, "", "http://localhost:9000/local"},
		{events.APIGatewayWebsocketProxyRequestContext{DomainName: "[::1]:9000", Stage: "local"}, "", "http://[::1]:9000/local"},
		// A custom domain: the API's own endpoint, from its id and the region.
		{events.APIGatewayWebsocketProxyRequestContext{DomainName: "chat.example.com", Stage: "prod", APIID: "abc123"}, "eu-west-1",
			"https://abc123.execute-api.eu-west-1.amazonaws.com/prod"},
		{events.APIGatewayWebsocketProxyRequestContext{DomainName: "chat.example.com", Stage: "prod", APIID: "abc123"}, "",
			"https://chat.example.com/prod"},
		{events.APIGatewayWebsocketProxyRequestContext{DomainName: "chat.example.com"}, "eu-west-1", ""},
	} {
		if got := apigw.Endpoint(tc.rc, tc.region); got != tc.want {
			t.Errorf("Endpoint(%s, %s, %s, %q) = %q, want %q", tc.rc.DomainName, tc.rc.Stage, tc.rc.APIID, tc.region, got, tc.want)
		}
	}
}

// A 410 — a typed GoneException or a bare 410 — is chatfly.ErrGone, with
// the SDK's error still in the chain.
func TestGone(t *testing.T) {
	g := newGateway(t)
	tr := apigw.New(g.client, &apigw.Options{Endpoint: g.endpoint(), Logger: quiet})
	err := tr.Send(ctx(t), "Z4Ym1dC3oAMCJFw=", []byte("x"))
	var gone *types.GoneException
	if !errors.Is(err, chatfly.ErrGone) || !errors.As(err, &gone) || chatfly.CodeOf(err) != "gone" {
		t.Fatalf("Send to an unknown connection: %v", err)
	}
	_, id := g.dial()
	g.setFault(func(apigwlocal.Op, string) *apigwlocal.Fault { return &apigwlocal.Fault{Status: 410} })
	if err := tr.Send(ctx(t), id, []byte("x")); !errors.Is(err, chatfly.ErrGone) || errors.As(err, &gone) {
		t.Fatalf("Send answered a bare 410: %v", err)
	}
	gone2, err := tr.SendMany(ctx(t), []string{id, "a", "b"}, []byte("x"))
	if err != nil || len(gone2) != 3 {
		t.Fatalf("SendMany to gone connections: %v, %v", gone2, err)
	}
	// Closing a gone connection is not an error.
	if err := tr.Close(ctx(t), id, chatfly.CloseNormal, ""); err != nil {
		t.Fatal(err)
	}
}

// Throttling (LimitExceededException, or a bare 429) is retried with
// backoff until the call goes through, or reported as ErrUnavailable after
// MaxAttempts.
func TestThrottlingIsRetried(t *testing.T) {
	g := newGateway(t)
	tr := apigw.New(g.client, &apigw.Options{Endpoint: g.endpoint(), MaxAttempts: 4, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Logger: quiet})
	c, id := g.dial()
	var calls atomic.Int32
	g.setFault(func(op apigwlocal.Op, _ string) *apigwlocal.Fault {
		switch calls.Add(1) {
		case 1:
			return &apigwlocal.Fault{Status: 429, ErrorType: "LimitExceededException"}
		case 2:
			return &apigwlocal.Fault{Status: 429}
		case 3:
			return &apigwlocal.Fault{Status: 503}
		}
		return nil
	})
	if err := tr.Send(ctx(t), id, []byte("after retries")); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 4 {
		t.Fatalf("%d calls, want 4", n)
	}
	if got := read(t, c); got != "after retries" {
		t.Fatalf("client read %q", got)
	}

	calls.Store(0)
	g.setFault(func(apigwlocal.Op, string) *apigwlocal.Fault {
		calls.Add(1)
		return &apigwlocal.Fault{Status: 429, ErrorType: "LimitExceededException"}
	})
	err := tr.Send(ctx(t), id, []byte("never"))
	var limit *types.LimitExceededException
	if !errors.Is(err, chatfly.ErrUnavailable) || !errors.As(err, &limit) {
		t.Fatalf("Send throttled every time: %v", err)
	}
	if n := calls.Load(); n != 4 {
		t.Fatalf("%d calls, want MaxAttempts = 4", n)
	}
}

// A full client buffer in the emulator answers 429 LimitExceededException
// for real, as API Gateway does.
func TestClientBufferFull(t *testing.T) {
	g := newGateway(t)
	emu := apigwlocal.New(&apigwlocal.Options{Stage: "prod", QueueSize: 1, Logger: quiet})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { _ = emu.Close(); srv.Close() })
	c, _, err := websocket.Dial(ctx(t), "ws"+strings.TrimPrefix(srv.URL, "http")+"/prod", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var id string
	for id == "" {
		if cs := emu.Connections(); len(cs) == 1 {
			id = cs[0].ID
		}
		time.Sleep(time.Millisecond)
	}
	tr := apigw.New(g.client, &apigw.Options{Endpoint: srv.URL + "/prod", MaxAttempts: 1, Logger: quiet})
	// The client never reads: the socket buffers fill, then the queue.
	big := []byte(strings.Repeat("x", 100<<10))
	var last error
	for i := 0; i < 200 && last == nil; i++ {
		last = tr.Send(ctx(t), id, big)
	}
	var limit *types.LimitExceededException
	if !errors.Is(last, chatfly.ErrUnavailable) || !errors.As(last, &limit) {
		t.Fatalf("posting to a client that does not read: %v", last)
	}
}

func TestPayloadLimit(t *testing.T) {
	g := newGateway(t)
	var calls atomic.Int32
	g.setFault(func(apigwlocal.Op, string) *apigwlocal.Fault { calls.Add(1); return nil })
	tr := apigw.New(g.client, &apigw.Options{Endpoint: g.endpoint(), Logger: quiet})
	c, id := g.dial()
	err := tr.Send(ctx(t), id, make([]byte, apigw.MaxPayloadBytes+1))
	if !errors.Is(err, chatfly.ErrTooLarge) || !strings.Contains(err.Error(), "131073 bytes") || calls.Load() != 0 {
		t.Fatalf("oversized Send: %v (%d calls)", err, calls.Load())
	}
	if _, err := tr.SendMany(ctx(t), []string{id, id}, make([]byte, apigw.MaxPayloadBytes+1)); !errors.Is(err, chatfly.ErrTooLarge) {
		t.Fatalf("oversized SendMany: %v", err)
	}
	exact := []byte(strings.Repeat("y", apigw.MaxPayloadBytes))
	if err := tr.Send(ctx(t), id, exact); err != nil {
		t.Fatalf("Send of exactly 128 KB: %v", err)
	}
	c.SetReadLimit(apigw.MaxPayloadBytes)
	if got := read(t, c); len(got) != apigw.MaxPayloadBytes {
		t.Fatalf("client read %d bytes", len(got))
	}
	// The emulator itself refuses more, with 413 PayloadTooLargeException.
	_, err = g.client.PostToConnection(ctx(t), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: make([]byte, apigw.MaxPayloadBytes+1)},
		func(o *apigatewaymanagementapi.Options) { o.BaseEndpoint = new(g.endpoint()) })
	var ptl *types.PayloadTooLargeException
	if !errors.As(err, &ptl) {
		t.Fatalf("emulator took an oversized post: %v", err)
	}
}

// SendMany delivers to every connection, at most Parallelism calls at
// once, and reports the gone ones.
func TestSendManyBoundedParallel(t *testing.T) {
	g := newGateway(t)
	var inflight, peak atomic.Int32
	g.setFault(func(op apigwlocal.Op, _ string) *apigwlocal.Fault {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inflight.Add(-1)
		return nil
	})
	tr := apigw.New(g.client, &apigw.Options{Endpoint: g.endpoint(), Parallelism: 3, Logger: quiet})
	var conns []*websocket.Conn
	var targets []string
	for range 8 {
		c, id := g.dial()
		conns = append(conns, c)
		targets = append(targets, id)
	}
	targets = append(targets, "gone-1", "gone-2")
	gone, err := tr.SendMany(ctx(t), targets, []byte("all"))
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 2 || !strings.HasPrefix(gone[0], "gone-") || !strings.HasPrefix(gone[1], "gone-") {
		t.Fatalf("gone %v", gone)
	}
	for _, c := range conns {
		if got := read(t, c); got != "all" {
			t.Fatalf("read %q", got)
		}
	}
	if p := peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak parallelism %d, want 2..3", p)
	}
}

// Close posts the close code in a "close" frame, then deletes the
// connection: the client sees the frame, then the socket closes.
func TestClose(t *testing.T) {
	g := newGateway(t)
	tr := apigw.New(g.client, &apigw.Options{Endpoint: g.endpoint(), Logger: quiet})
	c, id := g.dial()
	if err := tr.Close(ctx(t), id, chatfly.CloseReplaced, "replaced"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != `{"type":"close","code":4001,"reason":"replaced"}` {
		t.Fatalf("close frame %q", got)
	}
	_, _, err := c.Read(ctx(t))
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after DeleteConnection the client read %v", err)
	}
	if err := tr.Send(ctx(t), id, []byte("x")); !errors.Is(err, chatfly.ErrGone) {
		t.Fatalf("Send after Close: %v", err)
	}
}

// Other failures keep their cause and map to nothing in particular.
func TestForbidden(t *testing.T) {
	g := newGateway(t)
	tr := apigw.New(g.client, &apigw.Options{Endpoint: g.endpoint(), Logger: quiet})
	_, id := g.dial()
	g.setFault(func(apigwlocal.Op, string) *apigwlocal.Fault {
		return &apigwlocal.Fault{Status: 403, ErrorType: "ForbiddenException"}
	})
	err := tr.Send(ctx(t), id, []byte("x"))
	var fe *types.ForbiddenException
	if !errors.As(err, &fe) || errors.Is(err, chatfly.ErrGone) || errors.Is(err, chatfly.ErrUnavailable) {
		t.Fatalf("forbidden: %v", err)
	}
}

// The Transport honours a cancelled context and returns its error.
func TestContextCancelled(t *testing.T) {
	g := newGateway(t)
	tr := apigw.New(g.client, &apigw.Options{Endpoint: g.endpoint(), Logger: quiet})
	_, id := g.dial()
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.Send(cctx, id, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context: %v", err)
	}
}

// A connection that keeps answering 429 does not delay the others: every
// connection gets its first post before the throttled one is retried, and
// the fan-out ends within RetryBudget. The throttled one is reported gone
// and closed in the background: once its buffer drains it gets the close
// frame with 4000, then the socket closes.
func TestSlowConsumer(t *testing.T) {
	g := newGateway(t)
	tr := apigw.New(g.client, &apigw.Options{Endpoint: g.endpoint(), BaseBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		RetryBudget: 200 * time.Millisecond, MaxAttempts: 100, Parallelism: 1, Logger: quiet})
	slow, slowID := g.dial()
	var readers []*websocket.Conn
	targets := []string{slowID}
	for range 3 {
		c, id := g.dial()
		readers = append(readers, c)
		targets = append(targets, id)
	}
	var (
		mu      sync.Mutex
		calls   []string
		stalled = true
	)
	g.setFault(func(op apigwlocal.Op, id string) *apigwlocal.Fault {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, id)
		if id == slowID && stalled {
			return &apigwlocal.Fault{Status: 429, ErrorType: "LimitExceededException"}
		}
		return nil
	})
	gone, err := tr.SendMany(ctx(t), targets, []byte("hi"))
	if err != nil || len(gone) != 1 || gone[0] != slowID {
		t.Fatalf("SendMany: gone %v, err %v; want the slow one gone", gone, err)
	}
	mu.Lock()
	first := calls[:len(targets)]
	retries := calls[len(targets):]
	stalled = false // the client reads again
	mu.Unlock()
	if !slices.Equal(first, targets) {
		t.Fatalf("first posts %v, want one to each of %v in order (Parallelism 1)", first, targets)
	}
	if len(retries) == 0 || slices.ContainsFunc(retries, func(id string) bool { return id != slowID }) {
		t.Fatalf("retries %v, want the slow one's only", retries)
	}
	for _, c := range readers {
		if got := read(t, c); got != "hi" {
			t.Fatalf("reader got %q", got)
		}
	}
	if got := read(t, slow); got != `{"type":"close","code":4000,"reason":"too slow"}` {
		t.Fatalf("slow consumer got %q", got)
	}
	if _, _, err := slow.Read(ctx(t)); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("slow consumer after the close frame: %v", err)
	}
	tr.Wait()
}

// With NewHTTPClient, a fan-out at full parallelism reuses the connections
// of the previous one: no new connection to the management API (the SDK's
// default client keeps 10 idle connections and opens new ones for the
// rest every time).
func TestHTTPClientKeepsParallelismIdle(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client *awshttp.BuildableClient
		fresh  func(n int64) bool
	}{
		{"NewHTTPClient", apigw.NewHTTPClient(0), func(n int64) bool { return n == 0 }},
		{"SDK default", awshttp.NewBuildableClient(), func(n int64) bool { return n > 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t)
			var dials atomic.Int64
			hc := tc.client.WithTransportOptions(func(tr *http.Transport) {
				dial := tr.DialContext
				tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					dials.Add(1)
					return dial(ctx, network, addr)
				}
			})
			client := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
				Region:      "eu-west-1",
				Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
				HTTPClient:  hc,
			})
			// Each post takes a while, so that all 16 calls are in flight at once.
			g.setFault(func(apigwlocal.Op, string) *apigwlocal.Fault { time.Sleep(20 * time.Millisecond); return nil })
			tr := apigw.New(client, &apigw.Options{Endpoint: g.endpoint(), Logger: quiet})
			targets := make([]string, apigw.DefaultParallelism)
			for i := range targets {
				targets[i] = fmt.Sprintf("gone-%d", i)
			}
			if _, err := tr.SendMany(ctx(t), targets, []byte("x")); err != nil {
				t.Fatal(err)
			}
			warm := dials.Load()
			if _, err := tr.SendMany(ctx(t), targets, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if n := dials.Load() - warm; !tc.fresh(n) {
				t.Fatalf("the second fan-out of %d opened %d new connections (first: %d)", len(targets), n, warm)
			}
			t.Logf("new connections: first fan-out %d, second %d", warm, dials.Load()-warm)
		})
	}
}
