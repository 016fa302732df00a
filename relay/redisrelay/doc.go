// Package redisrelay is a [chatfly.Relay] over Redis pub/sub (or Valkey,
// ElastiCache, MemoryDB), on github.com/redis/go-redis/v9.
//
// Use it to run several standalone chatfly servers as one cluster: give each
// server's wstransport a node id and the same Relay, and a server hands the
// frames and closes for connections of another node to that node's
// subscription. The Storage may be on the same Redis (storage/redisstore) or
// elsewhere (DynamoDB).
//
// # Layout in Redis
//
// Node n listens on the channel Prefix+"{n}" (one channel per node) and keeps
// the key Prefix+"{n}:alive" (a random token, with a TTL of
// [Options.AliveTTL], refreshed every third of it while subscribed, deleted on
// stop). Each message is one PUBLISH of a compact binary encoding: a format
// byte, the close code, the reason, the connection ids (all length-prefixed
// with uvarints) and then the frame, up to the end, so a 128 KB frame costs
// 128 KB plus a few bytes per id.
//
// # Delivery
//
// At most once, in order per publisher. Publish is one PUBLISH (SPUBLISH
// with [Options.Sharded], which Redis Cluster needs for exact receiver
// counts, and which New turns on for a *redis.ClusterClient); when Redis
// counted no receiver it makes one EXISTS on the liveness key and reports
// [chatfly.ErrGone] if the node is gone (stopped, or crashed more than
// AliveTTL ago), or [ErrLost] if the node is alive but its subscription is
// reconnecting. What is lost: messages published while a node's subscription
// is reconnecting (go-redis subscribes again on its own after a broken
// connection, and pings every 3 seconds to find a silent one), and messages
// dropped because the node fell far behind (see [Options.Buffer]). The clients
// repair such a gap from the room's history by seq, so a lost message arrives
// late rather than never.
package redisrelay
