package chatfly

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// A resume token is base64url(payload) "." base64url(HMAC-SHA256(secret,
// payload)); the payload is JSON with the session id, name and expiry. It is
// self-contained, so resuming needs no storage read and works on any Hub
// that shares the secret.
type tokenPayload struct {
	Session string `json:"s"`
	Name    string `json:"n"`
	Expires int64  `json:"e"` // Unix seconds
}

var b64 = base64.RawURLEncoding

func (h *Hub) signToken(sid, name string, now time.Time) string {
	p := b64.EncodeToString(mustJSON(tokenPayload{Session: sid, Name: name, Expires: now.Add(h.opts.TokenTTL).Unix()}))
	return p + "." + b64.EncodeToString(h.mac(p))
}

func (h *Hub) mac(payload string) []byte {
	m := hmac.New(sha256.New, h.opts.Secret)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// parseToken verifies a token and returns its payload. Errors wrap
// ErrInvalidToken.
func (h *Hub) parseToken(tok string, now time.Time) (tokenPayload, error) {
	var p tokenPayload
	payload, sig, ok := strings.Cut(tok, ".")
	mac, err := b64.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(mac, h.mac(payload)) {
		return p, Errorf(ErrInvalidToken, "resume token is not valid")
	}
	raw, err := b64.DecodeString(payload)
	if err != nil || json.Unmarshal(raw, &p) != nil || p.Session == "" {
		return p, Errorf(ErrInvalidToken, "resume token is malformed")
	}
	if now.Unix() >= p.Expires {
		return p, Errorf(ErrInvalidToken, "resume token has expired")
	}
	return p, nil
}

// revokeMargin is how much longer than TokenTTL a revocation is kept: it
// covers the clock skew between Hubs, which sign tokens by their own clock.
const revokeMargin = time.Hour

// RevokeSession revokes every resume token of session sid: a hello with any
// of them gets invalid_token from then on, on every Hub sharing the Storage,
// and the session's live connection, if any, is closed with [CloseRevoked].
// The session's rooms, roles and memberships are not touched (memberships
// end as the connection closes). Use it when a token has leaked (a token is a
// bearer credential: whoever holds it is that person) or to end the identity
// of an abuser; the person behind it can still start a new anonymous session.
//
// A verified user (see [Options.Identify]) has no token: RevokeSession only
// closes their connection, and the Identify hook decides whether they may
// come back. Revoking a session that does not exist is not an error.
//
// It writes one item, kept for TokenTTL (the longest a token lives) plus an
// hour, and reads the session's current connection to close it. A hello
// that resumes with a token at the very moment of the revocation may still
// succeed once; its connection keeps the session until it ends, and its new
// token is refused like the others.
func (h *Hub) RevokeSession(ctx context.Context, sid string) error {
	if sid == "" {
		return Errorf(ErrBadRequest, "no session id")
	}
	exp := h.opts.Now().Add(h.opts.TokenTTL + revokeMargin)
	if _, err := h.store.Put(ctx, Item{Key: revokedKey(sid), Expires: exp}, Always); err != nil {
		return err
	}
	cur, err := h.store.Get(ctx, sessKey(sid))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return h.tr.Close(ctx, string(cur.Value), CloseRevoked, "session revoked, start a new one")
}

// checkRevoked returns ErrInvalidToken if session sid was revoked. It costs
// one storage read, on hello with a token only.
func (h *Hub) checkRevoked(ctx context.Context, sid string) error {
	_, err := h.store.Get(ctx, revokedKey(sid))
	switch {
	case err == nil:
		return Errorf(ErrInvalidToken, "resume token has been revoked")
	case errors.Is(err, ErrNotFound):
		return nil
	}
	return err
}

// newID returns a random, URL-safe id with 128 bits of entropy.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return b64.EncodeToString(b[:])
}
