package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly/client"
)

// scrape reads the server's /metrics over HTTP and parses it.
func scrape(t *testing.T, s *testServer) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.url() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return families
}

// series returns the metric of family name whose labels include the
// label-value pairs given, or nil.
func series(families map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	mf := families[name]
metrics:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue metrics
			}
		}
		return m
	}
	return nil
}

// With -metrics, /metrics serves Prometheus counters, histograms and gauges
// that move as clients talk over real sockets: three messages sent make
// three more send frames answered ok, three more durations in the send
// histogram, and more storage calls; the gauges count the two clients.
func TestMetricsEndpoint(t *testing.T) {
	s := startServerWith(t, "127.0.0.1:0", &config{metrics: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var clients []*client.Client
	for _, name := range []string{"Ada", "Lin"} {
		c, err := client.Dial(ctx, s.wsURL(), &client.Options{Name: name})
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Join(ctx, "lobby", 0)
		require.NoError(t, err)
		clients = append(clients, c)
	}
	before := scrape(t, s)
	sends := func(f map[string]*dto.MetricFamily) float64 {
		return series(f, "chatfly_frames_total", "action", "send", "code", "ok").GetCounter().GetValue()
	}
	durations := func(f map[string]*dto.MetricFamily) uint64 {
		return series(f, "chatfly_frame_duration_seconds", "action", "send").GetHistogram().GetSampleCount()
	}
	calls := func(f map[string]*dto.MetricFamily) float64 {
		return series(f, "chatfly_storage_calls_total", "action", "send").GetCounter().GetValue()
	}
	for i := range 3 {
		_, err := clients[i%2].Send(ctx, "lobby", "hello")
		require.NoError(t, err)
	}
	after := scrape(t, s)
	assert.Equal(t, sends(before)+3, sends(after))
	assert.Equal(t, durations(before)+3, durations(after))
	assert.GreaterOrEqual(t, calls(after)-calls(before), 9.0, "at least three storage calls per send")
	assert.Equal(t, dto.MetricType_HISTOGRAM, after["chatfly_frame_duration_seconds"].GetType())
	assert.NotEmpty(t, series(after, "chatfly_frame_duration_seconds", "action", "send").GetHistogram().GetBucket())
	assert.Equal(t, 2.0, series(after, "chatfly_frames_total", "action", "hello", "code", "ok").GetCounter().GetValue())
	assert.Equal(t, 2.0, series(after, "chatfly_connections").GetGauge().GetValue())
	assert.Equal(t, 2.0, series(after, "chatfly_sessions").GetGauge().GetValue())
	assert.Contains(t, after, "go_goroutines", "the Go runtime's metrics are served too")
}

// Without -metrics there is no metrics endpoint.
func TestMetricsOffByDefault(t *testing.T) {
	s := startServerWith(t, "127.0.0.1:0", &config{})
	resp, err := http.Get(s.url() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.NotContains(t, string(body), "chatfly_frames_total")
}
