// Package emflog logs what chatfly Hubs do as CloudWatch metrics: an
// [Observer] writes one slog line per frame and per failure in CloudWatch's
// embedded metric format (EMF), from which CloudWatch Logs extracts metrics
// without any API call. It suits AWS Lambda, where a Hub lives for a few
// events and nothing could scrape it. The lines carry the same figures as
// chatfly/observe/promexporter's metrics:
//
//	Frames, Duration (milliseconds), StorageCalls   by Action and by Action and Code
//	Failures                                        by Op
//
// Code is "ok" for a frame answered without error, Action "none" for one
// that was not decoded or named an unknown action (see
// [chatfly.FrameStats]); Room, ConnID and, for failures, Error are
// properties of the line (searchable in Logs Insights), not dimensions.
//
// The logger must write JSON objects to the function's standard output, as
// slog.NewJSONHandler(os.Stdout, nil) does: EMF needs the "_aws" key at the
// top level of each line.
package emflog

import (
	"context"
	"log/slog"
	"time"

	"github.com/chatfly/chatfly"
)

// Options configures an [Observer]. A nil *Options means the defaults.
type Options struct {
	// Namespace is the CloudWatch namespace of the metrics. Default
	// "chatfly".
	Namespace string
}

// Observer is a chatfly.Observer that logs EMF lines (see the package
// doc). It is safe for concurrent use.
type Observer struct {
	log              *slog.Logger
	frames, failures []directive
}

// directive is an EMF metric directive.
type directive struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []metric   `json:"Metrics"`
}

type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// meta is the "_aws" member of an EMF line.
type meta struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// New returns an Observer that logs to log.
func New(log *slog.Logger, opts *Options) *Observer {
	ns := "chatfly"
	if opts != nil && opts.Namespace != "" {
		ns = opts.Namespace
	}
	return &Observer{
		log: log,
		frames: []directive{{Namespace: ns, Dimensions: [][]string{{"Action"}, {"Action", "Code"}},
			Metrics: []metric{{"Frames", "Count"}, {"Duration", "Milliseconds"}, {"StorageCalls", "Count"}}}},
		failures: []directive{{Namespace: ns, Dimensions: [][]string{{"Op"}}, Metrics: []metric{{"Failures", "Count"}}}},
	}
}

// Frame implements chatfly.Observer.
func (o *Observer) Frame(ctx context.Context, f chatfly.FrameStats) {
	action, code := f.Action, f.Code
	if action == "" {
		action = "none"
	}
	if code == "" {
		code = "ok"
	}
	o.log.LogAttrs(ctx, slog.LevelInfo, "chatfly.frame",
		slog.Any("_aws", meta{Timestamp: time.Now().UnixMilli(), CloudWatchMetrics: o.frames}),
		slog.String("Action", action), slog.String("Code", code),
		slog.Int("Frames", 1), slog.Float64("Duration", float64(f.Duration)/float64(time.Millisecond)),
		slog.Int("StorageCalls", f.StorageCalls),
		slog.String("Room", f.Room), slog.String("ConnID", f.ConnID))
}

// Failure implements chatfly.Observer.
func (o *Observer) Failure(ctx context.Context, f chatfly.Failure) {
	o.log.LogAttrs(ctx, slog.LevelWarn, "chatfly.failure",
		slog.Any("_aws", meta{Timestamp: time.Now().UnixMilli(), CloudWatchMetrics: o.failures}),
		slog.String("Op", f.Op), slog.Int("Failures", 1),
		slog.String("Action", f.Action), slog.String("Room", f.Room), slog.String("ConnID", f.ConnID),
		slog.String("Error", f.Err.Error()))
}
