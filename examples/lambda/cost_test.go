package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/transport/apigw/apigwlocal"
)

// callCounter counts what the cost model of README.md multiplies by the
// prices: Lambda invocations (Hub frames) and their storage calls, from an
// Observer, and PostToConnection calls, from the emulator.
type callCounter struct {
	posts atomic.Int64

	mu      sync.Mutex
	frames  map[string]int // by action
	storage map[string]int // storage calls by action
}

func (c *callCounter) Frame(_ context.Context, f chatfly.FrameStats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames[f.Action]++
	c.storage[f.Action] += f.StorageCalls
}

func (c *callCounter) Failure(context.Context, chatfly.Failure) {}

func (c *callCounter) fault(op apigwlocal.Op, _ string) *apigwlocal.Fault {
	if op == apigwlocal.OpPost {
		c.posts.Add(1)
	}
	return nil
}

// take returns the counts since the last take, for action, once there are
// want frames of it (the Observer hears of a frame after its replies).
func (c *callCounter) take(t *testing.T, action string, want int) (frames, storage int, posts int64) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		if c.frames[action] >= want || time.Now().After(deadline) {
			break
		}
		c.mu.Unlock()
	}
	defer c.mu.Unlock()
	frames, storage = c.frames[action], c.storage[action]
	clear(c.frames)
	clear(c.storage)
	return frames, storage, c.posts.Swap(0)
}

// TestCostModel measures the calls behind the cost model of README.md:
// per chat message in a room of n members, and per 30 seconds of one
// member typing (a typing frame every 3 s, as clients send it), on the
// Hub's fake clock. It checks what the model relies on: a message costs
// one invocation and n+1 posts (the message to every member, the sender
// included, and the sender's reply),
// typing at most one fan-out per 5 s and none above TypingMaxMembers.
func TestCostModel(t *testing.T) {
	for _, n := range []int{10, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cc := &callCounter{frames: map[string]int{}, storage: map[string]int{}}
			clock := &fakeClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
			s := startStack(t, testConfig{
				store: memstore.New(&memstore.Options{Now: clock.now}),
				hub: &chatfly.Options{Observer: cc, Now: clock.now, RateLimit: chatfly.RateLimit{Count: -1},
					AddressLimits: chatfly.AddressLimits{Connections: 1000, SessionsPerHour: 1000}},
				emu: &apigwlocal.Options{Fault: cc.fault},
			})
			members := make([]*client.Client, n)
			for i := range members {
				members[i] = dial(t, s, fmt.Sprint("m", i), nil)
				if _, err := members[i].Join(ctxFor(t), "lobby", 0); err != nil {
					t.Fatal(err)
				}
			}
			cc.take(t, "join", n)
			const msgs = 10
			for i := range msgs {
				if _, err := members[0].Send(ctxFor(t), "lobby", fmt.Sprint("hello ", i)); err != nil {
					t.Fatal(err)
				}
			}
			frames, storage, posts := cc.take(t, "send", msgs)
			if frames != msgs || posts != int64(msgs*(n+1)) {
				t.Fatalf("%d messages: %d invocations, %d posts; want %d and %d", msgs, frames, posts, msgs, msgs*(n+1))
			}
			t.Logf("n=%d, per message: 1 invocation, %d posts, %.1f storage calls", n, n+1, float64(storage)/msgs)

			const typings = 10 // 30 s of typing
			for range typings {
				if err := members[1].Typing(ctxFor(t), "lobby"); err != nil {
					t.Fatal(err)
				}
				if _, err := members[1].Do(ctxFor(t), "ping", nil); err != nil { // the typing frame is handled
					t.Fatal(err)
				}
				clock.advance(3 * time.Second)
			}
			frames, storage, posts = cc.take(t, "typing", typings)
			posts -= typings // the pings' replies
			wantMax := int64(0)
			if n <= chatfly.DefaultTypingMaxMembers {
				wantMax = int64(7 * (n - 1)) // 30 s in windows of 5 s
			}
			if frames != typings || posts > wantMax {
				t.Fatalf("30 s of typing: %d invocations, %d posts; want %d, at most %d", frames, posts, typings, wantMax)
			}
			t.Logf("n=%d, per 30 s of typing: %d invocations, %d posts, %.1f storage calls each", n, frames, posts, float64(storage)/float64(frames))
		})
	}
}

// fakeClock is the Hubs' clock in TestCostModel.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
