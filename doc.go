// Package chatfly is an engine for embedding "jump in and talk" chat in Go
// applications: public rooms and application rooms, anonymous names with
// resumable identities, message history, presence and typing, over one wire
// protocol (PROTOCOL.md) that runs on a standalone WebSocket server or on AWS
// API Gateway WebSocket APIs with Lambda.
//
// # The shape
//
// A [Hub] is the engine. It keeps nothing in memory: every session, room,
// member and message lives in a [Storage], and every frame it sends goes out
// through a [Transport]. Host adapters feed it what their connections do:
//
//	client --ws--> host adapter --Connect/Receive/Disconnect--> Hub --> Storage
//	                                                             '--> Transport.Send
//
// Use chatfly/storage/memstore for a single process and
// chatfly/storage/dynamostore to share state between processes or Lambda
// invocations. Use chatfly/transport/wstransport for a net/http server: it is
// both the Transport and the http.Handler that feeds the Hub.
//
// # A server in a few lines
//
//	ws := wstransport.New(nil)
//	hub := chatfly.New(memstore.New(nil), ws, &chatfly.Options{Rooms: chatfly.DefaultRooms()})
//	http.Handle("/ws", ws.Handler(hub))
//	log.Fatal(http.ListenAndServe(":8080", nil))
//
// Clients speak the protocol with chatfly/client (Go) or the browser client.
//
// # Fitting it into an application
//
// [Options.Identify] turns an application's logged-in users into verified
// chat identities (or rejects connections); [Options.OnMessage] filters or
// rewrites messages before they are stored; [Hub.OpenRoom] gives every page
// or document its own room, and [Room.Post] lets the application or a bot
// speak in it. [Options.OnJoin] and [Options.OnCreateRoom] decide who may
// join or create rooms, and with which role; [Room] also updates, moderates
// and deletes rooms and publishes the application's own events
// ([Room.Publish], [Hub.SendEvent]); [Hub.DisconnectSession] closes a
// session's connection; [Options.Actions] adds the application's own
// actions.
//
// # Watching it run
//
// [Options.Observer] is told of every frame (action, duration, error code,
// storage calls) and of every failed storage or transport call
// (chatfly/observe/promexporter serves them to Prometheus). [Hub.Stats]
// reads the connections and sessions a server holds. Failures are logged to
// [Options.Logger] with the frame's connection, session, action and room.
//
// # Writing a Storage or Transport
//
// Storage is a small ordered key-value store with single-item conditional
// writes and expiry; chatfly/storage/storagetest is the conformance suite an
// implementation runs with one line. Transport only writes; reading belongs to
// the host adapter. Errors map to the sentinels in errors.go, which carry the
// protocol's error codes.
package chatfly
