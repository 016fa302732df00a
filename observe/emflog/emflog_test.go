package emflog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/hangstore"
	"github.com/chatfly/chatfly/observe/emflog"
	"github.com/chatfly/chatfly/storage/memstore"
)

// discard is a Transport that delivers nowhere.
type discard struct{}

func (discard) Send(context.Context, string, []byte) error                     { return nil }
func (discard) Close(context.Context, string, chatfly.CloseCode, string) error { return nil }

// Lines returns the JSON objects of the lines of buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.Lines(buf.String()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	buf.Reset()
	return out
}

// checkEMF asserts that line is valid EMF: every metric a directive names
// is a number at the top level, every dimension a string.
func checkEMF(t *testing.T, line map[string]any) {
	t.Helper()
	aws, ok := line["_aws"].(map[string]any)
	require.True(t, ok, "no _aws in %v", line)
	assert.Positive(t, aws["Timestamp"])
	dirs := aws["CloudWatchMetrics"].([]any)
	require.NotEmpty(t, dirs)
	for _, d := range dirs {
		d := d.(map[string]any)
		assert.Equal(t, "chatfly", d["Namespace"])
		for _, set := range d["Dimensions"].([]any) {
			for _, dim := range set.([]any) {
				assert.IsType(t, "", line[dim.(string)], dim)
			}
		}
		for _, m := range d["Metrics"].([]any) {
			assert.IsType(t, 0.0, line[m.(map[string]any)["Name"].(string)], m)
		}
	}
}

// Every frame and every storage failure is one EMF line with its figures.
func TestObserver(t *testing.T) {
	var buf bytes.Buffer
	obs := emflog.New(slog.New(slog.NewJSONHandler(&buf, nil)), nil)
	hs := hangstore.New(memstore.New(nil))
	hub := chatfly.New(hs.Storage(), discard{}, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Observer: obs, StorageTimeout: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	require.NoError(t, hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "c1"}))
	for _, f := range []string{`{"action":"hello","name":"Ada"}`, `{"action":"join","room":"lobby"}`, `nope`} {
		require.NoError(t, hub.Receive(ctx, "c1", []byte(f)))
	}
	ls := lines(t, &buf)
	require.Len(t, ls, 4)
	for _, l := range ls {
		checkEMF(t, l)
	}
	assert.Equal(t, []any{"$connect", "hello", "join", "none"}, []any{ls[0]["Action"], ls[1]["Action"], ls[2]["Action"], ls[3]["Action"]})
	assert.Equal(t, "lobby", ls[2]["Room"])
	assert.Equal(t, "ok", ls[2]["Code"])
	assert.Equal(t, "bad_json", ls[3]["Code"])
	assert.Positive(t, ls[2]["StorageCalls"])

	hs.HangIf(func(k chatfly.Key) bool { return k.Sort == "seq" })
	require.ErrorIs(t, hub.Receive(ctx, "c1", []byte(`{"action":"send","room":"lobby","text":"hi"}`)), chatfly.ErrUnavailable)
	ls = lines(t, &buf)
	require.Len(t, ls, 2)
	for _, l := range ls {
		checkEMF(t, l)
	}
	assert.Equal(t, []any{"chatfly.failure", "storage.Add", "send", "lobby"}, []any{ls[0]["msg"], ls[0]["Op"], ls[0]["Action"], ls[0]["Room"]})
	assert.Contains(t, ls[0]["Error"], "deadline")
	assert.Equal(t, []any{"send", "unavailable"}, []any{ls[1]["Action"], ls[1]["Code"]})
}
