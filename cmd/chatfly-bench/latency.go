package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/latencystore"
)

// Injected latency: -storage-latency wraps the storage of every chatfly
// server in storage/latencystore (a sleep per call, the order of an
// in-region DynamoDB call), and -post-latency delays every
// PostToConnection of the lambda target (apigwlocal.Options.PostLatency).
// The storage wrapper also counts the calls: a server serves the counts at
// storageStatsPath, and S1 and S2 report them per message sent.

// storageStatsPath is where a chatfly server of the tool serves the counts
// of its storage calls (latencystore.Stats, as JSON).
const storageStatsPath = "/bench/storage-stats"

// latency is a fixed latency with a uniform jitter, as a flag: "3ms",
// "3ms±1ms" or "3ms+-1ms".
type latency struct{ d, jitter time.Duration }

func (l *latency) String() string {
	if l.jitter == 0 {
		return l.d.String()
	}
	return l.d.String() + "±" + l.jitter.String()
}

func (l *latency) Set(s string) error {
	s = strings.ReplaceAll(strings.TrimSpace(s), "+-", "±")
	base, jit, hasJitter := strings.Cut(s, "±")
	d, err := time.ParseDuration(base)
	if err != nil {
		return err
	}
	var j time.Duration
	if hasJitter {
		if j, err = time.ParseDuration(jit); err != nil {
			return err
		}
	}
	if d < 0 || j < 0 || j > d {
		return fmt.Errorf("latency %q: want 0 ≤ jitter ≤ latency", s)
	}
	*l = latency{d, j}
	return nil
}

// storageWithLatency wraps store in latencystore with the latency l (none
// if l is zero: the calls are then only counted).
func storageWithLatency(store chatfly.Storage, l latency) *latencystore.Store {
	return latencystore.New(store, &latencystore.Options{Latency: l.d, Jitter: l.jitter, Seed: uint64(time.Now().UnixNano())})
}

// serveStorageStats serves the counts of s at storageStatsPath on mux.
func serveStorageStats(mux *http.ServeMux, s *latencystore.Store) {
	mux.HandleFunc("GET "+storageStatsPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Stats())
	})
}

// storageStats returns the counts of the storage calls of every node of
// t, summed; false if a node does not serve them (the floor).
func (t *target) storageStats(ctx context.Context) (latencystore.Stats, bool) {
	var sum latencystore.Stats
	for _, ws := range t.endpoints() {
		u, err := url.Parse(ws)
		if err != nil {
			return sum, false
		}
		u.Scheme = strings.Replace(u.Scheme, "ws", "http", 1)
		u.Path, u.RawQuery = storageStatsPath, ""
		st, err := fetchStats(ctx, u.String())
		if err != nil {
			return sum, false
		}
		sum = sum.Add(st)
	}
	return sum, true
}

func fetchStats(ctx context.Context, u string) (latencystore.Stats, error) {
	var st latencystore.Stats
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: %s", u, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// storageMetrics are the per-message storage figures of S1 and S2.
var storageMetrics = []metric{
	{"storage_calls_per_msg", "storage calls/msg", "%.2f"},
	{"storage_rounds_per_msg", "storage round trips/msg", "%.2f"},
	{"rcu_per_msg", "DynamoDB RCU/msg (est.)", "%.2f"},
	{"wcu_per_msg", "DynamoDB WCU/msg (est.)", "%.2f"},
}

// runMeasured runs a phase of load ld with run and reports it, with the
// counts of the target's storage calls per message sent: in all
// (storage_calls_per_msg ...), by kind of call (storage_<Op>_per_msg), and
// the latency injected into them (storage_latency_ms_per_msg). The counts
// cover the whole phase, warm-up and drain included (every call the
// phase's sends caused, however late), over every message the phase sent.
func runMeasured(ctx context.Context, t *target, ld load, run func() *phaseResult) sample {
	before, ok := t.storageStats(ctx)
	r := run()
	s := phaseSample(r)
	after, ok2 := t.storageStats(ctx)
	// The schedule hands out TotalRate sends per second from the start of
	// the warm-up to the end of the measured time (load.go).
	sent := math.Round(r.TotalRate*(ld.warmup+ld.duration).Seconds()) - float64(r.Skipped)
	if ok && ok2 && sent > 0 {
		addStorageMetrics(s.Metrics, after.Sub(before), sent)
	}
	return s
}

// addStorageMetrics adds the counts st of msgs messages to m.
func addStorageMetrics(m map[string]float64, st latencystore.Stats, msgs float64) {
	tot := st.Total()
	m["storage_calls_per_msg"] = float64(tot.Calls) / msgs
	m["storage_rounds_per_msg"] = float64(tot.Rounds) / msgs
	m["rcu_per_msg"] = float64(tot.RCU) / msgs
	m["wcu_per_msg"] = float64(tot.WCU) / msgs
	m["storage_latency_ms_per_msg"] = ms(tot.Slept) / msgs // summed over the calls, parallel ones too
	for op, c := range st {
		if c.Calls > 0 {
			m["storage_"+latencystore.Op(op).String()+"_per_msg"] = float64(c.Calls) / msgs
		}
	}
}
