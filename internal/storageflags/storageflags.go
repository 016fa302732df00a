// Package storageflags is the command-line choice of a chatfly Storage
// shared by the example programs: memory by default, a DynamoDB table (on
// AWS, or a local DynamoDB-compatible server) with -table, Redis with
// -redis (when there is no -table: with both, the table is the storage and
// Redis is left to the relay); and of the secret that goes with it (-secret
// or $CHATFLY_SECRET), which shared storage requires.
package storageflags

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/redis/go-redis/v9"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/dynamostore"
	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/storage/redisstore"
)

// Flags are the storage flags: -table, -dynamodb-endpoint, -create-table,
// -redis.
// They are read by Open, once, after the flag set is parsed.
type Flags struct {
	// Table is the DynamoDB table; empty means memory storage.
	Table string
	// Endpoint is the URL of a DynamoDB-compatible server instead of AWS's.
	Endpoint string
	// CreateTable creates the table if it does not exist.
	CreateTable bool
	// Redis is the URL of a Redis server (redis://, rediss:// or unix://,
	// as go-redis's ParseURL reads it); without a Table, the storage.
	Redis string
	// LocalCredentials makes a local Endpoint be called with placeholder
	// credentials instead of the environment's (local servers accept any).
	LocalCredentials bool
	// AWSOptions are more options for the AWS configuration (tests).
	AWSOptions []func(*awsconfig.LoadOptions) error
	// Secret is the -secret flag; empty: $CHATFLY_SECRET.
	Secret string
	// Getenv reads the environment; nil: os.Getenv (tests set it).
	Getenv func(string) string
}

// EnvSecret is the environment variable that holds the secret when -secret
// is not given (a flag shows in the process list; the environment does not).
const EnvSecret = "CHATFLY_SECRET"

// Add defines the flags on fs; scope, if not empty, starts their usage text
// (such as "with -local").
func Add(fs *flag.FlagSet, scope string) *Flags {
	if scope != "" {
		scope += ": "
	}
	f := new(Flags)
	fs.StringVar(&f.Table, "table", "", scope+"DynamoDB table to keep all state in, shared by any number of servers (default: memory storage); AWS region and credentials come from the standard AWS environment and files")
	fs.StringVar(&f.Endpoint, "dynamodb-endpoint", "", scope+"URL of a DynamoDB-compatible server, such as dynalite or DynamoDB Local, instead of AWS's (region default: us-east-1)")
	fs.StringVar(&f.Secret, "secret", "", scope+"the secret (at least 32 bytes, e.g. from openssl rand -base64 32) that signs resume tokens, the same for every server on the -table and across restarts; prefer $"+EnvSecret+", which is read when this flag is not given (default with memory storage: a random secret per process)")
	fs.StringVar(&f.Redis, "redis", "", scope+"URL of a Redis server (redis://[user:password@]host:port[/db], rediss:// for TLS) to keep all state in when there is no -table, shared by any number of servers; keys start with chatfly:")
	fs.BoolVar(&f.CreateTable, "create-table", false, scope+"create the -table if it does not exist (for local development; production tables belong in infrastructure code, see storage/dynamostore/table.yaml)")
	return f
}

// Open returns the storage the flags choose. With a table or Redis it
// reads one missing item, so that a missing table, region or credentials,
// or an endpoint or Redis that does not answer, fail now rather than at
// the first chat.
func (f *Flags) Open(ctx context.Context) (chatfly.Storage, error) {
	if f == nil || f.Table == "" {
		if f != nil && (f.Endpoint != "" || f.CreateTable) {
			return nil, errors.New("-dynamodb-endpoint and -create-table need -table")
		}
		if f != nil && f.Redis != "" {
			return f.openRedis(ctx)
		}
		return memstore.New(nil), nil
	}
	opts := f.AWSOptions
	if f.Endpoint != "" {
		if u, err := url.Parse(f.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-dynamodb-endpoint %q: want an http:// or https:// URL", f.Endpoint)
		}
		// A local server takes any region; the environment's wins.
		opts = append([]func(*awsconfig.LoadOptions) error{awsconfig.WithDefaultRegion("us-east-1")}, opts...)
		if f.LocalCredentials {
			opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if f.Endpoint != "" {
			o.BaseEndpoint = aws.String(f.Endpoint)
		}
	})
	if f.CreateTable {
		if err := dynamostore.CreateTable(ctx, client, f.Table); err != nil {
			return nil, err
		}
	}
	store, err := dynamostore.Open(client, f.Table, nil)
	if err != nil {
		return nil, err
	}
	return checked(ctx, store, "table "+f.Table)
}

// RedisOptions returns the options of a go-redis client of the -redis URL,
// with ContextTimeoutEnabled (so that the Hub's StorageTimeout bounds every
// call); the relay's client is made of them too.
func (f *Flags) RedisOptions() (*redis.Options, error) {
	opts, err := redis.ParseURL(f.Redis)
	if err != nil {
		return nil, fmt.Errorf("-redis %q: %w", f.Redis, err)
	}
	opts.ContextTimeoutEnabled = true
	return opts, nil
}

// openRedis returns a [RedisStorage] over a new client of the -redis URL.
func (f *Flags) openRedis(ctx context.Context) (chatfly.Storage, error) {
	opts, err := f.RedisOptions()
	if err != nil {
		return nil, err
	}
	client := redis.NewClient(opts)
	store, err := redisstore.New(client, nil)
	if err == nil {
		_, err = checked(ctx, store, "redis "+opts.Addr)
	}
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	return &RedisStorage{Store: store, client: client}, nil
}

// RedisStorage is the storage of -redis: a redisstore.Store with the
// client it made, which Close closes.
type RedisStorage struct {
	*redisstore.Store
	client *redis.Client
}

// Close closes the client.
func (s *RedisStorage) Close() error { return s.client.Close() }

// checked returns store once it has answered a read of a missing item.
func checked(ctx context.Context, store chatfly.Storage, what string) (chatfly.Storage, error) {
	if _, err := store.Get(ctx, chatfly.Key{Partition: "chatfly#startup-check", Sort: "-"}); err != nil && !errors.Is(err, chatfly.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return store, nil
}

// HubSecret returns the Hub's secret (chatfly.Options.Secret): -secret, or
// else $CHATFLY_SECRET, checked with chatfly.CheckSecret. Without one, it
// refuses shared storage (-table): every server on the table, before and
// after a restart, must sign and check resume tokens with the same secret,
// or people lose their identity, owners their rooms, and a person's own
// stale membership holds their name (the same goes for -redis). With
// memory storage, which a restart
// empties anyway, it returns nil (the Hub draws a random secret) and logs a
// warning.
func (f *Flags) HubSecret(log *slog.Logger) ([]byte, error) {
	getenv := f.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	secret := f.Secret
	if secret == "" {
		secret = getenv(EnvSecret)
	}
	shared := f.Table != "" || f.Redis != ""
	if secret == "" && !shared {
		log.Warn("no -secret or " + EnvSecret + ": using a random secret; resume tokens will not survive a restart of this process")
		return nil, nil
	}
	if secret == "" {
		name := "-table"
		if f.Table == "" {
			name = "-redis"
		}
		return nil, errors.New(name + " needs -secret or " + EnvSecret + ": every server sharing the storage, and every restart, must use the same secret, or resume tokens stop working (people lose their identity and the rooms they own)")
	}
	if err := chatfly.CheckSecret([]byte(secret)); err != nil {
		return nil, fmt.Errorf("-secret or %s: %w", EnvSecret, err)
	}
	return []byte(secret), nil
}
