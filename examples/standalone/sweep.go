package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/chatfly/chatfly"
)

// sweepInterval is how often the server pairs roulette waiters that no
// client asked again for (Hub.Sweep): browsers slow down the timers of
// background tabs, up to once a minute, so a tab's own ask may come late.
const sweepInterval = 2 * time.Second

// startSweep calls hub.Sweep every sweepInterval until the returned
// function is called, which waits for the sweeper to end.
func startSweep(ctx context.Context, hub *chatfly.Hub, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(sweepInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := hub.Sweep(ctx); err != nil && ctx.Err() == nil {
				log.Warn("roulette sweep", "err", err)
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
