// Package logrec is a slog.Handler that records what is logged, for tests
// that check what a server logs and with which attributes.
package logrec

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// Record is one logged record, its attributes flattened (groups are
// dotted) and formatted with fmt's %v.
type Record struct {
	Level   slog.Level
	Message string
	Attrs   map[string]string
}

// Recorder records every record logged at Debug level or above through the
// loggers made with Logger. It is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	records []Record
}

// Logger returns a logger that records into r.
func (r *Recorder) Logger() *slog.Logger { return slog.New(&handler{r: r}) }

// Records returns what was recorded so far, oldest first.
func (r *Recorder) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.records)
}

// Find returns the records whose message is msg.
func (r *Recorder) Find(msg string) []Record {
	var out []Record
	for _, rec := range r.Records() {
		if rec.Message == msg {
			out = append(out, rec)
		}
	}
	return out
}

type handler struct {
	r      *Recorder
	attrs  []slog.Attr
	prefix string // of the open group, with its dot
}

func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) Handle(_ context.Context, rec slog.Record) error {
	out := Record{Level: rec.Level, Message: rec.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		flatten(out.Attrs, "", a)
	}
	rec.Attrs(func(a slog.Attr) bool {
		flatten(out.Attrs, h.prefix, a)
		return true
	})
	h.r.mu.Lock()
	h.r.records = append(h.r.records, out)
	h.r.mu.Unlock()
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = slices.Clone(h.attrs)
	for _, a := range as {
		c.attrs = append(c.attrs, slog.Attr{Key: h.prefix + a.Key, Value: a.Value})
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	c := *h
	c.prefix += name + "."
	return &c
}

func flatten(m map[string]string, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			flatten(m, prefix+a.Key+".", g)
		}
		return
	}
	m[prefix+a.Key] = fmt.Sprint(v.Any())
}
