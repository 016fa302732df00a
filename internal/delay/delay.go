// Package delay waits: the one context-aware sleep of the tools that add
// latency (storage/latencystore, apigwlocal) or back off (apigw).
package delay

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends, and then returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
