package main

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/scenario"
	"github.com/chatfly/chatfly/storage/dynamostore"
	"github.com/chatfly/chatfly/storage/dynamostore/dynamotest"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/transport/apigw/apigwlocal"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// storage is a kind of Storage the stack runs on in the tests.
type storage struct {
	name string
	// open returns a new, empty Storage for t, whose DynamoDB client (if
	// any) records its operations in ops.
	open func(t *testing.T, ops *opLog) chatfly.Storage
}

// storages: memstore (the default of -local), and dynamostore on minidyn
// (in process, every run) and dynalite (when installed; required in CI with
// CHATFLY_REQUIRE_DYNALITE=1).
var storages = []storage{
	{name: "memstore", open: func(*testing.T, *opLog) chatfly.Storage { return memstore.New(nil) }},
	{name: "minidyn", open: func(t *testing.T, ops *opLog) chatfly.Storage {
		return openTable(t, dynamotest.MinidynEndpoint(t), ops)
	}},
	{name: "dynalite", open: func(t *testing.T, ops *opLog) chatfly.Storage {
		return openTable(t, dynamotest.DynaliteEndpoint(t), ops)
	}},
}

// openTable creates a table on the server at endpoint and opens a store on
// it whose client records its operations in ops (the table's creation is
// not recorded: it is not the functions' doing).
func openTable(t *testing.T, endpoint string, ops *opLog) chatfly.Storage {
	t.Helper()
	table := dynamotest.NewTable(t, dynamotest.NewClient(t, endpoint))
	var client *dynamodb.Client
	if ops != nil {
		client = dynamotest.NewClient(t, endpoint, ops.middleware)
	} else {
		client = dynamotest.NewClient(t, endpoint)
	}
	st, err := dynamostore.Open(client, table, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// opLog records the AWS operations of a client, by service.
type opLog struct {
	mu  sync.Mutex
	ops map[string]map[string]bool // service id -> operation names
}

// middleware adds the recording to a client's stack.
func (l *opLog) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("chatflyOpLog",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			l.add(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx))
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (l *opLog) add(service, op string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ops == nil {
		l.ops = make(map[string]map[string]bool)
	}
	if l.ops[service] == nil {
		l.ops[service] = make(map[string]bool)
	}
	l.ops[service][op] = true
}

func (l *opLog) of(service string) map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ops[service]
}

// testStack is a running stack on 127.0.0.1.
type testStack struct {
	*stack
	url   string // ws:// URL of the API
	base  string // http:// URL of the server
	store chatfly.Storage
	admin *chatfly.Hub // the application backend's Hub (see newHub)
}

// testConfig configures startStack.
type testConfig struct {
	store   chatfly.Storage  // nil: memstore
	hub     *chatfly.Options // nil: defaults
	emu     *apigwlocal.Options
	ops     *opLog       // records the management API calls, if set
	metrics *slog.Logger // hubConfig.metrics
}

// startStack runs the stack of -local for t, with the management client
// making real HTTP calls to the emulator.
func startStack(t *testing.T, cfg testConfig) *testStack {
	t.Helper()
	if cfg.store == nil {
		cfg.store = memstore.New(nil)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	httpTransport := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(httpTransport.CloseIdleConnections)
	mgmt := localManagementClient(&http.Client{Transport: httpTransport})
	if cfg.ops != nil {
		mgmt = apigatewaymanagementapi.New(mgmt.Options(), func(o *apigatewaymanagementapi.Options) {
			o.APIOptions = append(o.APIOptions, cfg.ops.middleware)
		})
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	hc := hubConfig{store: cfg.store, mgmt: mgmt, secret: secret, hub: cfg.hub, log: log, metrics: cfg.metrics, made: &transports{}}
	st := newStack(stackConfig{hubConfig: hc, stage: "test", emu: cfg.emu})
	srv := httptest.NewServer(st.handler)
	t.Cleanup(func() {
		_ = st.emu.Close()
		hc.made.wait() // the slow-consumer closes still retrying, before goleak looks
		srv.Close()
	})
	hc.endpoint = srv.URL + "/test"
	admin, _ := newHub(hc, log.With("function", "admin"))
	return &testStack{stack: st, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/test", base: srv.URL, store: cfg.store, admin: admin}
}

// lambdaHost runs the scenario suite on the stack.
type lambdaHost struct {
	st  storage
	ops *opLog
}

func (h lambdaHost) Start(t *testing.T, opts *chatfly.Options) scenario.Deployment {
	s := startStack(t, testConfig{store: h.st.open(t, h.ops), hub: opts, ops: h.ops})
	return scenario.Deployment{URL: s.url, Gateway: true, Hub: s.admin}
}

// TestScenarios runs the client-level scenario suite that the standalone
// server runs too (e2e), on the serverless stack: real WebSocket clients →
// the API Gateway emulator → the four Lambda functions (each its own Hub) →
// storage, and back with PostToConnection over HTTP. On DynamoDB, it also
// records the AWS operations the functions use, which TestTemplate checks
// against the IAM policies of template.yaml.
func TestScenarios(t *testing.T) {
	for _, st := range storages {
		t.Run(st.name, func(t *testing.T) {
			scenario.Run(t, lambdaHost{st: st, ops: usedOps})
		})
	}
}

// usedOps are the AWS operations the functions made in TestScenarios.
var usedOps = new(opLog)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), scenario.Timeout)
	t.Cleanup(cancel)
	return ctx
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
