package dynamostore_test

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatfly/chatfly/storage/dynamostore"
)

// TestCreateTable checks the table that CreateTable makes, and that calling
// it again on an existing table is fine.
func TestCreateTable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, endpoint string) {
		client := newClient(t, endpoint)
		table := newTable(t, client)
		if err := dynamostore.CreateTable(t.Context(), client, table); err != nil {
			t.Fatalf("CreateTable on an existing table: %v", err)
		}
		out, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]types.KeyType{}
		for _, k := range out.Table.KeySchema {
			keys[aws.ToString(k.AttributeName)] = k.KeyType
		}
		if keys["pk"] != types.KeyTypeHash || keys["sk"] != types.KeyTypeRange || len(keys) != 2 {
			t.Errorf("key schema %v", keys)
		}
	})
}

// TestTableTemplate keeps table.yaml in step with CreateTable.
func TestTableTemplate(t *testing.T) {
	b, err := os.ReadFile("table.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := string(b)
	for _, want := range []string{
		"Type: AWS::DynamoDB::Table",
		"BillingMode: PAY_PER_REQUEST",
		"- AttributeName: " + dynamostore.AttrPartition + "\n          AttributeType: S",
		"- AttributeName: " + dynamostore.AttrSort + "\n          AttributeType: S",
		"- AttributeName: " + dynamostore.AttrPartition + "\n          KeyType: HASH",
		"- AttributeName: " + dynamostore.AttrSort + "\n          KeyType: RANGE",
		"TimeToLiveSpecification:\n        AttributeName: " + dynamostore.AttrExpires + "\n        Enabled: true",
	} {
		if !strings.Contains(yaml, want) {
			t.Errorf("table.yaml lacks %q", want)
		}
	}
	if strings.Contains(yaml, "GlobalSecondaryIndexes") {
		t.Error("table.yaml has a secondary index that CreateTable does not make")
	}
}
