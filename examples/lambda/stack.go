package main

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/games/builtin"
	"github.com/chatfly/chatfly/observe/emflog"
	"github.com/chatfly/chatfly/transport/apigw"
	"github.com/chatfly/chatfly/transport/apigw/apigwlocal"
	"github.com/chatfly/chatfly/web"
)

// function is one Lambda function of the seed architecture and the routes
// of the WebSocket API it serves. template.yaml declares the same (a test
// checks it).
type function struct {
	name   string   // the value of CHATFLY_FUNCTION
	routes []string // route keys
}

// functions are the four functions: Connect, Disconnect, Message (every
// action without a route of its own) and Roulette (the roulette.* actions,
// which API Gateway's route selection on $request.body.action sends to a
// function of their own, so it can be scaled and limited separately).
var functions = []function{
	{name: "connect", routes: []string{"$connect"}},
	{name: "disconnect", routes: []string{"$disconnect"}},
	{name: "message", routes: []string{"$default"}},
	{name: "roulette", routes: []string{"roulette.join", "roulette.next", "roulette.leave"}},
}

func functionNamed(name string) (function, bool) {
	i := slices.IndexFunc(functions, func(f function) bool { return f.name == name })
	if i < 0 {
		return function{}, false
	}
	return functions[i], true
}

// hubConfig is what every function's Hub is made of.
type hubConfig struct {
	store chatfly.Storage
	mgmt  *apigatewaymanagementapi.Client
	// endpoint is the management API's URL for a Hub that serves no API
	// Gateway event (an application's backend); "": the event's.
	endpoint string
	secret   []byte           // shared by every function: resume tokens
	origins  []string         // web page origins allowed to connect; none: any
	hub      *chatfly.Options // base options, copied; nil: defaults
	log      *slog.Logger
	metrics  *slog.Logger // a JSON logger for the CloudWatch EMF lines of observe/emflog; nil: none
	// made, if set, is told of every Transport made, so that their
	// background work can be waited for at shutdown.
	made *transports
}

// transports are the Transports of a stack's functions.
type transports struct {
	mu  sync.Mutex
	all []*apigw.Transport
}

func (ts *transports) add(t *apigw.Transport) *apigw.Transport {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.all = append(ts.all, t)
	return t
}

// wait waits for the background closes of slow consumers (see
// apigw.Transport.Wait) of every Transport made so far.
func (ts *transports) wait() {
	ts.mu.Lock()
	all := slices.Clone(ts.all)
	ts.mu.Unlock()
	for _, t := range all {
		t.Wait()
	}
}

// newFunction returns the handler of one function: its own Hub (as in its
// own Lambda execution environment) over the shared storage, writing back
// through API Gateway's management API.
func newFunction(fn function, cfg hubConfig) apigwlocal.Handler {
	log := cfg.log.With("function", fn.name)
	if cfg.metrics != nil {
		cfg.metrics = cfg.metrics.With("function", fn.name)
	}
	hub, opts := newHub(cfg, log)
	return &functionHandler{
		fn:  fn,
		h:   apigw.NewHandler(hub, &apigw.HandlerOptions{MaxNameRunes: opts.MaxNameRunes, OriginPatterns: cfg.origins, Logger: log}),
		log: log,
	}
}

// newHub returns a Hub as every function has, over the shared storage,
// writing back through the management API, and its options. An
// application's own backend makes one the same way for the server-side API
// (Hub.Room, Room.Publish, Hub.DisconnectSession...).
func newHub(cfg hubConfig, log *slog.Logger) (*chatfly.Hub, chatfly.Options) {
	var opts chatfly.Options
	if cfg.hub != nil {
		opts = *cfg.hub
	}
	if opts.Rooms == nil {
		opts.Rooms = chatfly.DefaultRooms() // lobby, random, games
	}
	if opts.Games == nil {
		opts.Games = builtin.All()
	}
	opts.Secret = cfg.secret
	opts.Logger = log
	if cfg.metrics != nil {
		opts.Observer = emflog.New(cfg.metrics, nil)
	}
	tr := apigw.New(cfg.mgmt, &apigw.Options{Endpoint: cfg.endpoint, Logger: log})
	if cfg.made != nil {
		cfg.made.add(tr)
	}
	return chatfly.New(cfg.store, tr, &opts), opts
}

// functionHandler serves the events of one function.
type functionHandler struct {
	fn  function
	h   *apigw.Handler
	log *slog.Logger
}

// Handle serves an event. An event of a route that belongs to another
// function means the API's routes and the functions disagree: it is served
// all the same (every function can serve every route) and logged.
func (f *functionHandler) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	if rk := req.RequestContext.RouteKey; !slices.Contains(f.fn.routes, rk) {
		f.log.WarnContext(ctx, "event of a route this function does not serve; check the API's routes", "route", rk)
	}
	return f.h.Handle(ctx, req)
}

// stack is the serverless stack on one machine: the four functions behind
// the API Gateway emulator, and the web app.
type stack struct {
	emu     *apigwlocal.Server
	handler http.Handler // the emulator at /{stage}, the web app at /
}

// stackConfig configures a stack.
type stackConfig struct {
	hubConfig
	stage string
	emu   *apigwlocal.Options // Stage and Routes are set by newStack; nil: defaults
}

// newStack wires the four functions to the emulator with the routes of the
// template, and serves the web app configured for the emulator's endpoint.
// Close the stack's emulator when done.
func newStack(cfg stackConfig) *stack {
	routes := make(map[string]apigwlocal.Handler)
	for _, fn := range functions {
		// Each concurrent invocation in an environment of its own, with
		// its own Hub, as on Lambda.
		h := apigwlocal.NewPool(func() apigwlocal.Handler { return newFunction(fn, cfg.hubConfig) })
		for _, rk := range fn.routes {
			routes[rk] = h
		}
	}
	var eo apigwlocal.Options
	if cfg.emu != nil {
		eo = *cfg.emu
	}
	eo.Stage = cfg.stage
	eo.Routes = routes
	if eo.Logger == nil {
		eo.Logger = cfg.log
	}
	emu := apigwlocal.New(&eo)
	mux := http.NewServeMux()
	mux.Handle("/"+cfg.stage, emu)
	mux.Handle("/"+cfg.stage+"/", emu)
	mux.Handle("/", web.Handler(&web.Options{WebSocketURL: "/" + cfg.stage}))
	return &stack{emu: emu, handler: mux}
}

// routeKeys returns every route key of the functions, sorted.
func routeKeys() []string {
	keys := make(map[string]bool)
	for _, fn := range functions {
		for _, rk := range fn.routes {
			keys[rk] = true
		}
	}
	return slices.Sorted(maps.Keys(keys))
}
