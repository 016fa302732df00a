package main

import (
	"math/bits"
	"time"
)

// histogram counts latencies in buckets of about 3% relative width: values
// below 64 ns are exact, every power of two above is split into 32 buckets.
// It records nanoseconds from 0 to the int64 maximum in a fixed array, so
// recording never allocates, and two histograms merge by adding counts.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    int64
	sum    float64
}

const (
	histExact   = 64 // values below are their own bucket
	histSub     = 32 // buckets per power of two above histExact
	histBuckets = histExact + (64-6)*histSub
)

// bucketOf returns the bucket of v nanoseconds.
func bucketOf(v int64) int {
	if v < histExact {
		return int(max(v, 0))
	}
	n := bits.Len64(uint64(v)) // v in [2^(n-1), 2^n), n >= 7
	shift := n - 6             // v>>shift in [32, 64)
	return histExact + (n-7)*histSub + int(uint64(v)>>shift) - histSub
}

// bucketRange returns the smallest and largest value of bucket b.
func bucketRange(b int) (lo, hi int64) {
	if b < histExact {
		return int64(b), int64(b)
	}
	b -= histExact
	n := b/histSub + 7
	shift := n - 6
	m := int64(b%histSub + histSub)
	lo = m << shift
	return lo, lo + (1 << shift) - 1
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0 // clocks of one process: only rounding can make it negative
	}
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
	h.max = max(h.max, v)
}

// merge adds the counts of o to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of the recorded
// ones lie: the middle of its bucket, capped by the exact maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(b)
			return time.Duration(min(lo+(hi-lo)/2, h.max))
		}
	}
	return time.Duration(h.max)
}

// mean returns the average latency.
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}
