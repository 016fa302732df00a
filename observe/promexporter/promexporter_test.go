package promexporter_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/hangstore"
	"github.com/chatfly/chatfly/observe/promexporter"
	"github.com/chatfly/chatfly/storage/memstore"
)

// value returns the value of the counter or gauge name whose labels are
// the label-value pairs given, 0 if there is none.
func value(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !found {
					continue metrics
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// The counters follow the frames: storage calls by action, undecoded
// frames under "none", failures by operation; two Hubs add up in the
// gauges; registering twice is an error.
func TestExporter(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := promexporter.New(reg, &promexporter.Options{ConstLabels: prometheus.Labels{"node": "a"}})
	require.NoError(t, err)
	hs := hangstore.New(memstore.New(nil))
	opts := &chatfly.Options{Rooms: chatfly.DefaultRooms(), Observer: exp, StorageTimeout: 50 * time.Millisecond}
	hub, other := chatfly.New(hs.Storage(), discard{}, opts), chatfly.New(hs.Storage(), discard{}, opts)
	exp.Watch(hub)
	exp.Watch(other)
	ctx := context.Background()
	require.NoError(t, hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "a"}))
	require.NoError(t, other.Connect(ctx, &chatfly.ConnectRequest{ConnID: "b"}))
	for _, f := range []string{`{"action":"hello","name":"Ada"}`, `{"action":"join","room":"lobby"}`, `{"action":"send","room":"lobby","text":"hi"}`, `{`} {
		require.NoError(t, hub.Receive(ctx, "a", []byte(f)))
	}
	assert.Equal(t, 2.0, value(t, reg, "chatfly_connections", "node", "a"))
	assert.Equal(t, 1.0, value(t, reg, "chatfly_sessions"))
	assert.Equal(t, 1.0, value(t, reg, "chatfly_frames_total", "action", "none", "code", "bad_json"))
	sends := value(t, reg, "chatfly_storage_calls_total", "action", "send")
	assert.GreaterOrEqual(t, sends, 3.0, "a send reads the connection, counts the rate and adds to the room's seq at least")

	hs.HangIf(func(k chatfly.Key) bool { return k.Sort == "seq" })
	require.ErrorIs(t, hub.Receive(ctx, "a", []byte(`{"action":"send","room":"lobby","text":"hi"}`)), chatfly.ErrUnavailable)
	assert.Equal(t, 1.0, value(t, reg, "chatfly_failures_total", "op", "storage.Add"))
	assert.Equal(t, 1.0, value(t, reg, "chatfly_frames_total", "action", "send", "code", "unavailable"))
	assert.Greater(t, value(t, reg, "chatfly_storage_calls_total", "action", "send"), sends)

	_, err = promexporter.New(reg, nil)
	assert.Error(t, err, "the metrics are registered already")
}
