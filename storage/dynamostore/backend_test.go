package dynamostore_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"go.uber.org/goleak"

	"github.com/chatfly/chatfly/storage/dynamostore/dynamotest"
)

// The tests run against the two DynamoDB-compatible servers of package
// dynamotest, on loopback:
//
//   - minidyn's HTTP server, in-process (github.com/truora/minidyn/server),
//     on every go test;
//   - dynalite, a Node.js server pinned by the module's package.json and
//     installed with "npm ci" at the module root. Its tests are skipped when
//     node or dynalite is missing, unless CHATFLY_REQUIRE_DYNALITE=1 makes
//     that a failure.

// The SDK's HTTP clients keep idle keep-alive connections, whose
// goroutines are not leaks of the Store.
func TestMain(m *testing.M) {
	dynamotest.Main(m,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
}

// forEachBackend runs f as a subtest per backend, named after it.
func forEachBackend(t *testing.T, f func(t *testing.T, endpoint string)) {
	for _, b := range dynamotest.Backends() {
		t.Run(b.Name, func(t *testing.T) { f(t, b.Endpoint(t)) })
	}
}

// onMinidyn reports whether t runs on minidyn (see the quirks in the tests
// that use it).
func onMinidyn(t *testing.T) bool { return strings.Contains(t.Name(), "/minidyn") }

// newClient returns an SDK client for the server at endpoint, with
// placeholder credentials; apiOptions are added to every call.
func newClient(t *testing.T, endpoint string, apiOptions ...func(*middleware.Stack) error) *dynamodb.Client {
	return dynamotest.NewClient(t, endpoint, apiOptions...)
}

// newTable creates a table with a name unique to the test and returns it.
func newTable(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	return dynamotest.NewTable(t, client)
}
