package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatfly/chatfly/storage/memstore"
	"github.com/chatfly/chatfly/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.RunConformanceTests(t, storagetest.HarnessFunc(func(context.Context, *testing.T) (*storagetest.Env, error) {
		clock := storagetest.NewFakeClock(time.Time{})
		return &storagetest.Env{Storage: memstore.New(&memstore.Options{Now: clock.Now}), Clock: clock}, nil
	}))
}

// TestConformanceSmallBudget runs the suite on stores with a budget of 4
// MiB, a little more than its largest case writes (1.25 MiB of values in one
// partition): a budget changes nothing the suite can see.
func TestConformanceSmallBudget(t *testing.T) {
	storagetest.RunConformanceTests(t, storagetest.HarnessFunc(func(context.Context, *testing.T) (*storagetest.Env, error) {
		clock := storagetest.NewFakeClock(time.Time{})
		return &storagetest.Env{Storage: memstore.New(&memstore.Options{Now: clock.Now, MaxBytes: 4 << 20}), Clock: clock}, nil
	}))
}

// TestConformanceRealClock runs the suite the way it runs against a remote
// backend, without a fake clock, so that this path of the suite is tested
// too. It waits about two seconds for items to expire.
func TestConformanceRealClock(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the real clock")
	}
	store := memstore.New(nil) // one Store shared by all cases, like a shared table
	storagetest.RunConformanceTests(t, storagetest.HarnessFunc(func(context.Context, *testing.T) (*storagetest.Env, error) {
		return &storagetest.Env{Storage: store}, nil
	}))
}

func TestHubScenarios(t *testing.T) {
	storagetest.RunHubTests(t, storagetest.HarnessFunc(func(context.Context, *testing.T) (*storagetest.Env, error) {
		return &storagetest.Env{Storage: memstore.New(nil)}, nil
	}), nil)
}
