package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/observe/promexporter"
)

// serveMetrics (-metrics) makes a Prometheus exporter the Observer of the
// Hub made with opts, and serves its metrics, with the Go runtime's and the
// process's, at GET /metrics on mux. Give the Hub to the exporter's Watch
// once it is made. The metrics are on the public address: a server facing
// the internet hides /metrics at its reverse proxy.
func serveMetrics(mux *http.ServeMux, opts *chatfly.Options) (*promexporter.Exporter, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := promexporter.New(reg, nil)
	if err != nil {
		return nil, err
	}
	opts.Observer = exp
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return exp, nil
}
