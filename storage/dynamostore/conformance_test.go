package dynamostore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/dynamostore"
	"github.com/chatfly/chatfly/storage/storagetest"
)

// TestConformance runs the storagetest suite on each backend twice: with a
// fake clock given to the Store (the emulators never delete expired items,
// so the Store's clock alone decides expiry), and with the real clock, as in
// production.
//
// On dynalite all cases share one table, as cases of a real deployment
// share partitions of one table. On minidyn each case gets a table of its
// own: minidyn reads the whole table for every page of a Query, and with a
// FilterExpression its Limit also counts items of other partitions, so a
// Query with a small Limit over a large shared table takes thousands of
// pages there (never on DynamoDB, whose Limit counts only the items that
// match the key condition).
func TestConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, endpoint string) {
		calls := new(callCounter)
		client := newClient(t, endpoint, calls.middleware)
		shared := ""
		if !onMinidyn(t) {
			shared = newTable(t, client)
		}
		open := func(t *testing.T, opts *dynamostore.Options) (chatfly.Storage, error) {
			if onMinidyn(t) && strings.HasSuffix(t.Name(), "/Add/Large") {
				// minidyn keeps numbers as float64: 2^53+1 is out of reach.
				t.Skip("minidyn computes numbers in float64, so counters lose precision past 2^53")
			}
			table := shared
			if table == "" {
				table = newTable(t, client)
			}
			return dynamostore.Open(client, table, opts)
		}
		t.Run("FakeClock", func(t *testing.T) {
			storagetest.RunConformanceTests(t, storagetest.HarnessFunc(
				func(ctx context.Context, t *testing.T) (*storagetest.Env, error) {
					clock := storagetest.NewFakeClock(time.Time{})
					s, err := open(t, &dynamostore.Options{Now: clock.Now})
					return &storagetest.Env{Storage: s, Clock: clock}, err
				}))
		})
		t.Run("RealClock", func(t *testing.T) {
			storagetest.RunConformanceTests(t, storagetest.HarnessFunc(
				func(ctx context.Context, t *testing.T) (*storagetest.Env, error) {
					s, err := open(t, nil)
					return &storagetest.Env{Storage: s}, err
				}))
		})
		if n := calls.get("Scan"); n != 0 {
			t.Errorf("the suite made %d Scan calls, want none", n)
		}
		t.Logf("calls: %v", calls.snapshot())
	})
}
