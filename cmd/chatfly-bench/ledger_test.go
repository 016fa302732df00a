package main

import (
	"testing"
	"time"
)

func TestSeqSet(t *testing.T) {
	var s seqSet
	for _, v := range []int64{1, 64, 65, 200, 3} {
		if s.add(v) {
			t.Fatalf("add(%d) reported a duplicate", v)
		}
	}
	if !s.add(64) || !s.add(1) {
		t.Fatal("second add not reported as a duplicate")
	}
	if s.n != 5 || !s.has(200) || s.has(2) || s.has(0) || s.has(1000) {
		t.Fatalf("set is wrong: n=%d", s.n)
	}
	var got []int64
	s.each(func(v int64) { got = append(got, v) })
	want := []int64{1, 3, 64, 65, 200}
	if len(got) != len(want) {
		t.Fatalf("each = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("each = %v, want %v", got, want)
		}
	}
}

// Two rooms: room A has members 0, 1, 2; room B has 3, 4.
func TestAccountLossDuplicatesReordering(t *testing.T) {
	rooms := [][]int{{0, 1, 2}, {3, 4}}
	sends := make([]*sendLedger, 5)
	recvs := make([]*recvLedger, 5)
	for i := range sends {
		sends[i], recvs[i] = &sendLedger{}, &recvLedger{}
	}
	// Member 0 sends 1..4 (all confirmed), member 3 sends 1..2, the second
	// one failing (no "sent").
	for seq := int64(1); seq <= 4; seq++ {
		sends[0].done(sends[0].nextSeq(), true, seq > 1) // seq 1 is warm-up
	}
	sends[3].done(sends[3].nextSeq(), true, true)
	sends[3].done(sends[3].nextSeq(), false, true)

	ms := time.Millisecond
	// Member 1 gets everything from 0, in order, plus a duplicate of 2.
	for seq := int64(1); seq <= 4; seq++ {
		recvs[1].record(0, seq, seq > 1, ms)
	}
	if recvs[1].record(0, 2, true, 50*ms) {
		t.Fatal("duplicate reported as a first delivery")
	}
	// Member 2 gets 1, 3, 2 (reordered) and never 4 (lost).
	recvs[2].record(0, 1, false, ms)
	recvs[2].record(0, 3, true, 2*ms)
	recvs[2].record(0, 2, true, 3*ms)
	// Member 4 gets both of 3's messages, the unconfirmed one too.
	recvs[4].record(3, 1, true, ms)
	recvs[4].record(3, 2, true, ms)

	got := account(rooms, sends, recvs)
	want := tally{
		Expected:    4*2 + 1, // 0's four messages to 1 and 2; 3's confirmed one to 4
		Delivered:   4 + 3 + 2,
		Lost:        1, // 4 to member 2
		Duplicated:  1,
		Reordered:   1,
		Measured:    3 + 2 + 2, // warm-up seq 1 excluded
		Unconfirmed: 1,
		SendFailed:  1,
	}
	got.lat = histogram{}
	if got != want {
		t.Fatalf("account =\n%+v, want\n%+v", got, want)
	}
	// The latencies of measured first deliveries only: seven values, the
	// duplicate's 50 ms excluded.
	full := account(rooms, sends, recvs)
	if full.lat.n != 7 || full.lat.max != int64(3*ms) {
		t.Fatalf("latency histogram: n=%d max=%v", full.lat.n, time.Duration(full.lat.max))
	}
}

func TestHistogram(t *testing.T) {
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 123456789, 1<<62 + 12345} {
		b := bucketOf(v)
		lo, hi := bucketRange(b)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d = [%d, %d]", v, b, lo, hi)
		}
		if b >= histBuckets {
			t.Errorf("bucket %d of %d out of range", b, v)
		}
		if v >= 64 && float64(hi-lo+1)/float64(lo) > 1.0/32+1e-9 {
			t.Errorf("bucket of %d is %d wide", v, hi-lo+1)
		}
	}
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	check := func(q float64, want time.Duration) {
		t.Helper()
		got := h.quantile(q)
		if d := float64(got-want) / float64(want); d > 0.04 || d < -0.04 {
			t.Errorf("quantile(%v) = %v, want about %v", q, got, want)
		}
	}
	check(0.5, 500*time.Microsecond)
	check(0.9, 900*time.Microsecond)
	check(0.99, 990*time.Microsecond)
	if h.quantile(1) != time.Millisecond || time.Duration(h.max) != time.Millisecond {
		t.Errorf("max = %v, quantile(1) = %v", time.Duration(h.max), h.quantile(1))
	}
	var m histogram
	m.merge(&h)
	m.merge(&h)
	if m.n != 2000 || m.quantile(0.5) != h.quantile(0.5) {
		t.Errorf("merge: n=%d p50=%v", m.n, m.quantile(0.5))
	}
}

func TestText(t *testing.T) {
	b := appendText(nil, 7, 123, 45, 1767225600000000000)
	id, sender, seq, sched, ok := parseText(string(b))
	if !ok || id != 7 || sender != 123 || seq != 45 || sched != 1767225600000000000 {
		t.Fatalf("parseText(%q) = %d %d %d %d %v", b, id, sender, seq, sched, ok)
	}
	for _, bad := range []string{"", "hello", "bench 1 2 3", "bench 1 2 3 x", "bench -1 2 3 4"} {
		if _, _, _, _, ok := parseText(bad); ok {
			t.Errorf("parseText(%q) accepted", bad)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	stat := "4242 (chat (fly) bench) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 0 0"
	cpu, err := parseStatCPU([]byte(stat))
	if err != nil || cpu != 3*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", cpu, err)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"ws://127.0.0.1:8080/ws", "ws://127.0.0.5:1/ws", "ws://localhost:8080/ws", "ws://[::1]:80/ws"} {
		if err := checkLoopbackURL(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"ws://10.0.0.1:8080/ws", "ws://example.com/ws", "ftp://127.0.0.1/", "ws://192.168.1.1/"} {
		if err := checkLoopbackURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
}
