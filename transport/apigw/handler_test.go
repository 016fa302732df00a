package apigw_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/transport/apigw"
)

// fakeHub records what the Handler calls.
type fakeHub struct {
	connectErr error
	connects   []*chatfly.ConnectRequest
	frames     []string
	endpoints  []string
	gone       []string
}

func (h *fakeHub) Connect(ctx context.Context, req *chatfly.ConnectRequest) error {
	h.connects = append(h.connects, req)
	return h.connectErr
}

func (h *fakeHub) Receive(ctx context.Context, connID string, frame []byte) error {
	h.frames = append(h.frames, connID+":"+string(frame))
	rc, _ := apigw.FromContext(ctx)
	h.endpoints = append(h.endpoints, apigw.Endpoint(rc, "eu-west-1"))
	return errors.New("the Hub's own failure, already answered to the client")
}

func (h *fakeHub) Disconnect(ctx context.Context, connID string) error {
	h.gone = append(h.gone, connID)
	return errors.New("storage down")
}

func event(typ, route, conn string) events.APIGatewayWebsocketProxyRequest {
	return events.APIGatewayWebsocketProxyRequest{RequestContext: events.APIGatewayWebsocketProxyRequestContext{
		EventType: typ, RouteKey: route, ConnectionID: conn, Stage: "prod", APIID: "abc123",
		DomainName: "abc123.execute-api.eu-west-1.amazonaws.com",
		Identity:   events.APIGatewayRequestIdentity{SourceIP: "203.0.113.9"},
	}}
}

func errorBody(t *testing.T, resp events.APIGatewayProxyResponse) string {
	t.Helper()
	var b struct{ Code, Message string }
	if err := json.Unmarshal([]byte(resp.Body), &b); err != nil || resp.Headers["Content-Type"] != "application/json" {
		t.Fatalf("error body %q (%v), headers %v", resp.Body, err, resp.Headers)
	}
	return b.Code
}

func TestHandlerConnect(t *testing.T) {
	hub := &fakeHub{}
	h := apigw.NewHandler(hub, &apigw.HandlerOptions{Logger: quiet})
	ev := event(apigw.EventConnect, "$connect", "c1")
	ev.MultiValueHeaders = map[string][]string{"cookie": {"a=1"}, "X-Forwarded-For": {"203.0.113.9", "10.0.0.1"}}
	ev.Headers = map[string]string{"cookie": "a=1"}
	ev.MultiValueQueryStringParameters = map[string][]string{"room": {"lobby"}, "tag": {"a", "b"}}
	resp, err := h.Handle(context.Background(), ev)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("connect: %+v, %v", resp, err)
	}
	cr := hub.connects[0]
	if cr.ConnID != "c1" || cr.RemoteAddr != "203.0.113.9" || cr.Header.Get("Cookie") != "a=1" ||
		len(cr.Header.Values("X-Forwarded-For")) != 2 || cr.Query.Get("room") != "lobby" || len(cr.Query["tag"]) != 2 {
		t.Fatalf("ConnectRequest %+v", cr)
	}
	// Single-valued maps only (as in some test events).
	ev = event(apigw.EventConnect, "$connect", "c2")
	ev.Headers = map[string]string{"Cookie": "b=2"}
	ev.QueryStringParameters = map[string]string{"room": "x"}
	if resp, _ := h.Handle(context.Background(), ev); resp.StatusCode != 200 || hub.connects[1].Header.Get("Cookie") != "b=2" || hub.connects[1].Query.Get("room") != "x" {
		t.Fatalf("connect with single-valued maps: %+v %+v", resp, hub.connects[1])
	}
}

func TestHandlerConnectRejected(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{chatfly.Errorf(chatfly.ErrRejected, "banned"), 403, "rejected"},
		{chatfly.Errorf(chatfly.ErrForbidden, "members only"), 403, "forbidden"},
		{chatfly.Errorf(chatfly.ErrTooMany, "too many connections from your network"), 429, "too_many"},
		{fmt.Errorf("put: %w", chatfly.ErrUnavailable), 503, "unavailable"},
		{errors.New("disk on fire"), 500, "internal"},
		{fmt.Errorf("put: %w", chatfly.ErrConflict), 500, "internal"},
	} {
		h := apigw.NewHandler(&fakeHub{connectErr: tc.err}, &apigw.HandlerOptions{Logger: quiet})
		resp, err := h.Handle(context.Background(), event(apigw.EventConnect, "$connect", "c1"))
		if err != nil || resp.StatusCode != tc.status || errorBody(t, resp) != tc.code {
			t.Errorf("Connect error %v: answered %d %s (%v), want %d %s", tc.err, resp.StatusCode, resp.Body, err, tc.status, tc.code)
		}
	}
}

// A "name" in the query string is checked before the upgrade.
func TestHandlerConnectName(t *testing.T) {
	hub := &fakeHub{}
	h := apigw.NewHandler(hub, &apigw.HandlerOptions{MaxNameRunes: 5, Logger: quiet})
	for name, want := range map[string]int{"Ada": 200, "  ": 403, "Adalbert": 403, "a\u200bb": 403} {
		ev := event(apigw.EventConnect, "$connect", "c")
		ev.QueryStringParameters = map[string]string{"name": name}
		resp, _ := h.Handle(context.Background(), ev)
		if resp.StatusCode != want || (want == 403 && errorBody(t, resp) != "invalid_name") {
			t.Errorf("name %q: %d %s, want %d", name, resp.StatusCode, resp.Body, want)
		}
	}
	if len(hub.connects) != 1 {
		t.Fatalf("the Hub saw %d connects, want only the valid name's", len(hub.connects))
	}
}

func TestHandlerMessagesAndDisconnect(t *testing.T) {
	hub := &fakeHub{}
	h := apigw.NewHandler(hub, &apigw.HandlerOptions{Logger: quiet})
	ev := event(apigw.EventMessage, "$default", "c1")
	ev.Body = `{"action":"ping"}`
	if resp, err := h.Handle(context.Background(), ev); err != nil || resp.StatusCode != 200 {
		t.Fatalf("message: %+v %v (a Hub error must not reach API Gateway)", resp, err)
	}
	ev = event(apigw.EventMessage, "roulette.join", "c1")
	ev.Body = "eyJhY3Rpb24iOiJyb3VsZXR0ZS5qb2luIn0=" // {"action":"roulette.join"}
	ev.IsBase64Encoded = true
	if resp, _ := h.Handle(context.Background(), ev); resp.StatusCode != 200 {
		t.Fatalf("base64 message: %+v", resp)
	}
	ev.Body = "%%%"
	if resp, _ := h.Handle(context.Background(), ev); resp.StatusCode != 400 {
		t.Fatalf("bad base64: %+v", resp)
	}
	if len(hub.frames) != 2 || hub.frames[0] != `c1:{"action":"ping"}` || hub.frames[1] != `c1:{"action":"roulette.join"}` {
		t.Fatalf("frames %q", hub.frames)
	}
	if hub.endpoints[0] != "https://abc123.execute-api.eu-west-1.amazonaws.com/prod" {
		t.Fatalf("the Hub's context carries the endpoint %q", hub.endpoints[0])
	}
	if resp, err := h.Handle(context.Background(), event(apigw.EventDisconnect, "$disconnect", "c1")); err != nil || resp.StatusCode != 200 || len(hub.gone) != 1 {
		t.Fatalf("disconnect: %+v %v %v", resp, err, hub.gone)
	}
	if resp, _ := h.Handle(context.Background(), event("UPGRADE", "$x", "c1")); resp.StatusCode != 400 {
		t.Fatalf("unknown event type: %+v", resp)
	}
	if resp, _ := h.Handle(context.Background(), event(apigw.EventMessage, "$default", "")); resp.StatusCode != 400 {
		t.Fatalf("event without a connection: %+v", resp)
	}
}

// OriginPatterns refuse $connect from other web pages with 403 forbidden
// before the Hub sees them; no Origin, or none configured, passes.
func TestHandlerConnectOrigin(t *testing.T) {
	hub := &fakeHub{}
	h := apigw.NewHandler(hub, &apigw.HandlerOptions{OriginPatterns: []string{"app.example.com", "https://*.example.org"}, Logger: quiet})
	open := apigw.NewHandler(hub, &apigw.HandlerOptions{Logger: quiet})
	for origin, want := range map[string]int{
		"":                                     200,
		"https://app.example.com":              200,
		"http://app.example.com":               200, // a host pattern does not check the scheme
		"https://chat.example.org":             200,
		"http://chat.example.org":              403,
		"https://evil.example":                 403,
		"https://app.example.com.evil.example": 403,
		"null":                                 403,
		"https://abc123.execute-api.eu-west-1.amazonaws.com": 200, // the API's own host
	} {
		ev := event(apigw.EventConnect, "$connect", "c")
		ev.Headers = map[string]string{"Host": "abc123.execute-api.eu-west-1.amazonaws.com"}
		if origin != "" {
			ev.Headers["origin"] = origin
		}
		before := len(hub.connects)
		resp, _ := h.Handle(context.Background(), ev)
		if resp.StatusCode != want || (want == 403 && (errorBody(t, resp) != "forbidden" || len(hub.connects) != before)) {
			t.Errorf("Origin %q: %d %s (the Hub saw %d connects), want %d", origin, resp.StatusCode, resp.Body, len(hub.connects)-before, want)
		}
		if resp, _ := open.Handle(context.Background(), ev); resp.StatusCode != 200 {
			t.Errorf("Origin %q without OriginPatterns: %d, want 200", origin, resp.StatusCode)
		}
	}
}
