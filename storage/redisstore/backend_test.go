package redisstore_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/chatfly/chatfly/internal/redistest"
	"github.com/chatfly/chatfly/storage/redisstore"
)

// The tests run against the two Redis servers of internal/redistest, on
// loopback: miniredis in-process on every go test, and the real
// redis-server when it is on PATH (skipped otherwise, unless
// CHATFLY_REQUIRE_REDIS=1 makes that a failure).
func TestMain(m *testing.M) { redistest.Main(m) }

// newStore returns a Store over client with a key prefix of t's own, and
// opts (nil: the defaults).
func newStore(t testing.TB, client redis.UniversalClient, opts *redisstore.Options) *redisstore.Store {
	t.Helper()
	var o redisstore.Options
	if opts != nil {
		o = *opts
	}
	o.Prefix = redistest.Prefix(t)
	s, err := redisstore.New(client, &o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
