package apigwlocal_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatfly/chatfly/transport/apigw/apigwlocal"
)

// Two concurrent invocations of a Pool run in different environments, and
// an environment serves one invocation at a time; sequential invocations
// reuse an idle one.
func TestPool(t *testing.T) {
	var mu sync.Mutex
	busy := map[int]bool{} // environments running an invocation
	started := make(chan int, 2)
	release := make(chan struct{})
	n := 0
	pool := apigwlocal.NewPool(func() apigwlocal.Handler {
		mu.Lock()
		n++
		id := n
		mu.Unlock()
		return apigwlocal.HandlerFunc(func(ctx context.Context, _ events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			mu.Lock()
			if busy[id] {
				t.Errorf("environment %d serves two invocations at once", id)
			}
			busy[id] = true
			mu.Unlock()
			started <- id
			<-release
			mu.Lock()
			busy[id] = false
			mu.Unlock()
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		})
	})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { _, _ = pool.Handle(t.Context(), events.APIGatewayWebsocketProxyRequest{}) })
	}
	a, b := <-started, <-started // both running at once
	if a == b || pool.Environments() != 2 {
		t.Fatalf("concurrent invocations in environments %d and %d (%d made)", a, b, pool.Environments())
	}
	close(release)
	wg.Wait()
	for range 3 {
		_, _ = pool.Handle(t.Context(), events.APIGatewayWebsocketProxyRequest{})
		<-started
	}
	if pool.Environments() != 2 {
		t.Fatalf("sequential invocations made new environments: %d in all", pool.Environments())
	}
}
