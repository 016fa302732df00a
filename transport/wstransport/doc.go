// Package wstransport runs a chatfly Hub in a standalone server: it is the
// http.Handler that accepts WebSocket connections (over
// github.com/coder/websocket) and feeds the Hub what clients send, and the
// [chatfly.Transport] through which the Hub writes to them.
//
// Use [New] to create a Transport, give it to chatfly.New, and mount
// [Transport.Handler] on the path clients connect to:
//
//	ws := wstransport.New(nil)
//	hub := chatfly.New(store, ws, nil)
//	mux.Handle("/ws", ws.Handler(hub))
//
// Use [Transport.Shutdown] when the server stops: it closes every connection
// with 1001 (chatfly.CloseGoingAway), which tells clients to reconnect, and
// waits for the Hub's Disconnect calls. http.Server.Shutdown does not do it,
// because WebSocket connections are hijacked from the server.
//
// # Connections
//
// The Handler asks the Hub's Connect before upgrading: a rejected request is
// answered with HTTP 403 (503 when the storage is unavailable) and a JSON
// body {"code":...,"message":...}, and never reaches Receive. Cross-origin
// requests are refused unless allowed by [Options].OriginPatterns. Messages
// larger than the read limit (the Hub's MaxFrameBytes by default) close the
// connection with 1009 (chatfly.CloseTooBig), binary messages with 1003
// (chatfly.CloseUnsupported), and a connection that has not said hello
// within the Hub's HelloTimeout is closed with 4002
// (chatfly.CloseHelloTimeout). Keepalive pings detect dead clients.
//
// Use [LimitListener] under the http.Server to cap the connections open at
// once, in all and per client address, so that idle sockets of one address
// cannot take every file descriptor of the server.
//
// # Sending
//
// Send and SendMany never wait for a client: each connection has a bounded
// queue, and a writer goroutine while the queue is not empty. The writer
// sends every frame waiting in the queue as one WebSocket text message, the
// frames separated by '\n', so a busy connection needs few writes (and one
// system call per batch); clients split messages on '\n'. A
// connection whose queue is full is closed with 4000
// (chatfly.CloseSlowConsumer) and reason "too slow"; the client reconnects
// and catches up from history.
//
// # Clusters
//
// Several standalone servers (nodes) may serve one set of rooms: give each
// Transport a distinct [Options].NodeID and the same [Options].Relay (such
// as chatfly/relay/redisrelay), and each Hub the same Storage. Connection
// ids name their node ("<node>.<random>"); Send, SendMany and Close deliver
// to this node's connections themselves and publish the rest to their
// nodes, one relay message per node per fan-out. Only the owning node
// reports a connection gone, or the relay, when a node has had no
// subscriber for [Options].RelayGrace (a crashed node): the Hub then
// removes that node's members at the next fan-out. The relay is at most
// once; clients fill a gap in a room's seq from history.
//
// # Resources
//
// An idle connection costs one goroutine (its reader; the HTTP handler
// returns after the upgrade, so net/http frees the request and its
// buffers), coder/websocket's state and a few hundred bytes of buffers:
// read and write buffers are taken from pools only while data is waiting
// (see lazyconn.go). It holds no timer: one keepalive goroutine per
// Transport, running only while there are connections, enforces write
// timeouts and starts the pings. On the load tool's idle scenario
// (cmd/chatfly-bench, S4) a connection in a room costs about 20 KiB of
// server RSS, the Hub's storage included.
package wstransport
