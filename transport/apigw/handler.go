package apigw

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/origin"
)

// Hub is what a [Handler] feeds with the events of API Gateway.
// *chatfly.Hub implements it.
type Hub interface {
	Connect(ctx context.Context, req *chatfly.ConnectRequest) error
	Receive(ctx context.Context, connID string, frame []byte) error
	Disconnect(ctx context.Context, connID string) error
}

// HandlerOptions configures a [Handler]. A nil *HandlerOptions, and every
// zero field, means the documented default.
type HandlerOptions struct {
	// MaxNameRunes is the longest display name accepted in the "name"
	// query parameter of $connect. Default chatfly.DefaultMaxNameRunes;
	// set it to the Hub's Options.MaxNameRunes if that differs.
	MaxNameRunes int
	// OriginPatterns are the origins of the web pages allowed to connect,
	// checked in $connect on the Origin header before the Hub sees the
	// connection, with the rules of wstransport.Options.OriginPatterns
	// (coder/websocket's): "app.example.com", "*.example.com", or
	// "https://app.example.com" to also require the scheme. A connection
	// without Origin (not from a browser: bots, the Go client) is allowed,
	// and so is one whose Origin has the API's own host. A refused one gets
	// 403 {"code":"forbidden"}, which makes API Gateway refuse the
	// handshake. Default none: any origin may connect, as API Gateway
	// allows by itself; set it to the app's origin whenever the Identify
	// hook trusts cookies, so that another site's page cannot use a
	// visitor's cookies to chat as them.
	OriginPatterns []string
	// Logger receives the Handler's logs. Default: slog.Default().
	Logger *slog.Logger
}

// Handler turns API Gateway WebSocket events into calls of a Hub. It is safe
// for concurrent use; create one per Lambda execution environment, with the
// Hub, and pass its Handle method to lambda.Start.
type Handler struct {
	hub  Hub
	opts HandlerOptions
}

// NewHandler returns a Handler that feeds hub.
func NewHandler(hub Hub, opts *HandlerOptions) *Handler {
	var o HandlerOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxNameRunes <= 0 {
		o.MaxNameRunes = chatfly.DefaultMaxNameRunes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Handler{hub: hub, opts: o}
}

// Event types of API Gateway WebSocket events (RequestContext.EventType).
const (
	EventConnect    = "CONNECT"
	EventMessage    = "MESSAGE"
	EventDisconnect = "DISCONNECT"
)

// Handle serves one event of any route (see the package doc). Its error is
// always nil: every outcome is a status code. A $connect that the Hub
// rejected gets 403 (429 for too_many: a per-address connection limit, keyed
// on the event's sourceIp), one it could not record (storage down) 500 or 503;
// either makes API Gateway refuse the WebSocket handshake.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := req.RequestContext
	ctx = NewContext(ctx, rc)
	if rc.ConnectionID == "" {
		return errorResponse(http.StatusBadRequest, chatfly.Errorf(chatfly.ErrBadRequest, "event without a connection id")), nil
	}
	switch rc.EventType {
	case EventConnect:
		return h.connect(ctx, &req), nil
	case EventDisconnect:
		if err := h.hub.Disconnect(ctx, rc.ConnectionID); err != nil {
			// Best effort: the connection expires from Storage anyway.
			h.opts.Logger.WarnContext(ctx, "apigw: disconnect", "conn", rc.ConnectionID, "err", err)
		}
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	case EventMessage:
		body := []byte(req.Body)
		if req.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(req.Body)
			if err != nil {
				return errorResponse(http.StatusBadRequest, chatfly.Errorf(chatfly.ErrBadRequest, "body is not valid base64")), nil
			}
			body = b
		}
		// The Hub has answered the client, with an error frame if need be,
		// and logged what went wrong; an error here would only make API
		// Gateway send its own, non-protocol error message.
		_ = h.hub.Receive(ctx, rc.ConnectionID, body)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	return errorResponse(http.StatusBadRequest, chatfly.Errorf(chatfly.ErrBadRequest, "unknown event type "+rc.EventType)), nil
}

// connect serves $connect.
func (h *Handler) connect(ctx context.Context, req *events.APIGatewayWebsocketProxyRequest) events.APIGatewayProxyResponse {
	cr := &chatfly.ConnectRequest{
		ConnID:     req.RequestContext.ConnectionID,
		Header:     headerOf(req),
		Query:      queryOf(req),
		RemoteAddr: req.RequestContext.Identity.SourceIP,
	}
	if len(h.opts.OriginPatterns) > 0 && !origin.Allowed(cr.Header.Get("Origin"), cr.Header.Get("Host"), h.opts.OriginPatterns) {
		return errorResponse(http.StatusForbidden, chatfly.Errorf(chatfly.ErrForbidden, "origin not allowed"))
	}
	if name, ok := cr.Query["name"]; ok && len(name) > 0 {
		if _, err := chatfly.CleanName(name[0], h.opts.MaxNameRunes); err != nil {
			return errorResponse(http.StatusForbidden, err)
		}
	}
	err := h.hub.Connect(ctx, cr)
	if err == nil {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}
	}
	if errors.Is(err, chatfly.ErrTooMany) {
		return errorResponse(http.StatusTooManyRequests, err) // a per-address limit
	}
	if rejected(err) {
		return errorResponse(http.StatusForbidden, err)
	}
	h.opts.Logger.ErrorContext(ctx, "apigw: connect", "conn", cr.ConnID, "err", err)
	if errors.Is(err, chatfly.ErrUnavailable) {
		return errorResponse(http.StatusServiceUnavailable, chatfly.ErrUnavailable)
	}
	return errorResponse(http.StatusInternalServerError, chatfly.ErrInternal)
}

// errorResponse answers with {"code":...,"message":...}, the body the
// protocol gives a refused connection.
func errorResponse(status int, err error) events.APIGatewayProxyResponse {
	var e *chatfly.Error
	if !errors.As(err, &e) {
		e = chatfly.ErrInternal
	}
	body, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	return events.APIGatewayProxyResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(body),
	}
}

// headerOf returns the request headers of a $connect event.
func headerOf(req *events.APIGatewayWebsocketProxyRequest) http.Header {
	h := make(http.Header, len(req.Headers))
	if len(req.MultiValueHeaders) > 0 {
		for k, vs := range req.MultiValueHeaders {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		return h
	}
	for k, v := range req.Headers {
		h.Set(k, v)
	}
	return h
}

// queryOf returns the query string parameters of a $connect event.
func queryOf(req *events.APIGatewayWebsocketProxyRequest) url.Values {
	q := make(url.Values, len(req.QueryStringParameters))
	if len(req.MultiValueQueryStringParameters) > 0 {
		for k, vs := range req.MultiValueQueryStringParameters {
			q[k] = append(q[k], vs...)
		}
		return q
	}
	for k, v := range req.QueryStringParameters {
		q.Set(k, v)
	}
	return q
}

// rejected reports whether an error of Hub.Connect refuses the connection
// (the identity hook said no) rather than reports a failure of the server.
func rejected(err error) bool {
	var e *chatfly.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, server := range []error{chatfly.ErrInternal, chatfly.ErrUnavailable, chatfly.ErrConflict, chatfly.ErrTooLarge, chatfly.ErrGone} {
		if errors.Is(err, server) {
			return false
		}
	}
	return true
}
