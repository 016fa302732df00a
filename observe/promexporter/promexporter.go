// Package promexporter exports what chatfly Hubs do as Prometheus metrics:
// an [Exporter] is a [chatfly.Observer] (set it in chatfly.Options.Observer)
// that keeps
//
//	chatfly_frames_total{action,code}            counter: frames handled, by action and answer
//	chatfly_frame_duration_seconds{action}       histogram: the Hub's work per frame
//	chatfly_storage_calls_total{action}          counter: Storage calls made by frames
//	chatfly_failures_total{op}                   counter: failed Storage and Transport calls
//	chatfly_connections, chatfly_sessions        gauges: of the Hubs given to Watch
//
// Frames include Connect and Disconnect (actions "$connect" and
// "$disconnect"). code is the error code the client was answered with
// (PROTOCOL.md), or "ok"; action is "none" for frames that were not decoded
// or named an unknown action. Labels never hold what a client chose freely
// (rooms, names, unknown actions), so a client cannot grow the number of
// series; the application's own actions and error codes are labels too.
//
// Storage calls per frame of an action are
// rate(chatfly_storage_calls_total[5m]) / rate(chatfly_frames_total[5m])
// summed by action; on DynamoDB each is a round trip.
package promexporter

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatfly/chatfly"
)

// DefaultBuckets are the frame duration buckets, in seconds: from half a
// millisecond (memory storage) to past the Hub's default StorageTimeout of
// 5 seconds.
var DefaultBuckets = prometheus.ExponentialBuckets(0.0005, 2.5, 10)

// Options configures an [Exporter]. A nil *Options means the defaults.
type Options struct {
	// Namespace prefixes every metric name. Default "chatfly".
	Namespace string
	// ConstLabels are added to every metric, e.g. the node's name.
	ConstLabels prometheus.Labels
	// Buckets are the upper bounds of the frame duration histogram, in
	// seconds. Default DefaultBuckets.
	Buckets []float64
}

// Exporter is a chatfly.Observer that keeps the metrics of the package doc.
// It is safe for concurrent use; one Exporter may observe several Hubs.
type Exporter struct {
	frames   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	storage  *prometheus.CounterVec
	failures *prometheus.CounterVec

	mu   sync.Mutex
	hubs []*chatfly.Hub
}

// New returns an Exporter whose metrics are registered with reg, or the
// error of the registration (a metric of the same name is already there).
func New(reg prometheus.Registerer, opts *Options) (*Exporter, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = "chatfly"
	}
	if o.Buckets == nil {
		o.Buckets = DefaultBuckets
	}
	e := &Exporter{
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "frames_total", ConstLabels: o.ConstLabels,
			Help: "Frames handled by the Hub (and Connects and Disconnects), by action and the error code answered (ok: none)."}, []string{"action", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "frame_duration_seconds", ConstLabels: o.ConstLabels, Buckets: o.Buckets,
			Help: "The Hub's work on one frame, storage and transport calls included, by action."}, []string{"action"}),
		storage: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "storage_calls_total", ConstLabels: o.ConstLabels,
			Help: "Storage calls made while handling frames, by action."}, []string{"action"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "failures_total", ConstLabels: o.ConstLabels,
			Help: "Failed Storage and Transport calls, by operation (storage.Get, transport.Send, ...)."}, []string{"op"}),
	}
	gauge := func(name, help string, f func(chatfly.Stats) int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: o.Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels},
			func() float64 { return float64(e.sum(f)) })
	}
	for _, c := range []prometheus.Collector{e.frames, e.duration, e.storage, e.failures,
		gauge("connections", "Connections open on the Hubs of this process (chatfly.Hub.Stats).", func(s chatfly.Stats) int64 { return s.Connections }),
		gauge("sessions", "Connections that said hello, on the Hubs of this process (chatfly.Hub.Stats).", func(s chatfly.Stats) int64 { return s.Sessions }),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Watch adds the gauges of hub ([chatfly.Hub.Stats]) to the connections and
// sessions gauges. An Exporter is made before the Hubs it observes, so they
// are given to it afterwards.
func (e *Exporter) Watch(hub *chatfly.Hub) {
	e.mu.Lock()
	e.hubs = append(e.hubs, hub)
	e.mu.Unlock()
}

func (e *Exporter) sum(f func(chatfly.Stats) int64) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n int64
	for _, h := range e.hubs {
		n += f(h.Stats())
	}
	return n
}

// Frame implements chatfly.Observer.
func (e *Exporter) Frame(_ context.Context, f chatfly.FrameStats) {
	action, code := f.Action, f.Code
	if action == "" {
		action = "none"
	}
	if code == "" {
		code = "ok"
	}
	e.frames.WithLabelValues(action, code).Inc()
	e.duration.WithLabelValues(action).Observe(f.Duration.Seconds())
	if f.StorageCalls > 0 {
		e.storage.WithLabelValues(action).Add(float64(f.StorageCalls))
	}
}

// Failure implements chatfly.Observer.
func (e *Exporter) Failure(_ context.Context, f chatfly.Failure) {
	e.failures.WithLabelValues(f.Op).Inc()
}
