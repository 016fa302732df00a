package chatfly_test

import (
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/budget"
	"github.com/chatfly/chatfly/storage/memstore"
)

// TestStorageBudget checks issue 15's budgets of storage round trips per
// action (internal/budget) on memstore; chatfly/storage/dynamostore runs
// the same check on DynamoDB-compatible servers.
func TestStorageBudget(t *testing.T) {
	budget.Check(t, func(now func() time.Time) chatfly.Storage {
		return memstore.New(&memstore.Options{Now: now})
	})
}
