package dynamostore_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatfly/chatfly/storage/dynamostore"
	"github.com/chatfly/chatfly/storage/dynamostore/dynamotest"
	"github.com/chatfly/chatfly/storage/storagetest"
)

// TestHubScenarios runs the Hub's concurrency scenarios — roulette pairing
// on four Hubs, two Hubs racing moves on one game — on DynamoDB. On
// dynalite at full size (200 sessions); on minidyn, which reads its whole
// table for every query, with 40 sessions.
func TestHubScenarios(t *testing.T) {
	dynamotest.ForEach(t, func(t *testing.T, client *dynamodb.Client) {
		var opts *storagetest.HubTestOptions
		if onMinidyn(t) {
			opts = &storagetest.HubTestOptions{Sessions: 40, Ops: 4}
		}
		storagetest.RunHubTests(t, storagetest.HarnessFunc(func(ctx context.Context, t *testing.T) (*storagetest.Env, error) {
			s, err := dynamostore.Open(client, dynamotest.NewTable(t, client), nil)
			return &storagetest.Env{Storage: s}, err
		}), opts)
	})
}
