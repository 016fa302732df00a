package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/chatfly/chatfly"
)

// isConditionFailed reports whether err is DynamoDB's answer to a failed
// condition expression.
func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return err != nil && errors.As(err, &ccf)
}

// mapError maps an error of the SDK to the sentinels of chatfly:
//   - a failed condition: chatfly.ErrConflict;
//   - a ValidationException about the size of an item or key:
//     chatfly.ErrTooLarge;
//   - a retryable error (throttling, 5xx, connection) left after the
//     retries, or the SDK's retry quota running out: chatfly.ErrUnavailable.
//
// The SDK's error stays in the chain. An error caused by the cancellation
// or deadline of ctx is returned as it is.
func mapError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if isConditionFailed(err) {
		return chatfly.ErrConflict
	}
	if isTooLarge(err) {
		return fmt.Errorf("%w: %w", chatfly.ErrTooLarge, err)
	}
	if isUnavailable(err) {
		return fmt.Errorf("%w: %w", chatfly.ErrUnavailable, err)
	}
	return err
}

// isTooLarge reports whether err is DynamoDB's refusal of an item or a key
// over its size limits ("Item size has exceeded the maximum allowed size",
// "Item size to update has exceeded ...", "Size of hashkey has exceeded ...",
// "Aggregated size of all range keys has exceeded ...").
func isTooLarge(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
		return false
	}
	msg := strings.ToLower(ae.ErrorMessage())
	return strings.Contains(msg, "size") && strings.Contains(msg, "exceeded")
}

var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// isUnavailable reports whether err is an overload or outage that the
// retries did not outlast.
func isUnavailable(err error) bool {
	var maxAttempts *retry.MaxAttemptsError
	var quota ratelimit.QuotaExceededError
	return errors.As(err, &maxAttempts) || errors.As(err, &quota) ||
		retryables.IsErrorRetryable(err) == aws.TrueTernary
}

// retryer is the client's retryer with the attempts and backoff of the
// Store's Options. The wrapped retryer still decides which errors are
// retryable and owns the retry quota.
type retryer struct {
	aws.RetryerV2
	maxAttempts int
	base, max   time.Duration
}

func newRetryer(r aws.Retryer, maxAttempts int, base, max time.Duration) aws.Retryer {
	if r == nil {
		r = retry.NewStandard()
	}
	v2, ok := r.(aws.RetryerV2)
	if !ok {
		v2 = retryerV2{r}
	}
	return &retryer{RetryerV2: v2, maxAttempts: maxAttempts, base: base, max: max}
}

// MaxAttempts returns the attempts of Options.MaxAttempts.
func (r *retryer) MaxAttempts() int { return r.maxAttempts }

// RetryDelay returns the delay before the retry that follows the failed
// attempt number attempt (counting from 1): exponential backoff with full
// jitter.
func (r *retryer) RetryDelay(attempt int, _ error) (time.Duration, error) {
	d := r.max
	if i := attempt - 1; i < 32 {
		if b := r.base << max(i, 0); b > 0 && b < r.max {
			d = b
		}
	}
	return rand.N(d) + 1, nil
}

// retryerV2 adapts a Retryer that lacks GetAttemptToken.
type retryerV2 struct{ aws.Retryer }

func (r retryerV2) GetAttemptToken(context.Context) (func(error) error, error) {
	return r.GetInitialToken(), nil
}
