package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/listenurl"
	"github.com/chatfly/chatfly/internal/storageflags"
	"github.com/chatfly/chatfly/transport/apigw"
)

// localConfig configures runLocal.
type localConfig struct {
	stage   string
	storage *storageflags.Flags
	log     *slog.Logger
}

// localManagementClient returns the management API client of the local
// stack: real SigV4-signed HTTP calls, with placeholder credentials, to the
// emulator (the Transport derives its loopback endpoint from each event).
// A nil httpClient is apigw.NewHTTPClient's, as on Lambda.
func localManagementClient(httpClient aws.HTTPClient) *apigatewaymanagementapi.Client {
	if httpClient == nil {
		httpClient = apigw.NewHTTPClient(0)
	}
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  httpClient,
	})
}

// runLocal serves the serverless stack on ln until ctx is done.
func runLocal(ctx context.Context, ln net.Listener, cfg localConfig) error {
	store, err := cfg.storage.Open(ctx)
	if err != nil {
		return err
	}
	secret, err := cfg.storage.HubSecret(cfg.log) // required with -table
	if err != nil {
		return err
	}
	if secret == nil { // memory storage: one random secret for the four functions
		secret = make([]byte, chatfly.MinSecretBytes)
		_, _ = rand.Read(secret)
	}
	st := newStack(stackConfig{
		hubConfig: hubConfig{store: store, mgmt: localManagementClient(nil), secret: secret, log: cfg.log},
		stage:     cfg.stage,
	})
	srv := &http.Server{Handler: st.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	cfg.log.Info("chatfly serverless stack listening",
		"app", listenurl.Of("http", ln.Addr())+"/",
		"websocket", listenurl.Of("ws", ln.Addr())+"/"+cfg.stage,
		"management", listenurl.Of("http", ln.Addr())+"/"+cfg.stage+"/@connections/{id}")
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

// localStorageFlags defines the storage flags of -local: memory by default,
// a DynamoDB table with -table; a local -dynamodb-endpoint is called with
// placeholder credentials.
func localStorageFlags(fs *flag.FlagSet) *storageflags.Flags {
	f := storageflags.Add(fs, "with -local")
	f.LocalCredentials = true
	return f
}
