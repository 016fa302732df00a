package chatfly_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/memstore"
)

// nameRaceStore remembers the name item a join claims, and once armed
// deletes it just before the first Get of it: the session's old connection
// leaving the room at that moment.
type nameRaceStore struct {
	chatfly.Storage
	mu    sync.Mutex
	name  chatfly.Key
	armed bool
}

func (s *nameRaceStore) Put(ctx context.Context, it chatfly.Item, c chatfly.Cond) (int64, error) {
	if strings.HasPrefix(it.Sort, "name#") {
		s.mu.Lock()
		s.name = it.Key
		s.mu.Unlock()
	}
	return s.Storage.Put(ctx, it, c)
}

func (s *nameRaceStore) Get(ctx context.Context, k chatfly.Key) (chatfly.Item, error) {
	s.mu.Lock()
	free := s.armed && k == s.name
	if free {
		s.armed = false
	}
	s.mu.Unlock()
	if free {
		_ = s.Storage.Delete(ctx, k, chatfly.Always)
	}
	return s.Storage.Get(ctx, k)
}

// A session joining a room while its old connection leaves it finds its
// name item there (the claim fails) and then gone (the leave deleted it):
// the name is free, and the join claims it instead of answering
// name_taken (a flake of the e2e resume test under load).
func TestJoinWhileOldConnectionLeaves(t *testing.T) {
	inner := memstore.New(nil)
	store := &nameRaceStore{Storage: inner}
	tr := newRecTransport()
	h := chatfly.New(store, tr, &chatfly.Options{Rooms: chatfly.DefaultRooms()})
	ctx := context.Background()
	do := func(frame string) []map[string]any {
		t.Helper()
		require.NoError(t, h.Receive(ctx, "c1", []byte(frame)))
		return tr.take("c1")
	}
	require.NoError(t, h.Connect(ctx, &chatfly.ConnectRequest{ConnID: "c1"}))
	sid, _ := do(`{"action":"hello","name":"Ada"}`)[0]["session"].(string)
	require.NotEmpty(t, sid)
	do(`{"action":"join","room":"lobby","id":1}`)
	do(`{"action":"leave","room":"lobby","id":2}`)
	// The old connection's leave has removed the membership, not yet the
	// name: put it back, to be deleted under the next join's feet.
	_, err := inner.Put(ctx, chatfly.Item{Key: store.name, Value: []byte(sid)}, chatfly.Always)
	require.NoError(t, err)
	store.armed = true
	evs := do(`{"action":"join","room":"lobby","id":3}`)
	require.NotEmpty(t, evs)
	assert.Equal(t, "joined", evs[len(evs)-1]["type"], "%v", evs)
	it, err := inner.Get(ctx, store.name)
	require.NoError(t, err, "the name is held again")
	assert.Equal(t, sid, string(it.Value))
}
