// Command lambda is chatfly's serverless deployment: the Lambda functions
// behind an API Gateway WebSocket API (template.yaml), and the same stack on
// a laptop.
//
// On AWS Lambda (runtime provided.al2023, built by the Makefile as
// bootstrap), one binary serves the four functions of template.yaml; the
// environment says which one it is and where its state lives:
//
//	CHATFLY_FUNCTION  connect, disconnect, message or roulette
//	CHATFLY_TABLE     the DynamoDB table (storage/dynamostore)
//	CHATFLY_SECRET_ID the Secrets Manager secret (ARN or name) whose value signs resume
//	                  tokens, the same for every function; read once per environment
//	CHATFLY_SECRET    the secret itself, where CHATFLY_SECRET_ID is not set
//	CHATFLY_ORIGINS   web page origins allowed to connect (comma-separated patterns, as
//	                  apigw.HandlerOptions.OriginPatterns); empty: any
//
// Each function logs one line per event to standard output in CloudWatch's
// embedded metric format (package observe/emflog): CloudWatch turns them
// into metrics of namespace chatfly (frames, duration and storage calls by
// action and code, failures by operation).
//
// On a laptop, -local runs the whole stack on 127.0.0.1: an emulated API
// Gateway WebSocket API (transport/apigw/apigwlocal) calling the four
// functions in process, their management API calls going to the emulator
// over HTTP, and the web app:
//
//	go run ./examples/lambda -local                # http://127.0.0.1:8081, memory storage
//	export CHATFLY_SECRET=$(openssl rand -base64 32) # required with -table
//	go run ./examples/lambda -local -table chat -dynamodb-endpoint http://127.0.0.1:4567 -create-table
//
// -write-web DIR -ws-url wss://... writes the web app configured for a
// deployed API, for upload to the S3 bucket (deploy.sh does it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/chatfly/chatfly/web"
)

func main() {
	local := flag.Bool("local", false, "run the serverless stack on this machine: API Gateway emulator, the four functions, the web app")
	addr := flag.String("addr", "127.0.0.1:8081", "with -local: address to listen on (8081, so that it runs beside examples/standalone on 8080)")
	stage := flag.String("stage", "local", "with -local: the API's stage name, the WebSocket path")
	sf := localStorageFlags(flag.CommandLine)
	writeWeb := flag.String("write-web", "", "write the web app into this directory (for S3) and exit; needs -ws-url")
	wsURL := flag.String("ws-url", "", "with -write-web: the API's wss:// URL")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	switch {
	case *writeWeb != "":
		if *wsURL == "" {
			fail(log, errors.New("-write-web needs -ws-url"))
		}
		if err := web.WriteFiles(*writeWeb, &web.Options{WebSocketURL: *wsURL}); err != nil {
			fail(log, err)
		}
	case *local:
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			fail(log, err)
		}
		if err := runLocal(ctx, ln, localConfig{stage: *stage, storage: sf, log: log}); err != nil {
			fail(log, err)
		}
	default:
		if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
			fail(log, errors.New("not running on AWS Lambda: use -local to run the stack here (see -help)"))
		}
		lambda.Start(handleLambda)
	}
}

func fail(log *slog.Logger, err error) {
	log.Error(fmt.Sprint(err))
	os.Exit(1)
}
