package client

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// ErrClosed is what [Client.Err] and calls report after [Client.Close].
var ErrClosed = errors.New("chatfly/client: client closed")

// Close codes the client reports that the protocol does not list: see
// [CloseError].
const (
	// CloseAbnormal (1006) means the connection ended without a close
	// frame: the network failed, or the server vanished.
	CloseAbnormal = 1006
	// CloseProtocolError (1002) means the client closed the connection
	// because the server sent a line that is not a JSON object with a
	// "type".
	CloseProtocolError = 1002
	// CloseUnsupportedData (1003) means the client closed the connection
	// because the server sent a binary frame.
	CloseUnsupportedData = 1003
	// CloseMessageTooBig (1009) means the server sent a frame larger than
	// Options.ReadLimit, or (from the server) that the client did.
	CloseMessageTooBig = 1009
)

// CloseError reports why a connection ended, other than by [Client.Close].
// Get it with errors.As from [Client.Err] or from a call that failed
// because the connection ended.
type CloseError struct {
	// Code is the WebSocket close code: the one the server sent (for
	// example 1001 going away, 1009 frame too large, 4000 too slow, 4001
	// replaced; see PROTOCOL.md), the one the client sent when it gave up on
	// the server (1002, 1003, 1009), or 1006 when no close frame was
	// exchanged.
	Code int
	// Reason is the close frame's reason, if any.
	Reason string
	// Remote reports that the server sent the close frame.
	Remote bool
	// Err is the underlying error, if any (for Code 1006, the network
	// error).
	Err error
}

// Error describes the close: its code, reason and who closed.
func (e *CloseError) Error() string {
	s := "chatfly/client: connection closed with " + strconv.Itoa(e.Code)
	if e.Remote {
		s += " by the server"
	}
	if e.Reason != "" {
		s += ": " + strconv.Quote(e.Reason)
	}
	if e.Err != nil && !e.Remote {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err.
func (e *CloseError) Unwrap() error { return e.Err }

// HandshakeError reports that the server refused the WebSocket upgrade
// (for example HTTP 403 when the application's identity hook rejected the
// connection). If the body was a JSON object {"code":...,"message":...},
// Err is the *[chatfly.Error] it describes, so that
// errors.Is(err, chatfly.ErrRejected) works.
type HandshakeError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Header is the response's header.
	Header http.Header
	// Body is the start of the response body (at most 1 KiB).
	Body []byte
	// Err is the *chatfly.Error from the body, or else the error of the
	// WebSocket library.
	Err error
}

// Error describes the refused upgrade with its HTTP status.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("chatfly/client: upgrade refused with HTTP %d: %v", e.StatusCode, e.Err)
}

// Unwrap returns Err.
func (e *HandshakeError) Unwrap() error { return e.Err }
