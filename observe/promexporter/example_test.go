package promexporter_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/observe/promexporter"
	"github.com/chatfly/chatfly/storage/memstore"
)

// discard is a Transport that delivers nowhere.
type discard struct{}

func (discard) Send(context.Context, string, []byte) error                     { return nil }
func (discard) Close(context.Context, string, chatfly.CloseCode, string) error { return nil }

// An Exporter observes a Hub; its metrics are served at /metrics. Here one
// client connects, joins the lobby, sends a message and then one to a room
// it is not in.
func Example() {
	reg := prometheus.NewRegistry()
	exp, err := promexporter.New(reg, nil)
	if err != nil {
		panic(err)
	}
	hub := chatfly.New(memstore.New(nil), discard{}, &chatfly.Options{Rooms: chatfly.DefaultRooms(), Observer: exp})
	exp.Watch(hub) // for the connections and sessions gauges

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// ... mux.Handle("/ws", ws.Handler(hub)); http.ListenAndServe(addr, mux)

	ctx := context.Background()
	_ = hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "c1"})
	for _, f := range []string{
		`{"action":"hello","name":"Ada"}`,
		`{"action":"join","room":"lobby"}`,
		`{"action":"send","room":"lobby","text":"hi"}`,
		`{"action":"send","room":"games","text":"hi"}`,
	} {
		_ = hub.Receive(ctx, "c1", []byte(f))
	}

	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			switch {
			case m.Counter != nil && mf.GetName() == "chatfly_frames_total":
				fmt.Println(mf.GetName(), strings.Join(labels, " "), m.GetCounter().GetValue())
			case m.Histogram != nil:
				fmt.Println(mf.GetName(), strings.Join(labels, " "), "count", m.GetHistogram().GetSampleCount())
			case m.Gauge != nil:
				fmt.Println(mf.GetName(), m.GetGauge().GetValue())
			}
		}
	}
	// Output:
	// chatfly_connections 1
	// chatfly_frame_duration_seconds action=$connect count 1
	// chatfly_frame_duration_seconds action=hello count 1
	// chatfly_frame_duration_seconds action=join count 1
	// chatfly_frame_duration_seconds action=send count 2
	// chatfly_frames_total action=$connect code=ok 1
	// chatfly_frames_total action=hello code=ok 1
	// chatfly_frames_total action=join code=ok 1
	// chatfly_frames_total action=send code=not_member 1
	// chatfly_frames_total action=send code=ok 1
	// chatfly_sessions 1
}
