package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatfly/chatfly"
)

func contextCases() testCase {
	return group("Context",
		tc("Canceled", func(t *testing.T, e *env) {
			ctx, cancel := context.WithCancel(e.ctx)
			cancel()
			testDoneContext(t, e, ctx, context.Canceled)
		}),
		tc("DeadlineExceeded", func(t *testing.T, e *env) {
			ctx, cancel := context.WithDeadline(e.ctx, time.Now().Add(-time.Second))
			defer cancel()
			testDoneContext(t, e, ctx, context.DeadlineExceeded)
		}),
	)
}

// testDoneContext calls every method with a context that is already done:
// each must return an error, and must not panic.
func testDoneContext(t *testing.T, e *env, ctx context.Context, cause error) {
	p := e.part("p")
	k := key(p, "a")
	e.wantPut(t, item(k, "v", never), chatfly.Always, 1)
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := e.Storage.Get(ctx, k); return err }},
		{"Put", func() error { _, err := e.Storage.Put(ctx, item(key(p, "b"), "v", never), chatfly.Always); return err }},
		{"Delete", func() error { return e.Storage.Delete(ctx, k, chatfly.Always) }},
		{"Query", func() error { _, err := e.Storage.Query(ctx, chatfly.Query{Partition: p}); return err }},
		{"Add", func() error { _, err := e.Storage.Add(ctx, key(p, "n"), 1, never); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			panicked, err := protect(c.call)
			if panicked != nil {
				t.Fatalf("%s with a done context panicked: %v", c.name, panicked)
			}
			if err == nil {
				t.Fatalf("%s with a done context returned no error", c.name)
			}
			if !errors.Is(err, cause) {
				// The contract does not require it, but callers that tell
				// cancellation from failure need it.
				t.Logf("%s with a done context: error %v does not wrap %v", c.name, err, cause)
			}
		})
	}
}
