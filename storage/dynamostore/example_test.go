package dynamostore_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	miniserver "github.com/truora/minidyn/server"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/dynamostore"
)

// Open a Store over a table on AWS, with the client configured from the
// standard AWS environment (AWS_REGION, credentials, ...).
func Example_aws() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	store, err := dynamostore.Open(dynamodb.NewFromConfig(cfg), "chatfly", nil)
	if err != nil {
		log.Fatal(err)
	}
	_ = store // hand it to chatfly.New
}

// Use a DynamoDB-compatible server at a local endpoint (here minidyn, in
// process): point the client at it, create the table, and store items.
func Example() {
	srv := httptest.NewServer(miniserver.NewServer())
	defer srv.Close()

	ctx := context.Background()
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	if err := dynamostore.CreateTable(ctx, client, "chatfly"); err != nil {
		log.Fatal(err)
	}
	store, err := dynamostore.Open(client, "chatfly", nil)
	if err != nil {
		log.Fatal(err)
	}

	// Number two messages from the room's counter and store them.
	day := time.Now().Add(24 * time.Hour)
	for _, text := range []string{"hello", "hi!"} {
		seq, err := store.Add(ctx, chatfly.Key{Partition: "room#lobby", Sort: "seq"}, 1, day)
		if err != nil {
			log.Fatal(err)
		}
		msg := chatfly.Item{
			Key:     chatfly.Key{Partition: "room#lobby", Sort: fmt.Sprintf("msg#%08d", seq)},
			Value:   []byte(text),
			Expires: day,
		}
		if _, err := store.Put(ctx, msg, chatfly.IfAbsent); err != nil {
			log.Fatal(err)
		}
	}

	// Read the latest messages, newest first.
	msgs, err := store.Query(ctx, chatfly.Query{Partition: "room#lobby", Prefix: "msg#", Reverse: true, Limit: 50})
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		fmt.Println(m.Sort, string(m.Value))
	}
	// Output:
	// msg#00000002 hi!
	// msg#00000001 hello
}
