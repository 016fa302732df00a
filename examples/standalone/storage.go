package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/dynamostore"
	"github.com/chatfly/chatfly/storage/memstore"
)

// storageFlags are the command-line flags that choose the storage: memory
// by default, a DynamoDB table with -table.
type storageFlags struct {
	table       string
	endpoint    string
	createTable bool

	awsOptions []func(*awsconfig.LoadOptions) error // more options for the AWS configuration (tests)
}

// addStorageFlags defines the storage flags on fs.
func addStorageFlags(fs *flag.FlagSet) *storageFlags {
	f := new(storageFlags)
	fs.StringVar(&f.table, "table", "", "DynamoDB table to keep all state in, shared by any number of servers (default: memory storage); AWS region and credentials come from the standard AWS environment and files")
	fs.StringVar(&f.endpoint, "dynamodb-endpoint", "", "URL of a DynamoDB-compatible server, such as dynalite or DynamoDB Local, instead of AWS's (region default: us-east-1)")
	fs.BoolVar(&f.createTable, "create-table", false, "create the -table if it does not exist (for local development; production tables belong in infrastructure code, see storage/dynamostore/table.yaml)")
	return f
}

// open returns the storage the flags choose. With -table it reads one
// (missing) item to check the table and the AWS configuration.
func (f *storageFlags) open(ctx context.Context) (chatfly.Storage, error) {
	if f.table == "" {
		if f.endpoint != "" || f.createTable {
			return nil, errors.New("-dynamodb-endpoint and -create-table need -table")
		}
		return memstore.New(nil), nil
	}
	var loadOpts []func(*awsconfig.LoadOptions) error
	if f.endpoint != "" {
		if u, err := url.Parse(f.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-dynamodb-endpoint %q: want an http:// or https:// URL", f.endpoint)
		}
		// A local server takes any region; the environment's wins.
		loadOpts = append(loadOpts, awsconfig.WithDefaultRegion("us-east-1"))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, append(loadOpts, f.awsOptions...)...)
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
	// Fail now, not at the first chat, on a missing table, region or
	// credentials, or an endpoint that does not answer.
	if _, err := store.Get(ctx, chatfly.Key{Partition: "standalone#startup-check"}); err != nil && !errors.Is(err, chatfly.ErrNotFound) {
		return nil, fmt.Errorf("table %s: %w", f.table, err)
	}
	return store, nil
}

// storage returns cfg.store, or new memory storage if it is nil.
func (cfg *config) storage() chatfly.Storage {
	if cfg.store == nil {
		return memstore.New(nil)
	}
	return cfg.store
}
