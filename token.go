package chatfly

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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

// newID returns a random, URL-safe id with 128 bits of entropy.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return b64.EncodeToString(b[:])
}
