package latencystore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/latencystore"
	"github.com/chatfly/chatfly/storage/memstore"
)

// Example gives the memory store the latency of a DynamoDB call and counts
// what a message costs: the room's sequence number, the message, and the
// members to fan it out to.
func Example() {
	ctx := context.Background()
	s := latencystore.New(memstore.New(nil), &latencystore.Options{Latency: 3 * time.Millisecond, Jitter: time.Millisecond})

	room := "room#lobby"
	seq, _ := s.Add(ctx, chatfly.Key{Partition: room, Sort: "seq"}, 1, time.Time{})
	msg := chatfly.Item{Key: chatfly.Key{Partition: room, Sort: fmt.Sprintf("msg#%08d", seq)}, Value: make([]byte, 1500)}
	if _, err := s.Put(ctx, msg, chatfly.IfAbsent); err != nil {
		panic(err)
	}
	if _, err := s.Query(ctx, chatfly.Query{Partition: room, Prefix: "mem#"}); err != nil {
		panic(err)
	}

	st := s.Stats()
	total := st.Total()
	fmt.Println("calls:", total.Calls, "round trips:", total.Rounds)
	fmt.Println("Put:", st[latencystore.OpPut].WCU, "WCU")
	fmt.Println("in all:", total.RCU, "RCU,", total.WCU, "WCU")
	fmt.Println("latency added at least 6 ms:", total.Slept >= 6*time.Millisecond)
	// Output:
	// calls: 3 round trips: 3
	// Put: 2 WCU
	// in all: 1 RCU, 3 WCU
	// latency added at least 6 ms: true
}
