package main

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"

	"github.com/redis/go-redis/v9"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/storageflags"
	"github.com/chatfly/chatfly/relay/redisrelay"
)

// A cluster is several servers behind a load balancer that share one
// Storage (-redis, or -table) and one relay (-redis), each with its own
// -node-id: a server delivers frames to its own WebSockets and hands those
// for other servers' WebSockets to the relay (see README, Running a
// cluster).

// openRelay returns the relay of the -redis URL (whatever the storage is),
// with a function that closes its client, or a nil Relay without -redis.
// It pings Redis, so that one that does not answer fails now.
func openRelay(ctx context.Context, f *storageflags.Flags, log *slog.Logger) (chatfly.Relay, func() error, error) {
	if f.Redis == "" {
		return nil, func() error { return nil }, nil
	}
	opts, err := f.RedisOptions()
	if err != nil {
		return nil, nil, err
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("relay on redis %s: %w", opts.Addr, err)
	}
	return redisrelay.New(client, &redisrelay.Options{Logger: log}), client.Close, nil
}

// nodeIDPattern is what wstransport.Options.NodeID accepts.
var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// checkNodeID checks the -node-id flag; empty means random.
func checkNodeID(id string) error {
	if id != "" && !nodeIDPattern.MatchString(id) {
		return fmt.Errorf("-node-id %q: want 1 to 32 letters, digits, '-' or '_'", id)
	}
	return nil
}
