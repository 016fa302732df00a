// Package apigw runs a chatfly Hub behind an Amazon API Gateway WebSocket
// API with AWS Lambda: API Gateway owns the sockets and turns what clients do
// into Lambda events, which a [Handler] feeds to the Hub, and the Hub writes
// back through a [Transport] that calls API Gateway's management API
// (PostToConnection, DeleteConnection).
//
// Use [New] with an apigatewaymanagementapi client that you configured
// (region, credentials; the package never builds one), give the Transport to
// chatfly.New, and serve every route of the API with one [Handler]:
//
//	cfg, err := config.LoadDefaultConfig(ctx)
//	...
//	tr := apigw.New(apigatewaymanagementapi.NewFromConfig(cfg), nil)
//	hub := chatfly.New(store, tr, &chatfly.Options{Secret: secret})
//	lambda.Start(apigw.NewHandler(hub, nil).Handle)
//
// Create the Hub once per Lambda execution environment (in main, or lazily
// on the first event) and reuse it for every invocation: it holds no state of
// its own, so the Hubs of many environments and functions share one Storage
// (chatfly/storage/dynamostore) and must share one Options.Secret, so that a
// resume token issued by one is accepted by the others.
//
// # Events
//
// The Handler serves the events of every route:
//
//   - $connect: Hub.Connect with the request's headers, query string and source
//     IP (a chatfly.ConnectRequest). A rejected connection is answered with
//     403 (429 for too_many: the Hub's per-address connection limit, which
//     keys on the source IP) and {"code":...,"message":...}, which makes API
//     Gateway refuse the WebSocket handshake; the client gets the status
//     only (API Gateway does not pass the body on without a route
//     response). A query parameter "name" is checked as a display
//     name, so an invalid one is refused before the upgrade too; the
//     protocol's hello frame still carries the name (or the resume token).
//     The Hub sends nothing during Connect: API Gateway refuses
//     PostToConnection until $connect has returned.
//   - $disconnect: Hub.Disconnect. API Gateway sends it on a best-effort
//     basis; the connections it misses expire from Storage
//     (chatfly.Options.PresenceTTL), and the Hub removes a connection as soon
//     as PostToConnection reports it gone.
//   - $default and every custom route (roulette.join, ...): Hub.Receive with
//     the message body. The Hub applies its frame size limit and answers
//     errors to the client itself; the Handler always answers 200 so that
//     API Gateway does not send its own error message to the client.
//
// # The management API endpoint
//
// The Transport calls the management API at
// https://{api-id}.execute-api.{region}.amazonaws.com/{stage}. By default it
// derives that URL from the event being handled (the Handler puts the event's
// request context into the context it gives the Hub, see [NewContext]):
// from its DomainName and Stage, or from its API id and the client's region
// when DomainName is a custom domain. A DomainName on a loopback address
// (the local emulator, chatfly/transport/apigw/apigwlocal) is called over
// plain http. Options.Endpoint sets the URL instead, which a Transport used
// outside a Lambda invocation (a scheduled job posting with Room.Post) needs.
//
// # Sending
//
// Send is one PostToConnection; SendMany makes them in parallel, at most
// Options.Parallelism at a time (give the SDK client [NewHTTPClient], so
// that it keeps as many idle connections). A connection that no longer exists (410: a
// GoneException, or any 410 answer) gives an error wrapping chatfly.ErrGone,
// and the Hub then removes that stale connection from its rooms and from the
// roulette queue. Throttling (LimitExceededException, or a bare 429) and 5xx
// answers are retried with exponential backoff and full jitter
// (Options.MaxAttempts, BaseBackoff, MaxBackoff); what is left after the
// retries wraps chatfly.ErrUnavailable. In SendMany every connection gets
// its first attempt before any is retried, and retries stop after
// Options.RetryBudget, so one connection that does not read never delays the
// others nor holds a fan-out near the Lambda timeout; a connection still
// answering 429 then is a slow consumer: reported gone (the Hub removes it
// from its rooms) and closed in the background with a "close" frame of code
// 4000, which it gets once its buffer drains (Options.SlowCloseGrace), as
// the standalone server closes a client whose send queue overflows. A frame over API Gateway's 128 KB
// message limit is refused before it is sent, with an error wrapping
// chatfly.ErrTooLarge.
//
// Close cannot give the client a close code: DeleteConnection closes the
// socket without one. So Close first posts a "close" frame,
// {"type":"close","code":4001,"reason":"replaced"}, that tells clients which
// code the server meant, then deletes the connection.
package apigw
