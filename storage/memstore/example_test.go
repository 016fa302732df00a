package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

// Example stores the messages of a room under sort keys made from the room's
// sequence counter, and reads the latest two back.
func Example() {
	ctx := context.Background()
	s := memstore.New(nil)

	room := "room#lobby"
	seqKey := chatfly.Key{Partition: room, Sort: "seq"}
	for _, text := range []string{"hi", "hello", "bye"} {
		seq, err := s.Add(ctx, seqKey, 1, time.Time{}) // gapless message numbers
		if err != nil {
			panic(err)
		}
		msg := chatfly.Item{
			Key:     chatfly.Key{Partition: room, Sort: fmt.Sprintf("msg#%08d", seq)},
			Value:   []byte(text),
			Expires: time.Now().Add(time.Hour),
		}
		if _, err := s.Put(ctx, msg, chatfly.IfAbsent); err != nil {
			panic(err)
		}
	}

	seq, _ := s.Get(ctx, seqKey)
	fmt.Println("messages:", seq.N)

	latest, _ := s.Query(ctx, chatfly.Query{Partition: room, Prefix: "msg#", Reverse: true, Limit: 2})
	for _, it := range latest {
		fmt.Printf("%s %s\n", it.Sort, it.Value)
	}

	// Compare-and-set: a write conditioned on the version read holds once;
	// a second one, holding the same stale version, changes nothing.
	edit := chatfly.Item{Key: latest[0].Key, Value: []byte("edited")}
	_, err := s.Put(ctx, edit, chatfly.IfVersion(latest[0].Version))
	fmt.Println("edit:", err)
	_, err = s.Put(ctx, edit, chatfly.IfVersion(latest[0].Version))
	fmt.Println("stale edit:", errors.Is(err, chatfly.ErrConflict))

	_, err = s.Get(ctx, chatfly.Key{Partition: room, Sort: "msg#00000009"})
	fmt.Println("missing:", errors.Is(err, chatfly.ErrNotFound))
	fmt.Println("items:", s.Len())
	// Output:
	// messages: 3
	// msg#00000003 bye
	// msg#00000002 hello
	// edit: <nil>
	// stale edit: true
	// missing: true
	// items: 4
}
