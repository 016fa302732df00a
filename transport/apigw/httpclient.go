package apigw

import (
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// NewHTTPClient returns an HTTP client for the apigatewaymanagementapi
// client of a Transport whose SendMany makes parallelism calls at once
// (0: DefaultParallelism): the SDK's default client, keeping as many idle
// connections to the endpoint as that, where the SDK keeps 10. Fewer make
// every fan-out open new TLS connections for the calls beyond them.
//
//	mgmt := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
//		o.HTTPClient = apigw.NewHTTPClient(0)
//	})
func NewHTTPClient(parallelism int) *awshttp.BuildableClient {
	if parallelism <= 0 {
		parallelism = DefaultParallelism
	}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, parallelism)
		tr.MaxIdleConns = max(tr.MaxIdleConns, parallelism)
	})
}
