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
//	                      Expires in Unix milliseconds (absent: never)
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
//   - each item hash gets PEXPIREAT at its Expires, so Redis deletes it by
//     its own clock even if its partition is never touched again;
//   - every write also removes up to 8 expired sort keys (and their items)
//     from its partition's index, oldest first, found in the expiries set
//     in O(log n); a Query removes the stale sort keys it meets;
//   - the index and the expiries get PEXPIREAT at the latest Expires of the
//     partition's items (PERSIST while one never expires), so that a
//     partition whose items all expire goes away with its last item.
//
// So the index of a partition never holds many more sort keys than it has
// live items, however long it lives, and nothing stays behind a partition
// that is no longer used. An item written already expired is deleted at
// once. Expires is kept in milliseconds (rounded down).
//
// # Cost per operation
//
// Every method is one round trip, whatever the condition or the size of
// the result; n is the number of sort keys in the partition:
//
//	method  round trip        work on the server
//	------  ----------------  ---------------------------------------------
//	Get     1 HMGET           O(1)
//	Put     1 EVALSHA (put)   O(log n) + up to 8 expired items removed
//	Delete  1 EVALSHA (del)   O(log n) + up to 8 expired items removed
//	Add     1 EVALSHA (add)   O(log n) + up to 8 expired items removed
//	Query   1 EVALSHA (query) O(log n + m): m sort keys in the range, up to
//	                          q.Limit live ones plus the stale ones skipped
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
