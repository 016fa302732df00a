package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/client"
	"github.com/chatfly/chatfly/internal/storageflags"
	"github.com/chatfly/chatfly/storage/dynamostore"
	"github.com/chatfly/chatfly/storage/dynamostore/dynamotest"
	"github.com/chatfly/chatfly/storage/memstore"
)

// openStorageFlags parses args as the command line's storage flags and
// opens the storage they choose.
func openStorageFlags(t *testing.T, args ...string) (chatfly.Storage, error) {
	t.Helper()
	fs := flag.NewFlagSet("standalone", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := storageflags.Add(fs, "")
	if err := fs.Parse(args); err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	// minidyn answers with an X-Amz-Crc32 header of 0, which the SDK logs
	// a warning about for every response.
	f.AWSOptions = append(f.AWSOptions, awsconfig.WithLogger(logging.Nop{}))
	return f.Open(t.Context())
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
	// Placeholder credentials, as for any local DynamoDB-compatible server;
	// the user's AWS files and the instance metadata service stay out of it.
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_DYNAMODB": "",
	} {
		t.Setenv(k, v)
	}
	endpoint := dynamotest.MinidynEndpoint(t)

	const table = "standalone-test"
	_, err := openStorageFlags(t, "-dynamodb-endpoint", endpoint, "-table", table)
	if err == nil || !strings.Contains(err.Error(), table) {
		t.Fatalf("a missing table without -create-table: %v, want an error naming it", err)
	}
	t.Logf("missing table: %v", err)

	args := []string{"-dynamodb-endpoint", endpoint, "-table", table, "-create-table"}
	serve := func() string {
		t.Helper()
		store, err := openStorageFlags(t, args...) // creating the table again is fine
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := store.(*dynamostore.Store); !ok {
			t.Fatalf("storage %T, want a *dynamostore.Store", store)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, ln, &config{log: slog.New(slog.NewTextHandler(io.Discard, nil)), store: store})
		}()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
		return "ws://" + ln.Addr().String() + "/ws"
	}
	dial := func(url, name string) *client.Client {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		c, err := client.Dial(ctx, url, &client.Options{Name: name})
		if err != nil {
			t.Fatalf("Dial %s: %v", name, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
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
	if _, err := ada.Send(t.Context(), "lobby", "hello from DynamoDB"); err != nil {
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
			if ev.Text != "hello from DynamoDB" || ev.From.Name != "Ada" {
				t.Fatalf("Lin got %+v", ev)
			}
		case <-timeout:
			t.Fatal("Lin got no message")
		}
		break
	}

	cy := dial(serve(), "Cy")
	j := join(cy)
	if len(j.History) != 1 || j.History[0].Text != "hello from DynamoDB" || len(j.Members) != 3 {
		t.Fatalf("Cy on the second server joined %+v, want Ada's message and three members", j)
	}
}
