package apigwlocal

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/chatfly/chatfly/internal/origin"
)

// conn is one WebSocket connection.
type conn struct {
	info   Connection
	domain string
	ws     *websocket.Conn
	frames *frameMeter   // the client's frames, as read from the socket
	queue  chan []byte   // messages to write, from PostToConnection; nil: close
	done   chan struct{} // closed when the socket has ended

	lastActive atomic.Int64 // Unix nanoseconds of the last message either way
	closing    atomic.Bool  // the server started closing it
	dropped    atomic.Bool  // lost without $disconnect (Drop)

	mu     sync.Mutex
	code   websocket.StatusCode // the server's close code, once closing
	reason string
}

func (c *conn) touch() { c.lastActive.Store(time.Now().UnixNano()) }

// enqueue queues a message for the writer, or reports a full queue or a
// closed connection.
func (c *conn) enqueue(msg []byte) error {
	select {
	case <-c.done:
		return errGone
	default:
	}
	select {
	case c.queue <- msg:
		return nil
	default:
		return errQueueFull
	}
}

var errGone = errors.New("apigwlocal: connection is gone")

// serveWebSocket runs one connection: $connect, the upgrade, the messages
// and $disconnect.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "emulator closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "WebSocket upgrade required", http.StatusUpgradeRequired)
		return
	}
	if len(s.opts.OriginPatterns) > 0 && !origin.Allowed(r.Header.Get("Origin"), r.Host, s.opts.OriginPatterns) {
		writeJSON(w, http.StatusForbidden, "", map[string]string{"message": "Forbidden"})
		return
	}
	now := time.Now()
	c := &conn{
		info: Connection{
			ID:          s.opts.NewConnID(),
			ConnectedAt: now,
			SourceIP:    sourceIP(r),
			UserAgent:   r.UserAgent(),
			Header:      r.Header.Clone(),
			Query:       r.URL.Query(),
		},
		domain: r.Host,
		queue:  make(chan []byte, s.opts.QueueSize),
		done:   make(chan struct{}),
	}
	c.touch()

	if h := s.opts.Routes[RouteConnect]; h != nil {
		ev := s.event(c, "CONNECT", RouteConnect)
		ev.Headers = make(map[string]string, len(r.Header))
		ev.MultiValueHeaders = make(map[string][]string, len(r.Header))
		for k, vs := range r.Header {
			ev.Headers[k] = strings.Join(vs, ",")
			ev.MultiValueHeaders[k] = append([]string(nil), vs...)
		}
		if len(c.info.Query) > 0 {
			ev.QueryStringParameters = make(map[string]string, len(c.info.Query))
			ev.MultiValueQueryStringParameters = make(map[string][]string, len(c.info.Query))
			for k, vs := range c.info.Query {
				ev.QueryStringParameters[k] = vs[len(vs)-1]
				ev.MultiValueQueryStringParameters[k] = append([]string(nil), vs...)
			}
		}
		resp, err := s.call(r.Context(), h, ev)
		if err != nil {
			s.opts.Logger.Warn("apigwlocal: $connect failed", "conn", c.info.ID, "err", err)
			writeJSON(w, http.StatusInternalServerError, "", map[string]string{"message": "Internal server error"})
			return
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			if s.opts.Lenient {
				refuse(w, resp)
			} else {
				w.WriteHeader(resp.StatusCode) // the status only, as API Gateway without route responses
			}
			return
		}
	}

	c.frames = &frameMeter{}
	ws, err := websocket.Accept(&frameHijacker{ResponseWriter: w, meter: c.frames}, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.opts.Logger.Warn("apigwlocal: upgrade failed", "conn", c.info.ID, "err", err)
		close(c.done)
		s.disconnect(c, int(websocket.StatusAbnormalClosure), "upgrade failed")
		return
	}
	ws.SetReadLimit(-1) // readMessage applies API Gateway's limit
	c.ws = ws

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close(websocket.StatusGoingAway, "Going away")
		close(c.done)
		s.disconnect(c, int(websocket.StatusGoingAway), "Going away")
		return
	}
	s.conns[c.info.ID] = c
	s.mu.Unlock()

	var loops, inflight sync.WaitGroup
	loops.Go(func() { s.writeLoop(c) })
	loops.Go(func() { s.watch(c) })
	code, reason := s.readLoop(c, &inflight)
	close(c.done)
	s.take(c.info.ID)
	c.ws.CloseNow()
	loops.Wait()
	if s.opts.Lenient {
		inflight.Wait() // $disconnect after the messages in flight
	}
	if !c.dropped.Load() {
		s.disconnect(c, code, reason)
	}
	inflight.Wait()
}

// refuse answers the upgrade request with a non-2xx $connect response.
func refuse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// readLoop reads messages until the socket ends and returns the close code
// and reason for $disconnect. The handlers of messages still in flight then
// are added to inflight.
func (s *Server) readLoop(c *conn, inflight *sync.WaitGroup) (int, string) {
	for {
		typ, data, err := readMessage(c.ws)
		if err == nil && !s.opts.Lenient {
			switch {
			case c.frames.oversize.Load():
				err = errTooBig
			case typ == websocket.MessageBinary:
				s.closeConn(c, websocket.StatusUnsupportedData, "Unsupported data")
				continue
			}
		}
		if errors.Is(err, errTooBig) {
			s.closeConn(c, websocket.StatusMessageTooBig, "Message too big")
			continue // the next read reports the closed connection
		}
		if err != nil {
			c.mu.Lock()
			code, reason := c.code, c.reason
			c.mu.Unlock()
			if code == 0 {
				if cs := websocket.CloseStatus(err); cs != -1 {
					code = cs
					var ce websocket.CloseError
					if errors.As(err, &ce) {
						reason = ce.Reason
					}
				} else {
					code = websocket.StatusAbnormalClosure
				}
			}
			return int(code), reason
		}
		c.touch()
		ev := s.messageEvent(c, typ, data)
		h := s.opts.Routes[ev.RequestContext.RouteKey]
		if h == nil {
			_ = c.enqueue(gatewayError("Forbidden", c.info.ID, ev.RequestContext.RequestID))
			continue
		}
		s.sem <- struct{}{}
		handle := func() {
			defer func() { <-s.sem }()
			if _, err := s.call(context.Background(), h, ev); err != nil {
				s.opts.Logger.Warn("apigwlocal: integration failed", "conn", c.info.ID, "route", ev.RequestContext.RouteKey, "err", err)
				_ = c.enqueue(gatewayError("Internal server error", c.info.ID, ev.RequestContext.RequestID))
			}
		}
		if s.opts.Ordered {
			handle()
		} else {
			inflight.Go(handle)
		}
	}
}

// messageEvent builds the MESSAGE event of one client message, routed by
// $request.body.action.
func (s *Server) messageEvent(c *conn, typ websocket.MessageType, data []byte) events.APIGatewayWebsocketProxyRequest {
	route := RouteDefault
	if typ == websocket.MessageText {
		var sel struct {
			Action json.RawMessage `json:"action"`
		}
		var action string
		if json.Unmarshal(data, &sel) == nil && json.Unmarshal(sel.Action, &action) == nil {
			if _, ok := s.opts.Routes[action]; ok && !strings.HasPrefix(action, "$") {
				route = action
			}
		}
	}
	ev := s.event(c, "MESSAGE", route)
	ev.RequestContext.MessageID = newRequestID()
	if typ == websocket.MessageBinary {
		ev.Body = base64.StdEncoding.EncodeToString(data)
		ev.IsBase64Encoded = true
	} else {
		ev.Body = string(data)
	}
	return ev
}

// writeLoop writes the messages posted to c until it ends.
func (s *Server) writeLoop(c *conn) {
	for {
		select {
		case <-c.done:
			return
		case msg := <-c.queue:
			if msg == nil { // closeConn's marker: everything before is written
				c.mu.Lock()
				code, reason := c.code, c.reason
				c.mu.Unlock()
				_ = c.ws.Close(code, reason)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), DefaultWriteTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				c.ws.CloseNow()
				return
			}
			c.touch()
		}
	}
}

// watch closes c when it has been idle for IdleTimeout or open for
// MaxDuration.
func (s *Server) watch(c *conn) {
	t := time.NewTimer(min(s.opts.IdleTimeout, s.opts.MaxDuration))
	defer t.Stop()
	end := c.info.ConnectedAt.Add(s.opts.MaxDuration)
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			idleEnd := time.Unix(0, c.lastActive.Load()).Add(s.opts.IdleTimeout)
			if !now.Before(idleEnd) || !now.Before(end) {
				s.take(c.info.ID)
				s.closeConn(c, websocket.StatusGoingAway, "Going away")
				return
			}
			t.Reset(min(idleEnd.Sub(now), end.Sub(now)))
		}
	}
}

// disconnect calls the $disconnect route of c.
func (s *Server) disconnect(c *conn, code int, reason string) {
	h := s.opts.Routes[RouteDisconnect]
	if h == nil {
		return
	}
	ev := s.event(c, "DISCONNECT", RouteDisconnect)
	ev.RequestContext.DisconnectStatusCode = int64(code)
	ev.RequestContext.DisconnectReason = &reason
	if _, err := s.call(context.Background(), h, ev); err != nil {
		s.opts.Logger.Warn("apigwlocal: $disconnect failed", "conn", c.info.ID, "err", err)
	}
}

var errTooBig = errors.New("apigwlocal: message over 128 KB")

// readMessage reads one message of at most MaxMessageBytes.
func readMessage(ws *websocket.Conn) (websocket.MessageType, []byte, error) {
	typ, r, err := ws.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxMessageBytes+1))
	if err != nil {
		return 0, nil, err
	}
	if len(data) > MaxMessageBytes {
		return 0, nil, errTooBig
	}
	return typ, data, nil
}
