package apigwlocal

import (
	"context"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// Pool is the integration of a function as AWS Lambda runs it: a set of
// execution environments, each made by the function given to [NewPool]
// (its own Hub, say, over storage shared by all) and each serving one
// invocation at a time. An invocation takes an idle environment, the one
// most recently used first, or makes a new one when all are busy, so
// concurrent invocations always run in different environments and
// sequential ones mostly reuse the same.
//
// See https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html
// ("an execution environment can handle only one request at a time").
//
// A Pool is safe for concurrent use.
type Pool struct {
	newEnv func() Handler

	mu   sync.Mutex
	idle []Handler
	made int
}

// NewPool returns a Pool whose environments newEnv makes, on demand.
func NewPool(newEnv func() Handler) *Pool { return &Pool{newEnv: newEnv} }

// Handle serves one invocation in an environment no other invocation is
// using.
func (p *Pool) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	env := p.take()
	defer p.put(env)
	return env.Handle(ctx, req)
}

// Environments returns how many environments the Pool has made.
func (p *Pool) Environments() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.made
}

func (p *Pool) take() Handler {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		env := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return env
	}
	p.made++
	p.mu.Unlock()
	return p.newEnv()
}

func (p *Pool) put(env Handler) {
	p.mu.Lock()
	p.idle = append(p.idle, env)
	p.mu.Unlock()
}
