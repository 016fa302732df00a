package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the tool's output: the human table is printed from it and the
// JSON file is its encoding.
type report struct {
	Started      string            `json:"started"`
	Machine      machine           `json:"machine"`
	LoadAvgStart string            `json:"load_average_start"`
	LoadAvgEnd   string            `json:"load_average_end"`
	Targets      []string          `json:"targets"`
	Runs         int               `json:"runs"`
	Settings     map[string]string `json:"settings"`
	Scenarios    []*scenarioReport `json:"scenarios"`
}

type machine struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go"`
	OS        string `json:"os"`
	Model     string `json:"cpu_model,omitempty"`
	MemTotal  string `json:"mem_total,omitempty"`
}

func thisMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.MemTotal = strings.TrimSpace(v)
			}
		}
	}
	return m
}

// scenarioReport holds every sample of one scenario and their medians.
type scenarioReport struct {
	Name    string                        `json:"name"`
	Title   string                        `json:"title"`
	Samples map[string][]sample           `json:"samples"`
	Median  map[string]map[string]float64 `json:"median"`
	// Ratio is the measured target's median over the floor's, per metric.
	Ratio map[string]float64 `json:"ratio_to_floor,omitempty"`

	sc *scenario
}

// summarize computes the medians and ratios.
func (sr *scenarioReport) summarize(targets []string) {
	sr.Median = map[string]map[string]float64{}
	for _, t := range targets {
		keys := map[string][]float64{}
		for _, s := range sr.Samples[t] {
			for k, v := range s.Metrics {
				keys[k] = append(keys[k], v)
			}
		}
		med := map[string]float64{}
		for k, vs := range keys {
			if v := median(vs); !math.IsNaN(v) {
				med[k] = v
			}
		}
		sr.Median[t] = med
	}
	measured, floor := ratioPair(targets)
	if measured == "" {
		return
	}
	sr.Ratio = map[string]float64{}
	for k, v := range sr.Median[measured] {
		if f, ok := sr.Median[floor][k]; ok && f != 0 {
			sr.Ratio[k] = v / f
		}
	}
}

// ratioPair returns the target compared with the floor, and the floor.
func ratioPair(targets []string) (measured, floor string) {
	hasFloor := false
	for _, t := range targets {
		if t == "floor" {
			hasFloor = true
		} else if measured == "" {
			measured = t
		}
	}
	if !hasFloor {
		return "", ""
	}
	return measured, "floor"
}

// printTable writes the human-readable report.
func (r *report) printTable(w io.Writer) {
	fmt.Fprintf(w, "chatfly-bench  %s  %d CPUs (%s), %s, %s\n", r.Started, r.Machine.CPUs, r.Machine.Model, r.Machine.MemTotal, r.Machine.GoVersion)
	fmt.Fprintf(w, "load average: %s at start, %s at end; medians of %d run(s)\n", r.LoadAvgStart, r.LoadAvgEnd, r.Runs)
	measured, floor := ratioPair(r.Targets)
	for _, sr := range r.Scenarios {
		fmt.Fprintf(w, "\n== %s\n", sr.Title)
		for _, t := range r.Targets {
			for i, s := range sr.Samples[t] {
				if s.Error != "" {
					fmt.Fprintf(w, "   %s run %d: error: %s\n", t, i+1, s.Error)
				}
				if s.Note != "" {
					fmt.Fprintf(w, "   %s run %d: %s\n", t, i+1, s.Note)
				}
			}
		}
		if len(sr.sc.metrics) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "metric\t")
		for _, t := range r.Targets {
			fmt.Fprintf(tw, "%s\t", t)
		}
		if measured != "" {
			fmt.Fprintf(tw, "%s/%s\t", measured, floor)
		}
		fmt.Fprintln(tw)
		for _, m := range sr.sc.metrics {
			fmt.Fprintf(tw, "%s\t", m.label)
			for _, t := range r.Targets {
				if v, ok := sr.Median[t][m.key]; ok {
					fmt.Fprintf(tw, m.format+"\t", v)
				} else {
					fmt.Fprintf(tw, "-\t")
				}
			}
			if measured != "" {
				if v, ok := sr.Ratio[m.key]; ok {
					fmt.Fprintf(tw, "%.2f\t", v)
				} else {
					fmt.Fprintf(tw, "-\t")
				}
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
}

// writeSVGs writes one latency histogram per scenario that has latencies
// into dir, and returns the files written.
func (r *report) writeSVGs(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, sr := range r.Scenarios {
		hs := map[string]*histogram{}
		for _, t := range r.Targets {
			var h histogram
			for _, s := range sr.Samples[t] {
				if s.hist != nil {
					h.merge(s.hist)
				}
			}
			if h.n > 0 {
				hs[t] = &h
			}
		}
		if len(hs) == 0 {
			continue
		}
		name := filepath.Join(dir, "latency-"+sr.Name+".svg")
		if err := os.WriteFile(name, []byte(histogramSVG(sr.Title, r.Targets, hs)), 0o644); err != nil {
			return files, err
		}
		files = append(files, name)
	}
	return files, nil
}

// histogramSVG draws the latency distribution of each target as a step
// line on a logarithmic time axis: the share of deliveries per bin.
func histogramSVG(title string, targets []string, hs map[string]*histogram) string {
	const (
		width, height = 720, 360
		left, right   = 60, 20
		top, bottom   = 76, 50
		bins          = 80
	)
	lo, hi := math.Inf(1), 0.0
	for _, h := range hs {
		lo = math.Min(lo, float64(h.quantile(0.0001)))
		hi = math.Max(hi, float64(h.max))
	}
	lo = math.Max(math.Pow(10, math.Floor(math.Log10(math.Max(lo, 1000)))), 1000) // ≥ 1 µs
	hi = math.Pow(10, math.Ceil(math.Log10(math.Max(hi, lo*10))))
	llo, lhi := math.Log10(lo), math.Log10(hi)
	x := func(v float64) float64 {
		return left + (math.Log10(v)-llo)/(lhi-llo)*(width-left-right)
	}
	shares := map[string][]float64{}
	peak := 0.0
	for t, h := range hs {
		s := make([]float64, bins)
		for b, c := range h.counts {
			if c == 0 {
				continue
			}
			blo, bhi := bucketRange(b)
			mid := math.Max(float64(blo+(bhi-blo)/2), lo)
			i := int((math.Log10(mid) - llo) / (lhi - llo) * bins)
			i = min(max(i, 0), bins-1)
			s[i] += float64(c) / float64(h.n)
		}
		for _, v := range s {
			peak = math.Max(peak, v)
		}
		shares[t] = s
	}
	y := func(v float64) float64 { return top + (1-v/peak)*(height-top-bottom) }
	colors := []string{"#d62728", "#1f77b4", "#2ca02c", "#ff7f0e"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">%s: latency (share per bin, all runs merged)</text>`+"\n", left, xmlEscape(title))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, height-bottom, width-right, height-bottom)
	for d := lo; d <= hi*1.0001; d *= 10 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ccc"/>`+"\n", x(d), top, x(d), height-bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(d), height-bottom+16, time.Duration(d))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">latency (log scale)</text>`+"\n", (width+left)/2, height-12)
	names := make([]string, 0, len(shares))
	for _, t := range targets {
		if _, ok := shares[t]; ok {
			names = append(names, t)
		}
	}
	for i, t := range names {
		s := shares[t]
		var pts strings.Builder
		for k, v := range s {
			x0 := left + float64(k)/bins*(width-left-right)
			x1 := left + float64(k+1)/bins*(width-left-right)
			fmt.Fprintf(&pts, "%.1f,%.1f %.1f,%.1f ", x0, y(v), x1, y(v))
		}
		c := colors[i%len(colors)]
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", c, pts.String())
		h := hs[t]
		r := 10 * time.Microsecond
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s: p50 %s, p99 %s, max %s (%d samples)</text>`+"\n",
			left, 24+16*(i+1), c, xmlEscape(t), h.quantile(0.5).Round(r), h.quantile(0.99).Round(r), time.Duration(h.max).Round(r), h.n)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
