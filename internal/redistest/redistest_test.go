package redistest

import (
	"context"
	"errors"
	"github.com/redis/go-redis/v9"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// Every backend answers, keeps what is written, and a shared server keeps
// the keys of one test apart from another's by Prefix.
func TestBackends(t *testing.T) {
	ForEach(t, func(t *testing.T, client *redis.Client) {
		ctx := t.Context()
		key := Prefix(t) + "k"
		if err := client.Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := client.Get(ctx, key).Result(); err != nil || got != "v" {
			t.Fatalf("Get = %q, %v", got, err)
		}
		if a, b := Prefix(t), Prefix(t); a == b {
			t.Fatal("Prefix returned the same prefix twice")
		}
	})
}

// A server of the test's own can be paused (calls then end at the ctx
// deadline, as ContextTimeoutEnabled promises) and stopped (calls fail
// at once).
func TestServerPauseStop(t *testing.T) {
	srv := StartServer(t)
	client := NewClient(t, srv.Addr)
	if err := client.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	err := client.Ping(ctx).Err()
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping of a paused server: %v, want a deadline error", err)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Stop() // idempotent
	if err := client.Ping(t.Context()).Err(); err == nil {
		t.Fatal("Ping of a stopped server succeeded")
	}
}

// Without redis-server on PATH, starting one fails with ErrRedisMissing
// (which the tests turn into a skip, or a failure under
// CHATFLY_REQUIRE_REDIS=1).
func TestMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := startServer(nil); !errors.Is(err, ErrRedisMissing) {
		t.Fatalf("startServer without redis-server: %v, want ErrRedisMissing", err)
	}
}

// A one-node cluster serves every slot, and refuses a command across slots
// (which is what it is for: a single server would take it).
func TestCluster(t *testing.T) {
	c := Cluster(t)
	ctx := t.Context()
	if err := c.MSet(ctx, "{a}x", "1", "{a}y", "2").Err(); err != nil {
		t.Fatalf("MSET in one slot: %v", err)
	}
	if err := c.Do(ctx, "MSET", "{a}x", "1", "{b}y", "2").Err(); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("MSET across slots: %v, want CROSSSLOT", err)
	}
}
