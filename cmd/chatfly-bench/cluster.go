package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/relay/redisrelay"
	"github.com/chatfly/chatfly/storage/redisstore"
)

// Cluster mode: the "single" and "cluster" targets are serve-chatfly
// children over one Redis (storage/redisstore for the state,
// relay/redisrelay between the nodes), one node or -cluster nodes, under a
// fresh key prefix each time. The fleet's members dial the nodes in turn,
// so every room has members on every node. Server CPU is the nodes' and
// Redis's (when the tool started it) together.

// redisFlags are serve-chatfly's cluster flags.
type redisFlags struct {
	url    string // empty: memory storage, no relay
	prefix string // of every key and channel
	nodeID string
}

// open returns the Storage and Relay of the flags, and a function that
// closes their client.
func (rf redisFlags) open(ctx context.Context) (chatfly.Storage, chatfly.Relay, func(), error) {
	opts, err := redis.ParseURL(rf.url)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("-redis: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	client := redis.NewClient(opts)
	store, err := redisstore.New(client, &redisstore.Options{Prefix: rf.prefix})
	if err == nil {
		err = client.Ping(ctx).Err()
	}
	if err != nil {
		_ = client.Close()
		return nil, nil, nil, err
	}
	relay := redisrelay.New(client, &redisrelay.Options{Prefix: rf.prefix + "relay:"})
	return store, relay, func() { _ = client.Close() }, nil
}

// startClusterTarget starts nodes serve-chatfly children over the Redis at
// redisURL (redisPID: its process, if the tool started it, counted in the
// server's CPU), with the extra flags.
func startClusterTarget(name string, nodes, rooms int, prefix, redisURL string, redisPID int, extra ...string) (*target, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	keys := "bench" + hex.EncodeToString(b) + ":"
	t := &target{name: name, pids: pidsOf(redisPID)}
	var stops []func()
	t.stop = func() {
		for _, s := range stops {
			s()
		}
	}
	for i := range nodes {
		args := append([]string{"-redis", redisURL, "-redis-prefix", keys, "-node-id", "n" + strconv.Itoa(i+1)}, extra...)
		n, err := startChild("chatfly", rooms, prefix, args...)
		if err != nil {
			t.stop()
			return nil, err
		}
		stops = append(stops, n.stop)
		t.urls = append(t.urls, n.url)
		t.pids = append(t.pids, n.pids...)
	}
	t.url = t.urls[0]
	return t, nil
}

// startRedis starts redis-server on a free loopback port, without
// persistence, and returns its URL, its pid and a function that stops it.
func startRedis() (url string, pid int, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", 0, nil, fmt.Errorf("redis-server not found (install it, or pass -redis URL): %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "chatfly-bench-redis-")
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", 0, nil, err
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	url = "redis://127.0.0.1:" + strconv.Itoa(port)
	probe := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1})
	defer probe.Close()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = probe.Ping(ctx).Err()
		cancel()
		if err == nil {
			return url, cmd.Process.Pid, stop, nil
		}
	}
	stop()
	return "", 0, nil, errors.New("redis-server did not answer within 15 s")
}
