package apigwlocal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/chatfly/chatfly/internal/delay"
)

// MaxMessageBytes is API Gateway's limit on one WebSocket message, in
// either direction: 128 KB.
const MaxMessageBytes = 128 << 10

// Defaults of [Options].
const (
	DefaultStage              = "local"
	DefaultAPIID              = "local"
	DefaultIdleTimeout        = 10 * time.Minute
	DefaultMaxDuration        = 2 * time.Hour
	DefaultIntegrationTimeout = 29 * time.Second
	DefaultQueueSize          = 256
	DefaultMaxConcurrency     = 128
	DefaultWriteTimeout       = 10 * time.Second
)

// Route keys of API Gateway's predefined routes.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
	RouteDefault    = "$default"
)

// Handler is the integration of a route: a Lambda handler for API Gateway
// WebSocket events. apigw.Handler's Handle method is one.
type Handler interface {
	Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return f(ctx, req)
}

// Op names a management API operation, for [Options].Fault.
type Op string

// The management API operations.
const (
	OpPost   Op = "PostToConnection"
	OpGet    Op = "GetConnection"
	OpDelete Op = "DeleteConnection"
)

// Fault is an error answer of the management API that Options.Fault
// injects.
type Fault struct {
	// Status is the HTTP status (410, 429, 500, ...).
	Status int
	// ErrorType, if not empty, is sent in the x-amzn-ErrorType header
	// ("GoneException", "LimitExceededException", ...); empty sends a bare
	// status, as a proxy in between might.
	ErrorType string
}

// Options configures a [Server]. A nil *Options, and every zero field,
// means the documented default; [New] copies the Options.
type Options struct {
	// Stage is the stage name: the first path segment of the WebSocket
	// and management URLs. Default DefaultStage.
	Stage string
	// APIID is the API id put into events. Default DefaultAPIID.
	APIID string
	// Routes are the integrations by route key: $connect, $disconnect,
	// $default and custom keys matched against the body's "action".
	// A missing $connect accepts every connection; a missing $disconnect
	// is not called.
	Routes map[string]Handler

	// IdleTimeout closes a connection with no message in either direction
	// for that long. Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxDuration closes a connection open for that long. Default
	// DefaultMaxDuration.
	MaxDuration time.Duration
	// IntegrationTimeout bounds one handler call (its context's deadline).
	// Default DefaultIntegrationTimeout.
	IntegrationTimeout time.Duration
	// QueueSize is how many messages may wait to be written to one client
	// before PostToConnection answers 429. Default DefaultQueueSize.
	QueueSize int
	// MaxConcurrency bounds the handler calls for messages running at once
	// over all connections (Lambda's concurrency); a connection whose
	// message finds no slot stops reading until one frees. Default
	// DefaultMaxConcurrency.
	MaxConcurrency int
	// Ordered makes the emulator handle one connection's messages one at a
	// time, in order. Default false: concurrently, as API Gateway does.
	Ordered bool
	// Lenient turns off the rules where the emulator is as strict as API
	// Gateway and a test needs it kinder (see the package doc): binary
	// messages are passed to the integration base64-encoded, frames may
	// be up to MaxMessageBytes, a $connect refusal's headers and body
	// reach the client, and $disconnect waits for the connection's
	// messages in flight. Default false: strict.
	Lenient bool

	// OriginPatterns, if set, are the web page origins allowed to connect,
	// checked on the Origin header before $connect with the rules of
	// wstransport.Options.OriginPatterns (no Origin, or the emulator's own
	// host, always passes); others get 403. Default: any origin, as API
	// Gateway (the Lambda handler checks it: apigw.HandlerOptions).
	OriginPatterns []string

	// Fault, if set, is asked before every management API call; a non-nil
	// Fault is answered instead of doing the call.
	Fault func(op Op, connID string) *Fault

	// PostLatency delays every PostToConnection by that long, plus a
	// uniform jitter in [-PostJitter, +PostJitter], before the emulator
	// looks the connection up and queues the message: the time a real API
	// Gateway takes per call (about 5 ms in region), which a Lambda pays
	// once per recipient of a fan-out. Default 0: no delay.
	PostLatency time.Duration
	// PostJitter spreads the delays of PostLatency (a delay below zero is
	// none). Default 0.
	PostJitter time.Duration
	// Sleep, if set, waits the delays of PostLatency instead of a timer
	// (tests use it to see them without waiting). It must return an error
	// when ctx, the request's, ends first; the call is then dropped.
	Sleep func(ctx context.Context, d time.Duration) error

	// NewConnID returns the id of a new connection; ids must be unique.
	// Default: 11 random bytes in standard base64 (16 characters).
	NewConnID func() string

	// Logger receives the emulator's logs. Default: slog.Default().
	Logger *slog.Logger
}

// Connection describes an open connection.
type Connection struct {
	ID          string
	ConnectedAt time.Time
	SourceIP    string
	UserAgent   string
	Header      http.Header
	Query       url.Values
}

// Server is the emulator: an http.Handler for the WebSocket endpoint and the
// management API of one stage. It is safe for concurrent use.
type Server struct {
	opts Options
	sem  chan struct{} // handler slots for messages

	mu     sync.Mutex
	conns  map[string]*conn
	closed bool
	wg     sync.WaitGroup // WebSocket requests and background closes
}

// New returns a Server configured by opts.
func New(opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Stage == "" {
		o.Stage = DefaultStage
	}
	if o.APIID == "" {
		o.APIID = DefaultAPIID
	}
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.MaxDuration, DefaultMaxDuration)
	def(&o.IntegrationTimeout, DefaultIntegrationTimeout)
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	if o.Sleep == nil {
		o.Sleep = delay.Sleep
	}
	if o.NewConnID == nil {
		o.NewConnID = newConnID
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	routes := make(map[string]Handler, len(o.Routes))
	for k, h := range o.Routes {
		routes[k] = h
	}
	o.Routes = routes
	return &Server{opts: o, sem: make(chan struct{}, o.MaxConcurrency), conns: make(map[string]*conn)}
}

func newConnID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Stage returns the stage name.
func (s *Server) Stage() string { return s.opts.Stage }

// ServeHTTP serves GET /{stage} (the WebSocket endpoint) and
// /{stage}/@connections/{id} (the management API); anything else is 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/"+s.opts.Stage)
	switch {
	case !ok:
		http.NotFound(w, r)
	case rest == "" || rest == "/":
		s.serveWebSocket(w, r)
	case strings.HasPrefix(rest, "/@connections/"):
		id, err := url.PathUnescape(strings.TrimPrefix(rest, "/@connections/"))
		if err != nil || id == "" {
			http.NotFound(w, r)
			return
		}
		s.serveManagement(w, r, id)
	default:
		http.NotFound(w, r)
	}
}

// Connections returns the open connections (past $connect), in no
// particular order.
func (s *Server) Connections() []Connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Connection, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c.info)
	}
	return out
}

// Drop loses the connection id without calling $disconnect, as API Gateway
// sometimes does: the socket is cut (the client sees 1006) and the
// management API answers 410 for it from now on. It reports whether the
// connection was open.
func (s *Server) Drop(id string) bool {
	c := s.take(id)
	if c == nil {
		return false
	}
	c.dropped.Store(true)
	c.ws.CloseNow()
	return true
}

// Close closes every connection with 1001 "Going away", calls their
// $disconnect, and waits for everything the Server started to end. New
// WebSocket requests are refused with 503 from then on. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for id, c := range s.conns {
		conns = append(conns, c)
		delete(s.conns, id)
	}
	s.mu.Unlock()
	for _, c := range conns {
		s.closeConn(c, websocket.StatusGoingAway, "Going away")
	}
	s.wg.Wait()
	return nil
}

// take removes the connection id from the open ones and returns it, or
// nil if it was not open.
func (s *Server) take(id string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conns[id]
	delete(s.conns, id)
	return c
}

func (s *Server) lookup(id string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

// closeConn closes c's socket with code and reason once the messages
// posted before are written, in the background (the closing handshake may
// wait for the client); its reader then ends and calls $disconnect.
func (s *Server) closeConn(c *conn, code websocket.StatusCode, reason string) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	c.code, c.reason = code, reason
	c.mu.Unlock()
	s.wg.Go(func() {
		t := time.NewTimer(DefaultWriteTimeout)
		defer t.Stop()
		select {
		case c.queue <- nil: // the writer closes after the queued messages
		case <-c.done:
		case <-t.C: // the client does not read: close now
			_ = c.ws.Close(code, reason)
		}
	})
}

// call invokes the integration of a route with a bounded context. A panic
// in the handler is an error, as the Lambda runtime reports it.
func (s *Server) call(ctx context.Context, h Handler, ev events.APIGatewayWebsocketProxyRequest) (resp events.APIGatewayProxyResponse, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.IntegrationTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("apigwlocal: handler of %s panicked: %v", ev.RequestContext.RouteKey, p)
		}
	}()
	return h.Handle(ctx, ev)
}

// event returns an event of c with the fields every event has.
func (s *Server) event(c *conn, eventType, routeKey string) events.APIGatewayWebsocketProxyRequest {
	now := time.Now()
	rid := newRequestID()
	return events.APIGatewayWebsocketProxyRequest{
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			Stage:             s.opts.Stage,
			RequestID:         rid,
			ExtendedRequestID: rid,
			APIID:             s.opts.APIID,
			ConnectedAt:       c.info.ConnectedAt.UnixMilli(),
			ConnectionID:      c.info.ID,
			DomainName:        c.domain,
			EventType:         eventType,
			RouteKey:          routeKey,
			MessageDirection:  "IN",
			RequestTime:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch:  now.UnixMilli(),
			Identity: events.APIGatewayRequestIdentity{
				SourceIP:  c.info.SourceIP,
				UserAgent: c.info.UserAgent,
			},
		},
	}
}

// sourceIP returns the host part of a request's remote address.
func sourceIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// gatewayError is the JSON body API Gateway sends to a client when the
// integration failed or no route matched.
func gatewayError(message, connID, requestID string) []byte {
	b, _ := json.Marshal(struct {
		Message      string `json:"message"`
		ConnectionID string `json:"connectionId"`
		RequestID    string `json:"requestId"`
	}{message, connID, requestID})
	return b
}

var errQueueFull = errors.New("apigwlocal: client side buffer is full")
