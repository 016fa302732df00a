package dynamostore_test

import (
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/budget"
	"github.com/chatfly/chatfly/storage/dynamostore"
)

// TestStorageBudget checks issue 15's budgets of storage round trips per
// protocol action (internal/budget) with the Hub over the Store, as on
// AWS: the same check the root package runs on memstore.
func TestStorageBudget(t *testing.T) {
	forEachBackend(t, func(t *testing.T, endpoint string) {
		client := newClient(t, endpoint)
		budget.Check(t, func(now func() time.Time) chatfly.Storage {
			store, err := dynamostore.Open(client, newTable(t, client), &dynamostore.Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			return store
		})
	})
}
