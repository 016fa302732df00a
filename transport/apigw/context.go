package apigw

import (
	"context"
	"net"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

type requestKey struct{}

// NewContext returns a copy of ctx that carries the request context of an
// API Gateway WebSocket event, from which a [Transport] derives the
// management API endpoint of calls made with it. [Handler] does this for
// every event; other adapters may too.
func NewContext(ctx context.Context, rc events.APIGatewayWebsocketProxyRequestContext) context.Context {
	return context.WithValue(ctx, requestKey{}, &rc)
}

// FromContext returns the request context that [NewContext] stored in ctx.
func FromContext(ctx context.Context) (events.APIGatewayWebsocketProxyRequestContext, bool) {
	rc, ok := ctx.Value(requestKey{}).(*events.APIGatewayWebsocketProxyRequestContext)
	if !ok {
		return events.APIGatewayWebsocketProxyRequestContext{}, false
	}
	return *rc, true
}

// Endpoint returns the management API URL of the API that sent an event
// with request context rc, or "" if rc does not tell:
//
//   - https://{DomainName}/{Stage} when DomainName is API Gateway's own
//     ({api-id}.execute-api.{region}.amazonaws.com);
//   - http://{DomainName}/{Stage} when DomainName is a loopback address, as
//     the local emulator's is (chatfly/transport/apigw/apigwlocal);
//   - https://{APIID}.execute-api.{region}.amazonaws.com/{Stage} for a custom
//     domain (whose base path mapping the event does not show), with the
//     given region (the client's);
//   - https://{DomainName}/{Stage} for a custom domain when region is empty.
func Endpoint(rc events.APIGatewayWebsocketProxyRequestContext, region string) string {
	domain, stage := rc.DomainName, rc.Stage
	if stage == "" {
		return ""
	}
	switch {
	case domain != "" && (strings.HasSuffix(domain, ".amazonaws.com") || strings.HasSuffix(domain, ".amazonaws.com.cn")):
		return "https://" + domain + "/" + stage
	case domain != "" && isLoopback(domain):
		return "http://" + domain + "/" + stage
	case rc.APIID != "" && region != "":
		suffix := ".amazonaws.com"
		if strings.HasPrefix(region, "cn-") {
			suffix = ".amazonaws.com.cn"
		}
		return "https://" + rc.APIID + ".execute-api." + region + suffix + "/" + stage
	case domain != "":
		return "https://" + domain + "/" + stage
	}
	return ""
}

// isLoopback reports whether hostport names the local machine.
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
