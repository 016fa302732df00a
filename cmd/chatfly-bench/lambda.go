package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/transport/apigw"
	"github.com/chatfly/chatfly/transport/apigw/apigwlocal"
)

// The lambda target is chatfly's serverless path on this machine, as
// examples/lambda's local stack runs it: the clients dial the API Gateway
// emulator (transport/apigw/apigwlocal), which turns every frame into a
// Lambda event for an apigw.Handler; every concurrent invocation runs in an
// environment of its own (apigwlocal.Pool) with its own Hub over the shared
// storage, and the Hubs write back with PostToConnection over signed HTTP
// to the emulator's management API, each call delayed by -post-latency as
// a real API Gateway's. Its server CPU is the emulator's and the handlers'
// together: on AWS, API Gateway's share is not the application's.

// lambdaStage is the stage of the emulator: the WebSocket endpoint is
// /ws, like the other servers', and the management API /ws/@connections.
const lambdaStage = "ws"

// newLambdaServer serves the serverless stack on mux over store, with
// rooms rooms named prefix+i.
func newLambdaServer(mux *http.ServeMux, store chatfly.Storage, rooms int, prefix string, post latency, log *slog.Logger) (*server, error) {
	// Every environment has its own management API client, with its own
	// connections, as on Lambda.
	newHub := func() *chatfly.Hub {
		mgmt := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
			Region:      "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", ""),
			HTTPClient:  apigw.NewHTTPClient(0),
		})
		return chatfly.New(store, apigw.New(mgmt, &apigw.Options{Logger: log}), hubOptions(log))
	}
	if err := openRooms(newHub(), rooms, prefix); err != nil {
		return nil, err
	}
	fn := apigwlocal.NewPool(func() apigwlocal.Handler {
		return apigw.NewHandler(newHub(), &apigw.HandlerOptions{Logger: log})
	})
	emu := apigwlocal.New(&apigwlocal.Options{
		Stage:       lambdaStage,
		Routes:      map[string]apigwlocal.Handler{apigwlocal.RouteConnect: fn, apigwlocal.RouteDisconnect: fn, apigwlocal.RouteDefault: fn},
		PostLatency: post.d,
		PostJitter:  post.jitter,
		Logger:      log,
	})
	mux.Handle("/"+lambdaStage, emu)
	mux.Handle("/"+lambdaStage+"/", emu)
	return &server{handler: mux, shutdown: func(context.Context) error { return emu.Close() }}, nil
}
