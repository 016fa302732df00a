package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/dynamostore"
	"github.com/chatfly/chatfly/storage/memstore"
)

// storageFlags choose the storage of -local: memory by default, a DynamoDB
// table (AWS's, or a local server such as dynalite) with -table.
type storageFlags struct {
	table       string
	endpoint    string
	createTable bool
}

func addStorageFlags(fs *flag.FlagSet) *storageFlags {
	f := new(storageFlags)
	fs.StringVar(&f.table, "table", "", "with -local: DynamoDB table to keep the state in (default: memory storage)")
	fs.StringVar(&f.endpoint, "dynamodb-endpoint", "", "with -local -table: URL of a DynamoDB-compatible server such as dynalite (http://127.0.0.1:4567)")
	fs.BoolVar(&f.createTable, "create-table", false, "with -local -table: create the table if it does not exist")
	return f
}

// open returns the storage the flags choose.
func (f *storageFlags) open(ctx context.Context) (chatfly.Storage, error) {
	if f == nil || f.table == "" {
		if f != nil && (f.endpoint != "" || f.createTable) {
			return nil, errors.New("-dynamodb-endpoint and -create-table need -table")
		}
		return memstore.New(nil), nil
	}
	var loadOpts []func(*awsconfig.LoadOptions) error
	if f.endpoint != "" {
		if u, err := url.Parse(f.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-dynamodb-endpoint %q: want an http:// or https:// URL", f.endpoint)
		}
		// A local server takes any region and credentials.
		loadOpts = append(loadOpts, awsconfig.WithDefaultRegion("us-east-1"),
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if f.endpoint != "" {
			o.BaseEndpoint = aws.String(f.endpoint)
		}
	})
	if f.createTable {
		if err := dynamostore.CreateTable(ctx, client, f.table); err != nil {
			return nil, err
		}
	}
	store, err := dynamostore.Open(client, f.table, nil)
	if err != nil {
		return nil, err
	}
	if _, err := store.Get(ctx, chatfly.Key{Partition: "lambda#startup-check"}); err != nil && !errors.Is(err, chatfly.ErrNotFound) {
		return nil, fmt.Errorf("table %s: %w", f.table, err)
	}
	return store, nil
}

// localConfig configures runLocal.
type localConfig struct {
	stage   string
	storage *storageFlags
	log     *slog.Logger
}

// localManagementClient returns the management API client of the local
// stack: real SigV4-signed HTTP calls, with placeholder credentials, to the
// emulator (the Transport derives its loopback endpoint from each event).
func localManagementClient(httpClient aws.HTTPClient) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  httpClient,
	})
}

// runLocal serves the serverless stack on ln until ctx is done.
func runLocal(ctx context.Context, ln net.Listener, cfg localConfig) error {
	store, err := cfg.storage.open(ctx)
	if err != nil {
		return err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	st := newStack(stackConfig{
		hubConfig: hubConfig{store: store, mgmt: localManagementClient(nil), secret: secret, log: cfg.log},
		stage:     cfg.stage,
	})
	srv := &http.Server{Handler: st.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	cfg.log.Info("chatfly serverless stack listening",
		"app", "http://"+ln.Addr().String()+"/",
		"websocket", "ws://"+ln.Addr().String()+"/"+cfg.stage,
		"management", "http://"+ln.Addr().String()+"/"+cfg.stage+"/@connections/{id}")
	select {
	case err := <-errc:
		_ = st.emu.Close()
		return err
	case <-ctx.Done():
	}
	cfg.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = st.emu.Close() // closes the WebSockets with 1001 and runs $disconnect
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
