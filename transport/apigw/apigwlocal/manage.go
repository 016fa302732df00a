package apigwlocal

import (
	"encoding/json"
	"errors"
	"io"
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
	c := s.lookup(id)
	if c == nil || c.closing.Load() {
		writeJSON(w, http.StatusGone, "GoneException", map[string]any{"message": nil})
		return
	}
	switch op {
	case OpPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxMessageBytes+1))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, "BadRequestException", map[string]string{"message": err.Error()})
			return
		}
		if len(body) > MaxMessageBytes {
			writeJSON(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", map[string]string{"message": "Message too long"})
			return
		}
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
