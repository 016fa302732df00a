package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer written by several functions at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// line returns the first logged JSON line with the given Action, or nil.
func (b *lockedBuffer) line(t *testing.T, action string) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	for l := range strings.Lines(b.buf.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		if m["Action"] == action {
			return m
		}
	}
	return nil
}

// The functions log one CloudWatch EMF line per event, with the function's
// name: a message sent through the stack is a "send" line of the message
// function, answered ok, with its storage calls.
func TestFunctionsLogEMF(t *testing.T) {
	var out lockedBuffer
	s := startStack(t, testConfig{metrics: slog.New(slog.NewJSONHandler(&out, nil))})
	ada := dial(t, s, "Ada", nil)
	_, err := ada.Join(ctxFor(t), "lobby", 0)
	require.NoError(t, err)
	_, err = ada.Send(ctxFor(t), "lobby", "hi")
	require.NoError(t, err)

	var send map[string]any
	require.Eventually(t, func() bool { send = out.line(t, "send"); return send != nil }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, "message", send["function"])
	assert.Equal(t, "ok", send["Code"])
	assert.Equal(t, "lobby", send["Room"])
	assert.Positive(t, send["StorageCalls"])
	assert.Contains(t, send, "_aws")
	connect := out.line(t, "$connect")
	require.NotNil(t, connect)
	assert.Equal(t, "connect", connect["function"])
}
