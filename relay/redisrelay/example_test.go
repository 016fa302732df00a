package redisrelay_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/relay/redisrelay"
)

func Example() {
	mr, _ := miniredis.Run() // in production: your Redis
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()
	relay := redisrelay.New(client, nil)

	// Node "b" subscribes to its inbox (wstransport does this for you).
	got := make(chan chatfly.RelayMessage, 1)
	stop, err := relay.Subscribe(context.Background(), "b", func(m chatfly.RelayMessage) { got <- m })
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	// Node "a" hands it a frame for two of its connections.
	err = relay.Publish(context.Background(), "b", chatfly.RelayMessage{Conns: []string{"b.1", "b.2"}, Frame: []byte(`{"type":"typing"}`)})
	fmt.Println(err)
	m := <-got
	fmt.Println(m.Conns, string(m.Frame))

	// A node nobody serves is gone.
	err = relay.Publish(context.Background(), "c", chatfly.RelayMessage{Conns: []string{"c.1"}, Frame: []byte("{}")})
	fmt.Println(errors.Is(err, chatfly.ErrGone))
	// Output:
	// <nil>
	// [b.1 b.2] {"type":"typing"}
	// true
}
