package apigw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/internal/delay"
)

// SendMany posts frame to every connection, at most Options.Parallelism
// calls at once, and returns the connections that are gone, slow consumers
// included (see Options.SlowCloseGrace). Every connection gets its first
// attempt before any is retried; retries go on for at most
// Options.RetryBudget. The other failures are joined in err.
func (t *Transport) SendMany(ctx context.Context, connIDs []string, frame []byte) (gone []string, err error) {
	if len(connIDs) == 0 {
		return nil, nil
	}
	if len(frame) > MaxPayloadBytes {
		return nil, fmt.Errorf("apigw: a frame of %d bytes is over API Gateway's %d-byte message limit: %w", len(frame), MaxPayloadBytes, chatfly.ErrTooLarge)
	}
	ep, err := t.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(t.opts.RetryBudget)
	var errs []error
	pending := connIDs
	var last []error // the errors of the pending connections, in their order
	for attempt := 1; ; attempt++ {
		r := t.postAll(ctx, ep, pending, frame)
		gone = append(gone, r.gone...)
		errs = append(errs, r.failed...)
		pending, last = r.retry, r.retryErrs
		if len(pending) == 0 || attempt >= t.opts.MaxAttempts || ctx.Err() != nil {
			break
		}
		wait := jitter(attempt, t.opts.BaseBackoff, t.opts.MaxBackoff)
		if time.Now().Add(wait).After(deadline) {
			break
		}
		_ = delay.Sleep(ctx, wait)
	}
	for i, id := range pending {
		if throttled(last[i]) && ctx.Err() == nil {
			gone = append(gone, id)
			t.closeSlow(ep, id)
		} else {
			errs = append(errs, last[i])
		}
	}
	return gone, errors.Join(errs...)
}

// posted sorts the connections of one round of posts.
type posted struct {
	gone      []string
	retry     []string // throttled, 5xx or a broken connection
	retryErrs []error  // the errors of retry, in its order
	failed    []error  // the other failures, not retried
}

// postAll posts frame once to each connection, Options.Parallelism at a
// time.
func (t *Transport) postAll(ctx context.Context, ep string, connIDs []string, frame []byte) *posted {
	var (
		r    posted
		mu   sync.Mutex
		wg   sync.WaitGroup
		next = make(chan string)
	)
	for range min(t.opts.Parallelism, len(connIDs)) {
		wg.Go(func() {
			for id := range next {
				err := t.post(ctx, ep, id, frame, aws.NopRetryer{})
				if err == nil {
					continue
				}
				mu.Lock()
				switch {
				case errors.Is(err, chatfly.ErrGone):
					r.gone = append(r.gone, id)
				case errors.Is(err, chatfly.ErrUnavailable) || retryables.IsErrorRetryable(err) == aws.TrueTernary:
					r.retry = append(r.retry, id)
					r.retryErrs = append(r.retryErrs, err)
				default:
					r.failed = append(r.failed, err)
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range connIDs {
		next <- id
	}
	close(next)
	wg.Wait()
	return &r
}

// retryables are the SDK's retryable errors (throttling, 5xx, broken
// connections): the ones a fan-out retries.
var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// throttled reports whether a post failed with 429: API Gateway's client
// side buffer of the connection is full (or the account is throttled).
func throttled(err error) bool {
	var limit *types.LimitExceededException
	return errors.As(err, &limit) || statusOf(err) == 429
}

// closeSlow closes a slow consumer in the background: the close frame
// (4000) retried with backoff for up to Options.SlowCloseGrace, then
// DeleteConnection.
func (t *Transport) closeSlow(ep, connID string) {
	t.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), t.opts.SlowCloseGrace)
		defer cancel()
		notice, _ := json.Marshal(closeFrame{Type: "close", Code: chatfly.CloseSlowConsumer, Reason: "too slow"})
		for attempt := 1; ; attempt++ {
			err := t.post(ctx, ep, connID, notice, aws.NopRetryer{})
			if errors.Is(err, chatfly.ErrGone) {
				return
			}
			if err == nil || !errors.Is(err, chatfly.ErrUnavailable) {
				break
			}
			if delay.Sleep(ctx, jitter(attempt, t.opts.BaseBackoff, t.opts.MaxBackoff)) != nil {
				break
			}
		}
		dctx, dcancel := context.WithTimeout(context.Background(), t.opts.SlowCloseGrace)
		defer dcancel()
		if err := t.deleteConn(dctx, ep, connID); err != nil {
			t.opts.Logger.Warn("apigw: closing a slow consumer", "conn", connID, "err", err)
		}
	})
}

// Wait waits for the background closes of slow consumers that SendMany
// started (each ends within about twice Options.SlowCloseGrace).
func (t *Transport) Wait() { t.bg.Wait() }
