package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/dynamostore"
	"github.com/chatfly/chatfly/transport/apigw"
	"github.com/chatfly/chatfly/transport/apigw/apigwlocal"
)

// The environment of a function (template.yaml sets it).
const (
	envFunction = "CHATFLY_FUNCTION" // connect, disconnect, message or roulette
	envTable    = "CHATFLY_TABLE"    // the DynamoDB table
	envSecret   = "CHATFLY_SECRET"   // signs resume tokens; the same for every function
	// envSecretID names the Secrets Manager secret (ARN or name) whose
	// SecretString is the token secret, read once per environment at
	// init; it takes the place of CHATFLY_SECRET (template.yaml sets it,
	// so the secret never appears in the function's configuration).
	envSecretID = "CHATFLY_SECRET_ID"
	envOrigins  = "CHATFLY_ORIGINS" // web page origins allowed to connect, comma-separated; empty: any
)

// The function of this Lambda execution environment, created on its first
// event and reused by every later one: one Hub per environment.
var (
	envMu      sync.Mutex
	envHandler apigwlocal.Handler
)

// handleLambda serves one Lambda invocation.
func handleLambda(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	h, err := environmentHandler(ctx, os.Getenv)
	if err != nil {
		slog.ErrorContext(ctx, "chatfly: setting up the function", "err", err)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, err
	}
	return h.Handle(ctx, req)
}

// environmentHandler returns the function of this environment, creating it
// the first time. A failure is not kept: the next event tries again.
func environmentHandler(ctx context.Context, getenv func(string) string) (apigwlocal.Handler, error) {
	envMu.Lock()
	defer envMu.Unlock()
	if envHandler != nil {
		return envHandler, nil
	}
	h, err := newLambdaFunction(ctx, getenv)
	if err != nil {
		return nil, err
	}
	envHandler = h
	return h, nil
}

// newLambdaFunction builds the function that the environment names.
func newLambdaFunction(ctx context.Context, getenv func(string) string) (apigwlocal.Handler, error) {
	fn, ok := functionNamed(getenv(envFunction))
	if !ok {
		return nil, fmt.Errorf("%s is %q, want connect, disconnect, message or roulette", envFunction, getenv(envFunction))
	}
	table := getenv(envTable)
	if table == "" {
		return nil, errors.New(envTable + " is not set")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	secret, err := tokenSecret(ctx, getenv, func() secretReader { return secretsmanager.NewFromConfig(cfg) })
	if err != nil {
		return nil, err
	}
	store, err := dynamostore.Open(dynamodb.NewFromConfig(cfg), table, nil)
	if err != nil {
		return nil, err
	}
	return newFunction(fn, hubConfig{
		store: store,
		mgmt: apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
			o.HTTPClient = apigw.NewHTTPClient(0) // idle connections for a whole fan-out
		}),
		secret:  []byte(secret),
		origins: originList(getenv(envOrigins)),
		log:     slog.Default(),
		// One line per event in CloudWatch's embedded metric format:
		// metrics by action, code and operation in namespace chatfly.
		metrics: slog.New(slog.NewJSONHandler(os.Stdout, nil)),
	}), nil
}

// secretReader is the part of the Secrets Manager client tokenSecret uses.
type secretReader interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// tokenSecret returns the secret that signs resume tokens: the
// SecretString of the Secrets Manager secret CHATFLY_SECRET_ID names, or
// else CHATFLY_SECRET. Called once per environment (see
// environmentHandler), so the secret is read at init and kept for the
// environment's life.
func tokenSecret(ctx context.Context, getenv func(string) string, client func() secretReader) (string, error) {
	secret := getenv(envSecret)
	if id := getenv(envSecretID); id != "" {
		out, err := client().GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			return "", fmt.Errorf("reading the token secret %s from Secrets Manager: %w", id, err)
		}
		secret = aws.ToString(out.SecretString)
	}
	if err := chatfly.CheckSecret([]byte(secret)); err != nil {
		return "", fmt.Errorf("%s (or the secret %s names), the same for every function: %w", envSecret, envSecretID, err)
	}
	return secret, nil
}

// originList splits a comma-separated list of origin patterns.
func originList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
