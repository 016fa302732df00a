package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/redisstore"
)

// Store items in Redis (here miniredis, in process): number two messages
// from a room's counter, store them, and read the latest ones back.
func Example() {
	srv := miniredis.NewMiniRedis()
	if err := srv.StartAddr("127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	defer client.Close()

	store, err := redisstore.New(client, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	day := time.Now().Add(24 * time.Hour)
	for _, text := range []string{"hello", "hi!"} {
		seq, err := store.Add(ctx, chatfly.Key{Partition: "room#lobby", Sort: "seq"}, 1, day)
		if err != nil {
			log.Fatal(err)
		}
		msg := chatfly.Item{
			Key:     chatfly.Key{Partition: "room#lobby", Sort: fmt.Sprintf("msg#%08d", seq)},
			Value:   []byte(text),
			Expires: day,
		}
		if _, err := store.Put(ctx, msg, chatfly.IfAbsent); err != nil {
			log.Fatal(err)
		}
	}

	msgs, err := store.Query(ctx, chatfly.Query{Partition: "room#lobby", Prefix: "msg#", Reverse: true, Limit: 50})
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		fmt.Println(m.Sort, string(m.Value))
	}

	// The keys in Redis: the room's index, its items, its expiries.
	keys, err := client.Keys(ctx, "*").Result()
	if err != nil {
		log.Fatal(err)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Println(k)
	}
	// Output:
	// msg#00000002 hi!
	// msg#00000001 hello
	// chatfly:{room#lobby}
	// chatfly:{room#lobby}:msg#00000001
	// chatfly:{room#lobby}:msg#00000002
	// chatfly:{room#lobby}:seq
	// chatfly:{room#lobby}~
}
