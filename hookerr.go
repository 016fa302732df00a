package chatfly

import (
	"context"
	"errors"
)

// publicError turns an error returned by one of the application's hooks
// (Identify, OnMessage, OnJoin, OnCreateRoom, Actions) into what the client
// is told. An *Error in err's chain is the hook's answer and is returned as
// it is. Any other error is the application's own failure, whose text may
// hold internal details: it is logged, with hook and attrs (slog key-value
// pairs), and the client gets generic (a sentinel: its code and its default
// message, no more). A hook that failed once the Hub's deadline for the
// frame had passed (Options.StorageTimeout) yields ErrUnavailable instead:
// the client may try again.
func (h *Hub) publicError(ctx context.Context, hook string, err error, generic *Error, attrs ...any) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if ctx.Err() != nil {
		generic = ErrUnavailable
	}
	h.log.WarnContext(ctx, "chatfly: "+hook+" hook failed; the client is told "+generic.Code,
		append(attrs, "hook", hook, "err", err)...)
	return generic
}

// attrs are the log attributes of the frame being handled: its connection,
// its session once it said hello, and its action and room once decoded.
func (c *call) attrs() []any {
	a := []any{"conn", c.connID}
	if c.conn.Session != "" {
		a = append(a, "session", c.conn.Session)
	}
	if c.f != nil {
		a = append(a, "action", c.f.Action)
		if c.f.Room != "" {
			a = append(a, "room", c.f.Room)
		}
	}
	return a
}
