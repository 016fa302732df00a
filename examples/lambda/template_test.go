package main

import (
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chatfly/chatfly/internal/scenario"
	"github.com/chatfly/chatfly/storage/dynamostore"
)

// template is template.yaml, parsed.
type template struct {
	t   *testing.T
	doc map[string]any
}

func loadTemplate(t *testing.T, path string) *template {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseYAML(string(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is not a mapping", path)
	}
	return &template{t: t, doc: doc}
}

// get follows a path of mapping keys and sequence indexes ("0") from v.
func get(v any, path ...string) any {
	for _, k := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := slices.Index([]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, k)
			if i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any) string { s, _ := v.(string); return s }

func (tp *template) resources(typ string) map[string]map[string]any {
	out := make(map[string]map[string]any)
	for name, r := range get(tp.doc, "Resources").(map[string]any) {
		if str(get(r, "Type")) == typ {
			out[name] = r.(map[string]any)
		}
	}
	return out
}

func (tp *template) resource(name, typ string) map[string]any {
	tp.t.Helper()
	r, ok := get(tp.doc, "Resources", name).(map[string]any)
	if !ok || str(r["Type"]) != typ {
		tp.t.Fatalf("no %s resource %s", typ, name)
	}
	return r
}

// refOf returns the resource an intrinsic function refers to: !Ref X,
// !GetAtt X.Attr, or the first ${X} or ${X.Attr} of a !Sub that is not a
// pseudo parameter (${AWS::Region}).
func refOf(v any) string {
	tg, ok := v.(tagged)
	if !ok {
		return ""
	}
	s := str(tg.Value)
	switch tg.Tag {
	case "!Ref":
		return s
	case "!GetAtt":
		name, _, _ := strings.Cut(s, ".")
		return name
	case "!Sub":
		if m := regexp.MustCompile(`\$\{([A-Za-z0-9]+)[.}]`).FindStringSubmatch(s); m != nil {
			return m[1]
		}
	}
	return ""
}

func TestTemplate(t *testing.T) {
	tp := loadTemplate(t, "template.yaml")
	if str(tp.doc["Transform"]) != "AWS::Serverless-2016-10-31" {
		t.Fatalf("Transform %v", tp.doc["Transform"])
	}
	t.Run("Functions", func(t *testing.T) { checkFunctions(t, tp) })
	t.Run("Routes", func(t *testing.T) { checkRoutes(t, tp) })
	t.Run("Table", func(t *testing.T) { checkTable(t, tp) })
	t.Run("IAM", func(t *testing.T) { checkIAM(t, tp) })
	t.Run("WebHosting", func(t *testing.T) { checkWeb(t, tp) })
}

// functionResources returns the function resources by CHATFLY_FUNCTION.
func functionResources(t *testing.T, tp *template) map[string]string {
	t.Helper()
	byFn := make(map[string]string)
	for name, r := range tp.resources("AWS::Serverless::Function") {
		fn := str(get(r, "Properties", "Environment", "Variables", envFunction))
		if _, ok := functionNamed(fn); !ok {
			t.Errorf("%s: %s is %q", name, envFunction, fn)
		}
		if other, dup := byFn[fn]; dup {
			t.Errorf("%s and %s are both %s", name, other, fn)
		}
		byFn[fn] = name
	}
	return byFn
}

// The four functions: runtime, architecture, build, environment.
func checkFunctions(t *testing.T, tp *template) {
	g := get(tp.doc, "Globals", "Function")
	if str(get(g, "Runtime")) != "provided.al2023" || str(get(g, "Handler")) != "bootstrap" || !reflect.DeepEqual(get(g, "Architectures"), []any{"arm64"}) {
		t.Errorf("Globals.Function: %v", g)
	}
	vars := get(g, "Environment", "Variables")
	if refOf(get(vars, envTable)) != "ChatflyTable" {
		t.Errorf("%s = %v, want the table", envTable, get(vars, envTable))
	}
	// The secret's ARN, never its value: each function reads it at init.
	if sec := get(vars, envSecretID); refOf(sec) != "TokenSecret" || sec.(tagged).Tag != "!Ref" {
		t.Errorf("%s = %v, want !Ref TokenSecret", envSecretID, sec)
	}
	if sec := get(vars, envSecret); sec != nil {
		t.Errorf("%s = %v: the secret's value is in the functions' configuration", envSecret, sec)
	}
	if secret := tp.resource("TokenSecret", "AWS::SecretsManager::Secret"); str(secret["DeletionPolicy"]) != "Delete" || str(secret["UpdateReplacePolicy"]) != "Delete" {
		t.Errorf("TokenSecret: DeletionPolicy %v, UpdateReplacePolicy %v, want Delete (like the table)", secret["DeletionPolicy"], secret["UpdateReplacePolicy"])
	}
	// Reserved concurrency: a parameter, 0 for none.
	if rc := get(g, "ReservedConcurrentExecutions"); !reflect.DeepEqual(rc, tagged{Tag: "!If", Value: []any{"HasReservedConcurrency", tagged{Tag: "!Ref", Value: "ReservedConcurrency"}, tagged{Tag: "!Ref", Value: "AWS::NoValue"}}}) {
		t.Errorf("ReservedConcurrentExecutions %v, want the ReservedConcurrency parameter unless 0", rc)
	}
	if get(tp.doc, "Parameters", "ReservedConcurrency", "Default") != "0" || get(tp.doc, "Conditions", "HasReservedConcurrency") == nil {
		t.Error("no ReservedConcurrency parameter (default 0) or HasReservedConcurrency condition")
	}
	// Each function logs to a log group of its own, with retention.
	for name := range tp.resources("AWS::Serverless::Function") {
		lg := get(tp.doc, "Resources", name, "Properties", "LoggingConfig", "LogGroup")
		if ref, ok := lg.(tagged); !ok || ref.Tag != "!Ref" {
			t.Errorf("%s: LoggingConfig.LogGroup %v, want !Ref of its log group", name, lg)
			continue
		}
		logs := tp.resource(refOf(lg), "AWS::Logs::LogGroup")
		if ret := get(logs, "Properties", "RetentionInDays"); !reflect.DeepEqual(ret, tagged{Tag: "!Ref", Value: "LogRetentionDays"}) {
			t.Errorf("%s: RetentionInDays %v, want the LogRetentionDays parameter", refOf(lg), ret)
		}
	}
	connect := tp.resource(functionResources(t, tp)["connect"], "AWS::Serverless::Function")
	if o := get(connect, "Properties", "Environment", "Variables", envOrigins); refOf(o) != "WebDistribution" || str(o.(tagged).Value) != "https://${WebDistribution.DomainName}" {
		t.Errorf("connect: %s = %v, want the app's CloudFront origin", envOrigins, o)
	}

	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GOOS=linux", "GOARCH=arm64", "-tags lambda.norpc", "$(ARTIFACTS_DIR)/bootstrap", "CGO_ENABLED=0"} {
		if !strings.Contains(string(makefile), want) {
			t.Errorf("Makefile lacks %q", want)
		}
	}
	byFn := functionResources(t, tp)
	for _, fn := range functions {
		name := byFn[fn.name]
		if name == "" {
			t.Errorf("no function with %s=%s", envFunction, fn.name)
			continue
		}
		if str(get(tp.doc, "Resources", name, "Metadata", "BuildMethod")) != "makefile" {
			t.Errorf("%s: BuildMethod is not makefile", name)
		}
		if !strings.Contains(string(makefile), "build-"+name) {
			t.Errorf("Makefile has no target build-%s for sam build", name)
		}
		perm := false
		for _, p := range tp.resources("AWS::Lambda::Permission") {
			if refOf(get(p, "Properties", "FunctionName")) == name && str(get(p, "Properties", "Principal")) == "apigateway.amazonaws.com" &&
				refOf(get(p, "Properties", "SourceArn")) == "WebSocketApi" {
				perm = true
			}
		}
		if !perm {
			t.Errorf("%s: API Gateway may not invoke it", name)
		}
	}
}

// The API's routes are those of the code, each to the function that the
// code says serves it.
func checkRoutes(t *testing.T, tp *template) {
	api := tp.resource("WebSocketApi", "AWS::ApiGatewayV2::Api")
	if str(get(api, "Properties", "ProtocolType")) != "WEBSOCKET" || str(get(api, "Properties", "RouteSelectionExpression")) != "$request.body.action" {
		t.Errorf("API %v", api["Properties"])
	}
	stage := tp.resource("Stage", "AWS::ApiGatewayV2::Stage")
	if refOf(get(stage, "Properties", "ApiId")) != "WebSocketApi" || str(get(stage, "Properties", "AutoDeploy")) != "true" {
		t.Errorf("Stage %v", stage["Properties"])
	}
	byFn := functionResources(t, tp)
	var keys []string
	for name, r := range tp.resources("AWS::ApiGatewayV2::Route") {
		rk := str(get(r, "Properties", "RouteKey"))
		keys = append(keys, rk)
		integ := refOf(get(r, "Properties", "Target"))
		if !strings.HasPrefix(str(get(r, "Properties", "Target").(tagged).Value), "integrations/") {
			t.Errorf("%s: target %v", name, get(r, "Properties", "Target"))
		}
		ir := tp.resource(integ, "AWS::ApiGatewayV2::Integration")
		if str(get(ir, "Properties", "IntegrationType")) != "AWS_PROXY" || refOf(get(ir, "Properties", "ApiId")) != "WebSocketApi" {
			t.Errorf("%s: integration %v", integ, ir["Properties"])
		}
		target := refOf(get(ir, "Properties", "IntegrationUri"))
		var want string
		for _, fn := range functions {
			if slices.Contains(fn.routes, rk) {
				want = byFn[fn.name]
			}
		}
		if target != want {
			t.Errorf("route %s goes to %s, want %s", rk, target, want)
		}
	}
	slices.Sort(keys)
	if !slices.Equal(keys, routeKeys()) {
		t.Errorf("template routes %v, code routes %v", keys, routeKeys())
	}
}

// The table is storage/dynamostore/table.yaml's, with the store's key
// schema and TTL attribute.
func checkTable(t *testing.T, tp *template) {
	table := tp.resource("ChatflyTable", "AWS::DynamoDB::Table")
	ref := loadTemplate(t, "../../storage/dynamostore/table.yaml")
	if want := get(ref.doc, "Resources", "ChatflyTable"); !reflect.DeepEqual(table, want) {
		t.Errorf("ChatflyTable differs from storage/dynamostore/table.yaml:\n got %v\nwant %v", table, want)
	}
	p := table["Properties"]
	keys := map[string]string{}
	for _, k := range get(p, "KeySchema").([]any) {
		keys[str(get(k, "KeyType"))] = str(get(k, "AttributeName"))
	}
	if keys["HASH"] != dynamostore.AttrPartition || keys["RANGE"] != dynamostore.AttrSort || len(keys) != 2 {
		t.Errorf("key schema %v", keys)
	}
	for _, a := range get(p, "AttributeDefinitions").([]any) {
		if str(get(a, "AttributeType")) != "S" {
			t.Errorf("attribute %v", a)
		}
	}
	if str(get(p, "TimeToLiveSpecification", "AttributeName")) != dynamostore.AttrExpires || str(get(p, "TimeToLiveSpecification", "Enabled")) != "true" {
		t.Errorf("TTL %v", get(p, "TimeToLiveSpecification"))
	}
	if str(get(p, "BillingMode")) != "PAY_PER_REQUEST" || get(p, "GlobalSecondaryIndexes") != nil {
		t.Errorf("table properties %v", p)
	}
}

// methodOf is the HTTP method of each management API operation.
var methodOf = map[string]string{"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}

// Each function may do exactly what the code does, on this table and this
// API's stage: the DynamoDB and management API operations that the
// scenario suite made (recorded in TestScenarios, or here if it did not
// run).
func checkIAM(t *testing.T, tp *template) {
	ops := usedOps
	if len(ops.of("DynamoDB")) == 0 {
		ops = new(opLog)
		t.Run("record", func(t *testing.T) { scenario.Run(t, lambdaHost{st: storages[1], ops: ops}) })
	}
	var wantDynamo []string
	for op := range ops.of("DynamoDB") {
		wantDynamo = append(wantDynamo, "dynamodb:"+op)
	}
	slices.Sort(wantDynamo)
	var wantManage []string
	for op := range ops.of("ApiGatewayManagementApi") {
		m, ok := methodOf[op]
		if !ok {
			t.Fatalf("unknown management operation %s", op)
		}
		wantManage = append(wantManage, "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${StageName}/"+m+"/@connections/*")
	}
	slices.Sort(wantManage)
	if len(wantDynamo) < 4 || len(wantManage) < 2 {
		t.Fatalf("recorded too few operations: %v %v", wantDynamo, wantManage)
	}
	t.Logf("DynamoDB actions used: %v; management API resources used: %v", wantDynamo, wantManage)

	for _, name := range slices.Sorted(maps.Values(functionResources(t, tp))) {
		var dynamo, manage []string
		secrets := 0
		for _, pol := range get(tp.doc, "Resources", name, "Properties", "Policies").([]any) {
			stmts, ok := get(pol, "Statement").([]any)
			if !ok {
				t.Errorf("%s: policy %v is not an inline statement list (SAM policy templates grant more than the code uses)", name, pol)
				continue
			}
			for _, st := range stmts {
				if str(get(st, "Effect")) != "Allow" {
					t.Errorf("%s: statement %v", name, st)
				}
				actions := get(st, "Action").([]any)
				for _, a := range actions {
					switch as := str(a); {
					case strings.Contains(as, "*"):
						t.Errorf("%s: wildcard action %s", name, as)
					case strings.HasPrefix(as, "dynamodb:"):
						dynamo = append(dynamo, as)
						if refOf(get(st, "Resource")) != "ChatflyTable" || get(st, "Resource").(tagged).Tag != "!GetAtt" {
							t.Errorf("%s: DynamoDB actions on %v, want the table only", name, get(st, "Resource"))
						}
					case as == "secretsmanager:GetSecretValue": // tokenSecret's one call (TestTokenSecret)
						secrets++
						if r := get(st, "Resource"); !reflect.DeepEqual(r, tagged{Tag: "!Ref", Value: "TokenSecret"}) {
							t.Errorf("%s: GetSecretValue on %v, want the token secret only", name, r)
						}
					case as == "execute-api:ManageConnections":
						for _, r := range get(st, "Resource").([]any) {
							if refOf(r) != "WebSocketApi" || !strings.Contains(str(r.(tagged).Value), "${WebSocketApi}/${StageName}/") {
								t.Errorf("%s: ManageConnections on %v, want this API's stage", name, r)
							}
							manage = append(manage, str(r.(tagged).Value))
						}
					default:
						t.Errorf("%s: action %s the code does not use", name, as)
					}
				}
			}
		}
		if secrets != 1 {
			t.Errorf("%s: %d grants of GetSecretValue, want 1", name, secrets)
		}
		slices.Sort(dynamo)
		slices.Sort(manage)
		if !slices.Equal(dynamo, wantDynamo) {
			t.Errorf("%s: DynamoDB actions %v, the code uses %v", name, dynamo, wantDynamo)
		}
		if !slices.Equal(manage, wantManage) {
			t.Errorf("%s: ManageConnections on %v, the code uses %v", name, manage, wantManage)
		}
	}
}

// The web app: a private bucket that only the distribution reads (origin
// access control), HTTPS, long caching of versioned URLs, and the outputs
// deploy.sh needs.
func checkWeb(t *testing.T, tp *template) {
	bucket := tp.resource("WebBucket", "AWS::S3::Bucket")
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if str(get(bucket, "Properties", "PublicAccessBlockConfiguration", k)) != "true" {
			t.Errorf("WebBucket: %s is not true", k)
		}
	}
	if get(bucket, "Properties", "WebsiteConfiguration") != nil {
		t.Error("WebBucket is a public website")
	}
	pol := tp.resource("WebBucketPolicy", "AWS::S3::BucketPolicy")
	if refOf(get(pol, "Properties", "Bucket")) != "WebBucket" {
		t.Errorf("bucket policy on %v", get(pol, "Properties", "Bucket"))
	}
	read := false
	for _, st := range get(pol, "Properties", "PolicyDocument", "Statement").([]any) {
		if str(get(st, "Effect")) != "Allow" {
			continue
		}
		if str(get(st, "Principal", "Service")) != "cloudfront.amazonaws.com" || str(get(st, "Action")) != "s3:GetObject" ||
			refOf(get(st, "Condition", "StringEquals", "AWS:SourceArn")) != "WebDistribution" ||
			!strings.Contains(str(get(st, "Condition", "StringEquals", "AWS:SourceArn").(tagged).Value), "distribution/${WebDistribution}") {
			t.Errorf("bucket policy allows %v", st)
		}
		read = true
	}
	if !read {
		t.Error("the distribution may not read the bucket")
	}
	oac := tp.resource("WebOriginAccessControl", "AWS::CloudFront::OriginAccessControl")
	if c := get(oac, "Properties", "OriginAccessControlConfig"); str(get(c, "OriginAccessControlOriginType")) != "s3" ||
		str(get(c, "SigningBehavior")) != "always" || str(get(c, "SigningProtocol")) != "sigv4" {
		t.Errorf("origin access control %v", c)
	}
	dist := get(tp.resource("WebDistribution", "AWS::CloudFront::Distribution"), "Properties", "DistributionConfig")
	origin := get(dist, "Origins", "0")
	if refOf(get(origin, "DomainName")) != "WebBucket" || refOf(get(origin, "OriginAccessControlId")) != "WebOriginAccessControl" ||
		str(get(origin, "S3OriginConfig", "OriginAccessIdentity")) != "" || get(origin, "S3OriginConfig") == nil {
		t.Errorf("origin %v", origin)
	}
	beh := get(dist, "DefaultCacheBehavior")
	if str(get(dist, "DefaultRootObject")) != "index.html" || str(get(beh, "ViewerProtocolPolicy")) != "redirect-to-https" ||
		refOf(get(beh, "CachePolicyId")) != "WebCachePolicy" || str(get(beh, "Compress")) != "true" {
		t.Errorf("distribution %v", dist)
	}
	if fa := get(beh, "FunctionAssociations", "0"); str(get(fa, "EventType")) != "viewer-response" || refOf(get(fa, "FunctionARN")) != "WebCacheHeaders" {
		t.Errorf("function association %v", fa)
	}
	cp := get(tp.resource("WebCachePolicy", "AWS::CloudFront::CachePolicy"), "Properties", "CachePolicyConfig")
	if str(get(cp, "MaxTTL")) != "31536000" || !reflect.DeepEqual(get(cp, "ParametersInCacheKeyAndForwardedToOrigin", "QueryStringsConfig", "QueryStrings"), []any{"v"}) {
		t.Errorf("cache policy %v: versioned URLs (?v=) must be cached a year, keyed by v", cp)
	}
	code := str(get(tp.resource("WebCacheHeaders", "AWS::CloudFront::Function"), "Properties", "FunctionCode"))
	if !strings.Contains(code, "max-age=31536000, immutable") || !strings.Contains(code, "no-cache") || !strings.Contains(code, "querystring.v") {
		t.Errorf("cache function:\n%s", code)
	}
	out := get(tp.doc, "Outputs")
	if ws := get(out, "WebSocketURL", "Value"); refOf(ws) != "WebSocketApi" || !strings.HasPrefix(str(ws.(tagged).Value), "wss://") {
		t.Errorf("WebSocketURL %v", ws)
	}
	for k, want := range map[string]string{"WebBucketName": "WebBucket", "WebDistributionId": "WebDistribution", "WebURL": "WebDistribution"} {
		if refOf(get(out, k, "Value")) != want {
			t.Errorf("output %s = %v", k, get(out, k, "Value"))
		}
	}
	deploy, err := os.ReadFile("deploy.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WebSocketURL", "WebBucketName", "WebDistributionId", "-write-web", "create-invalidation"} {
		if !strings.Contains(string(deploy), want) {
			t.Errorf("deploy.sh does not use %s", want)
		}
	}
}

func TestParseYAML(t *testing.T) {
	v, err := parseYAML(`# comment
a: 1 # trailing
b:
  - x
  - k: v
    l: !Ref Thing
  - [p, "q r", 's''t']
c: !Sub "x#${Y}"
d: |
  line 1

  line 2
e:
  f: "g: h"
`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"a": "1",
		"b": []any{"x", map[string]any{"k": "v", "l": tagged{"!Ref", "Thing"}}, []any{"p", "q r", "s't"}},
		"c": tagged{"!Sub", "x#${Y}"},
		"d": "line 1\n\nline 2\n",
		"e": map[string]any{"f": "g: h"},
	}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v", v)
	}
	for _, bad := range []string{"a: &x 1", "a: {b: c}", "a: 1\na: 2", "a:\n  b: 1\n c: 2", "a: >\n  x", "---\na: 1", "a:\n\t- x"} {
		if _, err := parseYAML(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}
