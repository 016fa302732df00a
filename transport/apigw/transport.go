package apigw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/chatfly/chatfly"
)

// MaxPayloadBytes is API Gateway's limit on one WebSocket message, and so on
// the Data of one PostToConnection: 128 KB.
const MaxPayloadBytes = 128 << 10

// Default values of [Options].
const (
	// DefaultParallelism is how many PostToConnection calls one SendMany
	// makes at once.
	DefaultParallelism = 16
	// DefaultMaxAttempts is how many times one management API call is
	// made when it is throttled or fails with a 5xx answer, the first
	// included.
	DefaultMaxAttempts = 5
	// DefaultBaseBackoff bounds the delay before the first retry.
	DefaultBaseBackoff = 50 * time.Millisecond
	// DefaultMaxBackoff caps the delay bound of later retries.
	DefaultMaxBackoff = 2 * time.Second
	// DefaultRetryBudget bounds how long one SendMany retries.
	DefaultRetryBudget = time.Second
	// DefaultSlowCloseGrace bounds how long the close frame of a slow
	// consumer is retried in the background.
	DefaultSlowCloseGrace = 10 * time.Second
)

// Options configures a [Transport]. A nil *Options, and every zero field,
// means the documented default; [New] copies the Options.
type Options struct {
	// Endpoint is the URL of the management API,
	// https://{api-id}.execute-api.{region}.amazonaws.com/{stage}. Default:
	// derived from the event being handled (see the package doc).
	Endpoint string

	// Parallelism bounds the PostToConnection calls that one SendMany
	// makes at once. Default DefaultParallelism.
	Parallelism int

	// MaxAttempts is how many times a call is made when it is throttled
	// (LimitExceededException, 429) or fails with a 5xx answer or a broken
	// connection, the first attempt included; 1 disables retries. Default
	// DefaultMaxAttempts. The Transport uses its own retryer for its calls
	// (the SDK's classification of retryable errors, this backoff, no
	// retry quota), so the client's retryer does not multiply the attempts.
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the delay before each retry: a
	// random duration ("full jitter") in [0, min(MaxBackoff,
	// BaseBackoff·2^i)) before retry i, counting from 0. Defaults
	// DefaultBaseBackoff and DefaultMaxBackoff.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration

	// RetryBudget bounds how long one SendMany goes on retrying the
	// connections whose post was throttled or failed with a 5xx answer
	// (at most MaxAttempts each). Retries start once every connection had
	// its first attempt, so a throttled connection never delays delivery
	// to the others, and a fan-out ends within about this long (keep it
	// well under the Lambda timeout). Default DefaultRetryBudget.
	RetryBudget time.Duration
	// SlowCloseGrace: a connection that is still throttled (429: API
	// Gateway's client side buffer is full) when SendMany gives up on it
	// is a slow consumer. SendMany reports it gone (the Hub removes it
	// from its rooms) and closes it in the background: it posts the
	// "close" frame with code 4000 (chatfly.CloseSlowConsumer), retried
	// with backoff for up to SlowCloseGrace while the client's buffer
	// drains, then deletes the connection (on Lambda, an environment frozen
	// between invocations resumes it with the next one). Default
	// DefaultSlowCloseGrace.
	SlowCloseGrace time.Duration

	// Logger receives the Transport's logs. Default: slog.Default().
	Logger *slog.Logger
}

// Transport is a chatfly.Transport and chatfly.Broadcaster over API Gateway's
// management API. It is safe for concurrent use; it holds no state but its
// configuration, so one Transport serves every invocation of a Lambda
// execution environment.
type Transport struct {
	client  *apigatewaymanagementapi.Client
	opts    Options
	region  string
	retryer aws.Retryer
	bg      sync.WaitGroup // background closes of slow consumers
}

var (
	_ chatfly.Transport   = (*Transport)(nil)
	_ chatfly.Broadcaster = (*Transport)(nil)
)

// New returns a Transport that calls API Gateway with client. The client's
// own endpoint setting is not used: every call goes to the endpoint of the
// event being handled, or to Options.Endpoint.
func New(client *apigatewaymanagementapi.Client, opts *Options) *Transport {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Parallelism <= 0 {
		o.Parallelism = DefaultParallelism
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = DefaultBaseBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.RetryBudget <= 0 {
		o.RetryBudget = DefaultRetryBudget
	}
	if o.SlowCloseGrace <= 0 {
		o.SlowCloseGrace = DefaultSlowCloseGrace
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	t := &Transport{client: client, opts: o, region: client.Options().Region}
	t.retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = o.MaxAttempts
		so.MaxBackoff = o.MaxBackoff
		so.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
			return jitter(attempt, o.BaseBackoff, o.MaxBackoff), nil
		})
		so.RateLimiter = ratelimit.None
	})
	return t
}

// jitter returns a random delay in [0, min(max, base·2^(attempt-1))): the
// SDK numbers the first retry 1.
func jitter(attempt int, base, max time.Duration) time.Duration {
	bound := max
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 30 {
		if b := base << (attempt - 1); b > 0 && b < max {
			bound = b
		}
	}
	if bound <= 0 {
		return 0
	}
	return rand.N(bound)
}

// Send posts frame to the connection with one PostToConnection.
func (t *Transport) Send(ctx context.Context, connID string, frame []byte) error {
	if len(frame) > MaxPayloadBytes {
		return fmt.Errorf("apigw: a frame of %d bytes is over API Gateway's %d-byte message limit: %w", len(frame), MaxPayloadBytes, chatfly.ErrTooLarge)
	}
	ep, err := t.endpoint(ctx)
	if err != nil {
		return err
	}
	return t.post(ctx, ep, connID, frame, t.retryer)
}

// post makes one PostToConnection call, with retries as retryer says.
func (t *Transport) post(ctx context.Context, ep, connID string, frame []byte, retryer aws.Retryer) error {
	_, err := t.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(connID),
		Data:         frame,
	}, t.callOptions(ep, retryer))
	return t.mapError(ctx, "PostToConnection", connID, err)
}

// closeFrame tells a client which close code the server meant, since
// DeleteConnection cannot.
type closeFrame struct {
	Type   string            `json:"type"`
	Code   chatfly.CloseCode `json:"code"`
	Reason string            `json:"reason,omitempty"`
}

// MaxSendBytes implements chatfly.SendLimiter: API Gateway delivers at most
// MaxPayloadBytes per message, so the Hub shortens long histories to fit.
func (t *Transport) MaxSendBytes() int { return MaxPayloadBytes }

// Close posts a "close" frame with code and reason, then deletes the
// connection. A connection that is already gone is not an error.
func (t *Transport) Close(ctx context.Context, connID string, code chatfly.CloseCode, reason string) error {
	ep, err := t.endpoint(ctx)
	if err != nil {
		return err
	}
	notice, _ := json.Marshal(closeFrame{Type: "close", Code: code, Reason: reason})
	if err := t.post(ctx, ep, connID, notice, t.retryer); errors.Is(err, chatfly.ErrGone) {
		return nil
	} else if err != nil {
		t.opts.Logger.WarnContext(ctx, "apigw: close notice", "conn", connID, "err", err)
	}
	return t.deleteConn(ctx, ep, connID)
}

// deleteConn deletes a connection; one already gone is not an error.
func (t *Transport) deleteConn(ctx context.Context, ep, connID string) error {
	_, err := t.client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{
		ConnectionId: aws.String(connID),
	}, t.callOptions(ep, t.retryer))
	if err = t.mapError(ctx, "DeleteConnection", connID, err); errors.Is(err, chatfly.ErrGone) {
		return nil
	}
	return err
}

// callOptions points one call at endpoint, with retryer.
func (t *Transport) callOptions(endpoint string, retryer aws.Retryer) func(*apigatewaymanagementapi.Options) {
	return func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = retryer
	}
}

// endpoint returns the management API URL for a call made with ctx.
func (t *Transport) endpoint(ctx context.Context) (string, error) {
	if t.opts.Endpoint != "" {
		return t.opts.Endpoint, nil
	}
	rc, ok := FromContext(ctx)
	if !ok {
		return "", errors.New("apigw: no management API endpoint: the context carries no API Gateway event (see NewContext) and Options.Endpoint is empty")
	}
	ep := Endpoint(rc, t.region)
	if ep == "" {
		return "", errors.New("apigw: no management API endpoint: the event has neither a domain name and stage nor an API id")
	}
	return ep, nil
}

// httpStatus is implemented by the SDK's response errors.
type httpStatus interface{ HTTPStatusCode() int }

// statusOf returns the HTTP status of an SDK error, or 0.
func statusOf(err error) int {
	var hs httpStatus
	if errors.As(err, &hs) {
		return hs.HTTPStatusCode()
	}
	return 0
}

// mapError maps an SDK error to chatfly's sentinels, keeping it in the
// chain for errors.As.
func (t *Transport) mapError(ctx context.Context, op, connID string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	var (
		gone     *types.GoneException
		tooLarge *types.PayloadTooLargeException
		limit    *types.LimitExceededException
		maxErr   *retry.MaxAttemptsError
	)
	status := statusOf(err)
	switch {
	case errors.As(err, &gone) || status == 410:
		return fmt.Errorf("apigw: %s %s: %w: %w", op, connID, chatfly.ErrGone, err)
	case errors.As(err, &tooLarge) || status == 413:
		return fmt.Errorf("apigw: %s %s: %w: %w", op, connID, chatfly.ErrTooLarge, err)
	case errors.As(err, &limit) || status == 429 || status >= 500 || errors.As(err, &maxErr):
		return fmt.Errorf("apigw: %s %s: %w: %w", op, connID, chatfly.ErrUnavailable, err)
	}
	return fmt.Errorf("apigw: %s %s: %w", op, connID, err)
}
