package chatfly_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/latencystore"
	"github.com/chatfly/chatfly/storage/memstore"
)

// countTransport counts deliveries and remembers the distinct frame buffers
// a fan-out used. It implements Broadcaster like the real transports.
type countTransport struct {
	mu         sync.Mutex
	deliveries int
	buffers    map[*byte]int
}

func (t *countTransport) Send(_ context.Context, _ string, frame []byte) error {
	t.mu.Lock()
	t.deliveries++
	if t.buffers != nil {
		t.buffers[unsafe.SliceData(frame)]++
	}
	t.mu.Unlock()
	return nil
}

func (t *countTransport) SendMany(ctx context.Context, conns []string, frame []byte) ([]string, error) {
	for _, c := range conns {
		_ = t.Send(ctx, c, frame)
	}
	return nil, nil
}

func (t *countTransport) Close(context.Context, string, chatfly.CloseCode, string) error { return nil }

// roomOf connects n members to lobby and returns the hub and a sender.
// The options of the hub are changed by each of opts.
func roomOf(tb testing.TB, n int, tr chatfly.Transport, opts ...func(*chatfly.Options)) (*chatfly.Hub, string) {
	tb.Helper()
	return roomOn(tb, memstore.New(nil), n, tr, opts...)
}

// roomOn is roomOf over store.
func roomOn(tb testing.TB, store chatfly.Storage, n int, tr chatfly.Transport, opts ...func(*chatfly.Options)) (*chatfly.Hub, string) {
	tb.Helper()
	ctx := context.Background()
	o := &chatfly.Options{Rooms: chatfly.DefaultRooms(), RateLimit: chatfly.RateLimit{Count: -1}}
	for _, f := range opts {
		f(o)
	}
	hub := chatfly.New(store, tr, o)
	for i := range n {
		conn := "conn-" + strconv.Itoa(i)
		if err := hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: conn}); err != nil {
			tb.Fatal(err)
		}
		for _, f := range []string{`{"action":"hello","name":"m` + strconv.Itoa(i) + `"}`, `{"action":"join","room":"lobby"}`} {
			if err := hub.Receive(ctx, conn, []byte(f)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return hub, "conn-0"
}

// Every recipient of a message gets the very same encoded bytes: the
// message is encoded once, not once per recipient.
func TestFanoutEncodesOnce(t *testing.T) {
	tr := &countTransport{}
	hub, sender := roomOf(t, 50, tr)
	tr.buffers = map[*byte]int{}
	if err := hub.Receive(context.Background(), sender, []byte(`{"action":"send","room":"lobby","text":"once"}`)); err != nil {
		t.Fatal(err)
	}
	// 50 deliveries of the message share one buffer; the "sent" reply is
	// the only other frame.
	shared := 0
	for _, n := range tr.buffers {
		shared = max(shared, n)
	}
	if shared != 50 || len(tr.buffers) != 2 {
		t.Fatalf("buffers used: %v, want one shared by 50 deliveries plus the reply", tr.buffers)
	}
}

func benchmarkFanout(b *testing.B, members int, opts ...func(*chatfly.Options)) {
	tr := &countTransport{}
	hub, sender := roomOf(b, members, tr, opts...)
	frame := []byte(`{"action":"send","room":"lobby","text":"hello, everyone in the room"}`)
	ctx := context.Background()
	tr.deliveries = 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := hub.Receive(ctx, sender, frame); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tr.deliveries)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkFanout measures one message sent to a room (Receive through
// storage to the transport's SendMany) with memstore.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run("members="+strconv.Itoa(n), func(b *testing.B) { benchmarkFanout(b, n) })
	}
}

// sizeTransport remembers the size of the last frame sent.
type sizeTransport struct {
	countTransport
	last int
}

func (t *sizeTransport) Send(ctx context.Context, conn string, frame []byte) error {
	t.last = len(frame)
	return t.countTransport.Send(ctx, conn, frame)
}

// BenchmarkRoomsPage measures the first page of the rooms action (the
// whole list before it was paginated) with n public custom rooms in
// memstore, and reports the reply's size.
func BenchmarkRoomsPage(b *testing.B) {
	for _, n := range []int{10, 5000} {
		b.Run("rooms="+strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			tr := &sizeTransport{}
			hub := chatfly.New(memstore.New(nil), tr, &chatfly.Options{Rooms: chatfly.DefaultRooms(), RateLimit: chatfly.RateLimit{Count: -1}, RoomsPerHour: n})
			if err := hub.Connect(ctx, &chatfly.ConnectRequest{ConnID: "c"}); err != nil {
				b.Fatal(err)
			}
			frames := []string{`{"action":"hello","name":"Ada"}`}
			for range n {
				frames = append(frames, `{"action":"room.create","name":"a room","topic":"about things","visibility":"public"}`)
			}
			for _, f := range frames {
				if err := hub.Receive(ctx, "c", []byte(f)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := hub.Receive(ctx, "c", []byte(`{"action":"rooms"}`)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tr.last), "reply-bytes")
		})
	}
}

// BenchmarkRoomThroughput measures one room's message rate when every
// storage call takes 3 ms ± 1 ms (storage/latencystore over memstore, the
// order of an in-region DynamoDB call): 50 members each send their share
// of the messages at once, one message after another. The Hub's calls for
// one post are sequential, so the rate shows how far posts to one room
// overlap (issue 15: at least 500 messages/s).
func BenchmarkRoomThroughput(b *testing.B) {
	const members = 50
	tr := &countTransport{}
	store := latencystore.New(memstore.New(nil), &latencystore.Options{Latency: 3 * time.Millisecond, Jitter: time.Millisecond})
	hub, _ := roomOn(b, store.Storage(), members, tr)
	ctx := context.Background()
	var left atomic.Int64
	left.Store(int64(b.N))
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range members {
		conn := "conn-" + strconv.Itoa(i)
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := hub.Receive(ctx, conn, []byte(`{"action":"send","room":"lobby","text":"hi"}`)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
