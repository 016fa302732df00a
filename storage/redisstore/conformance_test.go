package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatfly/chatfly/internal/redistest"
	"github.com/chatfly/chatfly/storage/redisstore"
	"github.com/chatfly/chatfly/storage/storagetest"
)

// onMiniredis reports whether t runs on miniredis, which runs every script
// in a fresh Lua interpreter under one global lock: about 50 times as slow
// as redis-server.
func onMiniredis(t *testing.T) bool { return strings.Contains(t.Name(), "/miniredis") }

// TestConformance runs the storagetest suite on each backend with a fake
// clock given to the Store, and on redis-server, and on a one-node Redis
// Cluster, with the real clock too, as in production (where Redis also
// deletes expired items by its own clock; miniredis never does).
func TestConformance(t *testing.T) {
	run := func(t *testing.T, client redis.UniversalClient) {
		t.Run("FakeClock", func(t *testing.T) {
			storagetest.RunConformanceTests(t, storagetest.HarnessFunc(
				func(ctx context.Context, t *testing.T) (*storagetest.Env, error) {
					clock := storagetest.NewFakeClock(time.Time{})
					return &storagetest.Env{Storage: newStore(t, client, &redisstore.Options{Now: clock.Now}), Clock: clock}, nil
				}))
		})
		if onMiniredis(t) {
			return
		}
		t.Run("RealClock", func(t *testing.T) {
			storagetest.RunConformanceTests(t, storagetest.HarnessFunc(
				func(ctx context.Context, t *testing.T) (*storagetest.Env, error) {
					return &storagetest.Env{Storage: newStore(t, client, nil)}, nil
				}))
		})
	}
	redistest.ForEach(t, func(t *testing.T, client *redis.Client) { run(t, client) })
	t.Run("cluster", func(t *testing.T) { run(t, redistest.Cluster(t)) })
}

// TestHubScenarios runs the Hub's concurrency scenarios — roulette pairing
// on four Hubs, two Hubs racing moves on one game — on each backend: at
// full size (200 sessions) on redis-server, with 40 on miniredis.
func TestHubScenarios(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, client *redis.Client) {
		var opts *storagetest.HubTestOptions
		if onMiniredis(t) {
			opts = &storagetest.HubTestOptions{Sessions: 40, Ops: 4}
		}
		storagetest.RunHubTests(t, storagetest.HarnessFunc(func(ctx context.Context, t *testing.T) (*storagetest.Env, error) {
			return &storagetest.Env{Storage: newStore(t, client, nil)}, nil
		}), opts)
	})
}
