package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/stretchr/testify/require"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/internal/redistest"
	"github.com/chatfly/chatfly/internal/storageflags"
	"github.com/chatfly/chatfly/storage/dynamostore/dynamotest"
	"github.com/chatfly/chatfly/storage/memstore"
)

// openStorageFlags parses args as the command line's storage flags and
// opens the storage they choose.
func openStorageFlags(t *testing.T, args ...string) (chatfly.Storage, error) {
	t.Helper()
	f := parseStorageFlags(t, args...)
	// minidyn answers with an X-Amz-Crc32 header of 0, which the SDK logs
	// a warning about for every response.
	f.AWSOptions = append(f.AWSOptions, awsconfig.WithLogger(logging.Nop{}))
	store, err := f.Open(t.Context())
	if c, ok := store.(io.Closer); ok {
		t.Cleanup(func() { _ = c.Close() })
	}
	return store, err
}

// parseStorageFlags parses args as the command line's storage flags, with
// an empty environment.
func parseStorageFlags(t *testing.T, args ...string) *storageflags.Flags {
	t.Helper()
	fs := flag.NewFlagSet("standalone", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := storageflags.Add(fs, "")
	if err := fs.Parse(args); err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	f.Getenv = func(string) string { return "" }
	return f
}

// TestStorageFlags: memory storage by default, and clear errors for flags
// that do not go together.
func TestStorageFlags(t *testing.T) {
	store, err := openStorageFlags(t)
	if _, ok := store.(*memstore.Store); !ok || err != nil {
		t.Fatalf("no flags: %T, %v; want memory storage", store, err)
	}
	for _, args := range [][]string{
		{"-create-table"},
		{"-dynamodb-endpoint", "http://127.0.0.1:4567"},
		{"-dynamodb-endpoint", "127.0.0.1:4567", "-table", "chatfly"},
		{"-dynamodb-endpoint", "ftp://127.0.0.1:4567", "-table", "chatfly"},
	} {
		if _, err := openStorageFlags(t, args...); err == nil {
			t.Errorf("flags %q: no error", args)
		} else {
			t.Logf("flags %q: %v", args, err)
		}
	}
}

// TestDynamoDBStorageFlags runs the server on a DynamoDB table, as
// -dynamodb-endpoint, -table and -create-table choose, on minidyn: two
// people chat on one server, and a third one, on a second server over the
// same table, finds them in the room with its history.
func TestDynamoDBStorageFlags(t *testing.T) {
	endpoint := localDynamoDB(t)

	const table = "standalone-test"
	_, err := openStorageFlags(t, "-dynamodb-endpoint", endpoint, "-table", table)
	if err == nil || !strings.Contains(err.Error(), table) {
		t.Fatalf("a missing table without -create-table: %v, want an error naming it", err)
	}
	t.Logf("missing table: %v", err)

	chatAcrossServers(t, "hello from DynamoDB", "-dynamodb-endpoint", endpoint, "-table", table, "-create-table", "-secret", string(secret))
}

// TestRedisStorageFlags runs the server on Redis, as -redis chooses, on
// miniredis (in process): two people chat on one server, and a third one,
// on a second server over the same Redis, finds them in the room with its
// history. A Redis that does not answer, or a bad URL, fails at start, and
// -redis needs a secret.
func TestRedisStorageFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-redis", "http://127.0.0.1:6379"},
		{"-redis", "redis://127.0.0.1:1"},
	} {
		_, err := openStorageFlags(t, args...)
		require.Error(t, err, "flags %q", args)
		t.Logf("flags %q: %v", args, err)
	}
	_, err := parseStorageFlags(t, "-redis", "redis://127.0.0.1:1").HubSecret(slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorContains(t, err, "-redis needs -secret")

	url := "redis://" + redistest.MiniredisAddr(t) + "/0"
	chatAcrossServers(t, "hello from Redis", "-redis", url, "-secret", string(secret))
}

// chatAcrossServers runs servers over the shared storage that args choose:
// two people chat on one, and a third one, on a second server, finds them
// in the room with text in its history.
func chatAcrossServers(t *testing.T, text string, args ...string) {
	t.Helper()
	serve := func() string { url, _ := serveFlags(t, args...); return url }
	dial := func(url, name string) *client.Client { return dialAs(t, url, &client.Options{Name: name}) }
	join := func(c *client.Client) *client.Joined {
		t.Helper()
		j, err := c.Join(t.Context(), "lobby", 0)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}

	first := serve()
	ada, lin := dial(first, "Ada"), dial(first, "Lin")
	join(ada)
	join(lin)
	if _, err := ada.Send(t.Context(), "lobby", text); err != nil {
		t.Fatal(err)
	}
	for timeout := time.After(10 * time.Second); ; {
		select {
		case ev, ok := <-lin.Events():
			if !ok {
				t.Fatalf("Lin's connection ended: %v", lin.Err())
			}
			if ev.Type != "message" {
				continue
			}
			if ev.Text != text || ev.From.Name != "Ada" {
				t.Fatalf("Lin got %+v", ev)
			}
		case <-timeout:
			t.Fatal("Lin got no message")
		}
		break
	}

	cy := dial(serve(), "Cy")
	j := join(cy)
	if len(j.History) != 1 || j.History[0].Text != text || len(j.Members) != 3 {
		t.Fatalf("Cy on the second server joined %+v, want Ada's message and three members", j)
	}
}

// localDynamoDB starts minidyn and sets up the environment to call it with
// placeholder credentials, as for any local DynamoDB-compatible server; the
// user's AWS files and the instance metadata service stay out of it. It
// returns the endpoint.
func localDynamoDB(t *testing.T) string {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_DYNAMODB": "",
	} {
		t.Setenv(k, v)
	}
	return dynamotest.MinidynEndpoint(t)
}

// serveFlags runs the server as the command line's storage flags args
// choose (secret included), and returns its WebSocket URL and a function
// that stops it as SIGTERM does (which the test's cleanup also does).
func serveFlags(t *testing.T, args ...string) (url string, stop func()) {
	t.Helper()
	store, err := openStorageFlags(t, args...) // creating the table again is fine
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.(*memstore.Store); ok {
		t.Fatal("memory storage, want shared storage")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	secret, err := parseStorageFlags(t, args...).HubSecret(log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	relay, closeRelay, err := openRelay(t.Context(), parseStorageFlags(t, args...), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeRelay() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, ln, &config{log: log, store: store, hub: &chatfly.Options{Secret: secret}, relay: relay})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return "ws://" + ln.Addr().String() + "/ws", stop
}

// dialAs connects a client to url.
func dialAs(t *testing.T, url string, opts *client.Options) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("Dial %+v: %v", opts, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
