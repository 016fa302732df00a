package wstransport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatfly/chatfly/relay/memrelay"
	"github.com/chatfly/chatfly/transport/wstransport"
)

// BenchmarkSendMany fans one 100-byte frame out to 1000 WebSocket clients
// on loopback per operation, and counts an operation done when every client
// has read its frame: ns/op is the cost of delivering one broadcast to 1000
// connections, writers and (in-process) client readers included, and
// allocs/op counts every allocation of the process meanwhile. Up to half a
// queue of broadcasts is in flight, so writers coalesce as they would under
// load. ns/delivery is ns/op / 1000; ns/SendMany is the time spent in the
// SendMany call alone (enqueueing to 1000 queues). With nodes=3 the clients
// are spread over three Transports joined by memrelay, and the first one
// sends: two thirds of each fan-out go through the relay (two messages).
//
// cpu-ns/delivery is the process's CPU time (getrusage: Transport, writers
// and client readers) per delivery, steadier than ns/delivery on a shared
// machine. With window=0 every broadcast is read by all before the next is
// sent, so each connection writes one frame per message (the light load of
// S1): the cost per write, not per coalesced frame.
func BenchmarkSendMany(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) { benchSendMany(b, nodes, 256/4) })
	}
	b.Run("window=0", func(b *testing.B) { benchSendMany(b, 1, 0) })
}

func benchSendMany(b *testing.B, nodes int, window int64) {
	const conns = 1000
	const queue = 256

	relay := memrelay.New(nil)
	envs := make([]*env, nodes)
	for i := range envs {
		envs[i] = newEnv(b, envConfig{opts: &wstransport.Options{
			QueueSize:    queue,
			PingInterval: -1,
			Logger:       slog.New(slog.DiscardHandler),
			NodeID:       fmt.Sprint("n", i),
			Relay:        relay,
		}})
	}
	e := envs[0]
	ids := make([]string, conns)
	counts := make([]atomic.Int64, conns)
	var total, messages atomic.Int64
	var wg sync.WaitGroup
	for i := range conns {
		ei := envs[i%nodes]
		c, id := ei.dial(ei.url, nil)
		ids[i] = id
		wg.Go(func() { countFrames(c, &counts[i], &total, &messages) })
	}
	// allReached waits until every client has read n frames (polling
	// every few µs: the wait burns little CPU, see cpu-ns/delivery).
	allReached := func(n int64) {
		for total.Load() < n*conns {
			time.Sleep(5 * time.Microsecond)
		}
		for i := range counts {
			for counts[i].Load() < n {
				runtime.Gosched()
			}
		}
	}
	frame := bytes.Repeat([]byte("x"), 100)
	var sent int64
	var inSendMany time.Duration

	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	for b.Loop() {
		switch {
		case window == 0:
			allReached(sent)
		case sent%window == 0 && sent >= window:
			allReached(sent - window)
		}
		t0 := time.Now()
		gone, _ := e.tr.SendMany(bg, ids, frame)
		inSendMany += time.Since(t0)
		if len(gone) != 0 {
			b.Fatalf("%d connections gone", len(gone))
		}
		sent++
	}
	allReached(sent)
	elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(sent*conns), "cpu-ns/delivery")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(sent*conns), "ns/delivery")
	b.ReportMetric(float64(inSendMany.Nanoseconds())/float64(sent), "ns/SendMany")
	b.ReportMetric(float64(total.Load())/float64(messages.Load()), "frames/message")

	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	for _, e := range envs {
		if err := e.tr.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countFrames reads messages without allocating and adds the number of
// '\n'-separated frames in each to n and total, and 1 to messages.
func countFrames(c *websocket.Conn, n, total, messages *atomic.Int64) {
	buf := make([]byte, 4096)
	for {
		_, r, err := c.Reader(bg)
		if err != nil {
			return
		}
		frames := int64(1)
		for {
			k, err := r.Read(buf)
			frames += int64(bytes.Count(buf[:k], []byte{'\n'}))
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return
			}
		}
		n.Add(frames)
		total.Add(frames)
		messages.Add(1)
	}
}
