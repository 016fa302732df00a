package apigwlocal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// serveManagement serves the management API for connection id.
func (s *Server) serveManagement(w http.ResponseWriter, r *http.Request, id string) {
	var op Op
	switch r.Method {
	case http.MethodPost:
		op = OpPost
	case http.MethodGet:
		op = OpGet
	case http.MethodDelete:
		op = OpDelete
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, "", map[string]string{"message": "method not allowed"})
		return
	}
	if ip := net.ParseIP(sourceIP(r)); ip == nil || !ip.IsLoopback() {
		writeJSON(w, http.StatusForbidden, "ForbiddenException", map[string]string{"message": "the management API is served on loopback only"})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeJSON(w, http.StatusForbidden, "ForbiddenException", map[string]string{"message": "Missing Authentication Token"})
		return
	}
	if s.opts.Fault != nil {
		if f := s.opts.Fault(op, id); f != nil {
			writeJSON(w, f.Status, f.ErrorType, map[string]string{"message": "injected fault"})
			return
		}
	}
	var body []byte
	if op == OpPost {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxMessageBytes+1))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, "BadRequestException", map[string]string{"message": err.Error()})
			return
		}
		if len(body) > MaxMessageBytes {
			writeJSON(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", map[string]string{"message": "Message too long"})
			return
		}
		// Once the body is read, the server notices a caller that
		// hangs up, and ends r.Context().
		if s.delayPost(r.Context()) != nil {
			return
		}
	}
	c := s.lookup(id)
	if c == nil || c.closing.Load() {
		writeJSON(w, http.StatusGone, "GoneException", map[string]any{"message": nil})
		return
	}
	switch op {
	case OpPost:
		switch err := c.enqueue(body); {
		case errors.Is(err, errQueueFull):
			writeJSON(w, http.StatusTooManyRequests, "LimitExceededException", map[string]string{"message": "Client side buffer full"})
		case err != nil:
			writeJSON(w, http.StatusGone, "GoneException", map[string]any{"message": nil})
		default:
			w.WriteHeader(http.StatusOK)
		}
	case OpGet:
		writeJSON(w, http.StatusOK, "", map[string]any{
			"connectedAt":  c.info.ConnectedAt.UTC().Format(time.RFC3339Nano),
			"lastActiveAt": time.Unix(0, c.lastActive.Load()).UTC().Format(time.RFC3339Nano),
			"identity":     map[string]string{"sourceIp": c.info.SourceIP, "userAgent": c.info.UserAgent},
		})
	case OpDelete:
		if c := s.take(id); c != nil {
			s.closeConn(c, websocket.StatusNormalClosure, "")
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// writeJSON answers with status and v as JSON, with errorType in
// x-amzn-ErrorType if it is not empty.
func writeJSON(w http.ResponseWriter, status int, errorType string, v any) {
	w.Header().Set("Content-Type", "application/json")
	if errorType != "" {
		w.Header().Set("x-amzn-ErrorType", errorType)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// delayPost waits the latency of a PostToConnection (Options.PostLatency),
// or until ctx ends.
func (s *Server) delayPost(ctx context.Context) error {
	d := s.opts.PostLatency
	if j := s.opts.PostJitter; j > 0 {
		d += time.Duration(rand.Int64N(int64(2*j)+1)) - j
	}
	if d <= 0 {
		return nil
	}
	return s.opts.Sleep(ctx, d)
}
