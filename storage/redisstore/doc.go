// Package redisstore is a [chatfly.Storage] over Redis (or a server that
// speaks its protocol and runs its Lua scripts: Valkey, ElastiCache,
// MemoryDB), on github.com/redis/go-redis/v9. It runs on one Redis server
// and on Redis Cluster.
//
// Use [New] with a client that you configured (address, password, TLS):
// the package never builds one. Give the client ContextTimeoutEnabled, so
// that the deadline of a call's ctx (the Hub's Options.StorageTimeout)
// bounds the call; without it go-redis bounds each read and write by its
// own ReadTimeout and WriteTimeout (3 s by default) instead.
//
//	client := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(client, nil)
//	hub := chatfly.New(store, transport, nil)
//
// # Keys
//
// Every key starts with [Options.Prefix] ("chatfly:" by default). A
// partition p is written in braces, with '%' and '}' escaped as %25 and
// %7D, so that it is the hash tag of every key of the partition: on Redis
// Cluster they all live in one hash slot, and the scripts that touch
// several of them run on one node. With P = prefix + "{" + escaped p + "}":
//
//	key       type        holds
//	--------  ----------  -----------------------------------------------------
//	P:<sort>  hash        the item at (p, sort): v value (absent after an Add
//	                      created it), n counter (absent: 0), r version, e
//	                      Expires in Unix milliseconds (absent: never); or
//	                      the tombstone of a deleted or expired item: r and
//	                      e "0" only, for 10 s (see Versions)
//	P         sorted set  the index: every sort key of p, scored 0, so that
//	                      ZRANGEBYLEX reads them in byte order
//	P~        sorted set  the expiries: the sort keys of the items of p that
//	                      expire, scored by their Expires in milliseconds
//
// For example the core's room#lobby partition, with members and messages,
// is the index chatfly:{room#lobby}, its expiries chatfly:{room#lobby}~,
// and items such as chatfly:{room#lobby}:msg#00000042.
//
// Every write is one Lua script (EVALSHA, with go-redis falling back to
// EVAL once after a script cache flush or a failover) that reads the item,
// checks the condition and writes the item and both sets of its partition
// atomically. The query script reads the items of the sort keys it finds in
// the index; those keys are not declared to Redis as the script's KEYS, but
// they are in the same hash slot as the declared ones, which Redis and
// Redis Cluster allow.
//
// # Expiry
//
// An item expires when its Expires is not after the store's clock
// ([Options.Now]); every read drops it and every condition treats it as
// absent, as the Storage contract says. The clock's time is sent with
// every call, so every server, and every store sharing the Redis, must keep
// the time (NTP) as for DynamoDB. Expired items are also removed from
// Redis, three ways:
//
//   - each item hash gets PEXPIREAT at its Expires (but not sooner than
//     10 s after the write, by the server's clock: see Versions), so Redis
//     deletes it by its own clock even if its partition is never touched
//     again;
//   - every write also removes up to 8 expired sort keys from its
//     partition's index, oldest first, found in the expiries set in
//     O(log n), and makes tombstones of their items; a Query does the same
//     with the stale sort keys it meets;
//   - the index and the expiries get PEXPIREAT at the latest Expires of the
//     partition's items (PERSIST while one never expires), so that a
//     partition whose items all expire goes away with its last item.
//
// So the index of a partition never holds many more sort keys than it has
// live items, however long it lives, and nothing stays behind a partition
// that is no longer used but tombstones, for 10 s. An item written (or
// touched) already expired becomes a tombstone at once. Expires is kept in
// milliseconds (rounded down).
//
// # Versions
//
// A version never repeats for a key, as the Storage contract requires
// (no ABA): within a lifetime every Put and Add adds one, with HINCRBY; a
// new lifetime (a write when the item is absent or expired, and every Put
// of WriteMany) starts at the greater of
//
//   - the last version of the key plus one, if anything of the key is left
//     (an expired item, or the tombstone that Delete, the tidying and
//     Query leave), and
//   - the seconds of the Redis server's clock (TIME) since 2025-01-01 UTC,
//     times 2^22.
//
// Redis keeps every item hash and tombstone at least 10 s after its last
// write, by its own clock, so when nothing of a key is left a whole second
// has passed since its last version was given, and the clock's term is
// greater than it: versions only grow, as long as no key is written
// 2^22 (4 million) times a second on average over a lifetime (a Redis
// node runs well under a million scripts a second), and the server's
// clock does not step back by more than 9 s. Versions stay below 2^53,
// exact in a double (a version reaches browsers: the game's "version")
// until 2093. They need no key of their own, which keeps each write one
// script on the item's hash slot, and they cost nothing in memory but the
// tombstones of the last 10 s.
//
// Data written by an earlier redisstore keeps working: its items keep
// their small versions (from 1) and go on from them; only new lifetimes
// get versions from the clock, far above them (about 2^48 in 2026).
//
// # Cost per operation
//
// Every method is one round trip, whatever the condition or the size of
// the result; n is the number of sort keys in the partition:
//
//	method     round trip        work on the server
//	---------  ----------------  ------------------------------------------
//	Get        1 HMGET           O(1)
//	Put        1 EVALSHA (put)   O(log n) + up to 8 expired items removed
//	Delete     1 EVALSHA (del)   O(log n) + up to 8 expired items removed
//	Add        1 EVALSHA (add)   O(log n) + up to 8 expired items removed
//	Touch      1 EVALSHA (touch) O(log n) + up to 8 expired items removed
//	Query      1 EVALSHA (query) O(log n + m): m sort keys in the range, up
//	                             to q.Limit live ones plus the stale ones
//	                             skipped
//	GetMany    1 pipeline        one HMGET per key: O(1) each
//	WriteMany  1 pipeline        one EVALSHA (put or del) per write
//
// # Optional capabilities
//
// A Store is a [chatfly.Batcher], a [chatfly.Toucher] and a
// [chatfly.ValueConditioner]. Put, Delete and Touch evaluate IfValue and
// IfPrefix in their script. GetMany and WriteMany send one pipeline; on
// Redis Cluster, whose keys of different partitions are in different hash
// slots, go-redis splits it by node and sends the parts in parallel, so a
// batch costs one round trip per node it touches (and one more, with EVAL,
// for the writes whose script the server lost in a restart or failover).
//
// A script blocks the Redis server (or cluster node) while it runs: Query
// without a Limit over a huge partition is as long as its answer. The Hub
// queries bounded ranges (a room's members, a page of its messages).
//
// # Errors
//
// A missing or expired item gives an error wrapping [chatfly.ErrNotFound], a
// failed condition one wrapping [chatfly.ErrConflict], and an item larger
// than [Options.MaxItemBytes] one wrapping [chatfly.ErrTooLarge], before it
// is sent. A network error, a pool timeout, and the replies of a server
// that cannot serve now (OOM over maxmemory, LOADING, BUSY, TRYAGAIN,
// CLUSTERDOWN, MASTERDOWN, READONLY, NOREPLICAS, MOVED and ASK left after
// go-redis's redirects) wrap [chatfly.ErrUnavailable]. go-redis retries
// network errors itself: with its defaults (MaxRetries 3, DialerRetries 5
// at 100 ms) a call to a Redis that is down fails after about 2 s, within
// the Hub's default StorageTimeout. A retried write may have been applied
// (see the Storage contract). An error caused by the
// caller's context wraps ctx.Err(). The client's error stays in the chain.
//
// # Tests
//
// The tests run the storagetest conformance suite and the Hub's concurrency
// scenarios against miniredis (github.com/alicebob/miniredis/v2, in
// process, on every go test) and the real redis-server (when on PATH; see
// internal/redistest), on one server and on a one-node Redis Cluster.
package redisstore
