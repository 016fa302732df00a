// Package apigwlocal is a local stand-in for an Amazon API Gateway WebSocket
// API, for development and tests: an http.Handler that accepts WebSocket
// clients, turns what they do into the Lambda events API Gateway sends
// (events.APIGatewayWebsocketProxyRequest), calls the route's handler in
// process, and serves the management API (the @connections endpoint) that
// the handlers' SDK client calls to write back. With it the whole serverless
// path — real WebSocket clients, Lambda handlers, an apigatewaymanagementapi
// client signing real HTTP requests — runs on one machine, on loopback, with
// no AWS account.
//
// Use [New] with the integrations of the routes, and serve it:
//
//	emu := apigwlocal.New(&apigwlocal.Options{
//		Stage:  "prod",
//		Routes: map[string]apigwlocal.Handler{"$connect": h, "$disconnect": h, "$default": h, "roulette.join": r},
//	})
//	defer emu.Close()
//	srv := &http.Server{Handler: emu}
//	// clients dial ws://127.0.0.1:PORT/prod; the management API is
//	// http://127.0.0.1:PORT/prod/@connections/{connectionId}
//
// # What it emulates
//
//   - The WebSocket endpoint at /{stage}. Every connection gets an id in API
//     Gateway's style (16 characters of standard base64, like
//     "L0SM9cOFvHcCIhw="). Before the upgrade it calls the $connect route with
//     the request's headers, query string and source IP; a non-2xx answer
//     refuses the upgrade with that status only: its headers and body do not
//     reach the client, as API Gateway without route responses
//     (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-route-response.html;
//     Options.Lenient passes them); an error answers 500. Any Origin is accepted, as by API Gateway, unless
//     Options.OriginPatterns restricts it (403 before $connect).
//   - Messages: each text message is routed by the route selection expression
//     $request.body.action: the route whose key is the body's "action" field,
//     else $default. A binary message closes the connection with 1003, as API
//     Gateway does
//     (https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-develop-binary-media-types.html);
//     with Options.Lenient it is passed base64-encoded with IsBase64Encoded. Events carry EventType, RouteKey, ConnectionID,
//     DomainName (the request's Host), Stage, APIID, RequestID, MessageID,
//     RequestTime(Epoch), ConnectedAt and the source IP and user agent.
//     Like API Gateway, the emulator calls the integration of each message as
//     it arrives, without waiting for the previous one to finish, so one
//     connection's messages may be handled concurrently (Options.Ordered
//     turns that off). A handler error is reported to the client as
//     {"message": "Internal server error", ...}, and a message no route
//     matches as {"message": "Forbidden", ...}, as API Gateway does; the
//     handlers' answers to messages are otherwise dropped (no route
//     responses).
//   - Limits: a client message over 128 KB, or a frame over 32 KB even in
//     a smaller message, closes the connection with 1009 (API Gateway's
//     quotas: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html;
//     Options.Lenient lifts the frame limit);
//     connections idle (no message either way) for Options.IdleTimeout
//     (default 10 minutes) or open for Options.MaxDuration (default 2 hours)
//     are closed with 1001 "Going away".
//   - $disconnect, called once the socket is closed, whoever closed it, with
//     the close code and reason, without waiting for the connection's
//     messages in flight: API Gateway does not order it after them, and
//     delivers it on a best-effort basis
//     (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-route-keys-connect-disconnect.html).
//     With Options.Lenient it comes after them.
//   - Environments: Lambda runs each concurrent invocation of a function in
//     an execution environment of its own. Give a route a [Pool] (one
//     Handler, with its own Hub, per environment) to have that too; a plain
//     Handler serves every invocation itself.
//   - The management API at /{stage}/@connections/{connectionId}: POST sends
//     the body as one text message (200), GET describes the connection (200,
//     JSON with connectedAt, lastActiveAt and identity), DELETE closes it
//     with 1000 (204) and calls $disconnect. An unknown or closed connection,
//     or one whose $connect is still running, answers 410 with
//     x-amzn-ErrorType: GoneException; a POST over 128 KB 413
//     PayloadTooLargeException; a POST to a connection with
//     Options.QueueSize messages waiting to be written 429
//     LimitExceededException (API Gateway's "client side buffer is full").
//     Options.PostLatency (with Options.PostJitter) makes every POST take
//     as long as a real one (a few milliseconds), so that a benchmark of
//     the Lambda path pays for each recipient of a fan-out.
//     Requests must come from a loopback address and be signed (an
//     Authorization header with AWS Signature Version 4), else 403
//     ForbiddenException. The signature itself is not checked: the emulator
//     has no real credentials to check it against (its clients sign with
//     placeholders anyone knows), so the management API, which can write to
//     and close every connection, is served to the local machine only, even
//     when the emulator listens on every interface (to test from a phone on
//     the LAN, which only needs the WebSocket endpoint).
//
// For tests, [Server.Drop] loses a connection without $disconnect (as API
// Gateway sometimes does), [Server.Connections] lists the open ones, and
// Options.Fault makes management API calls fail on demand.
package apigwlocal
