package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// CreateTableTimeout bounds how long [CreateTable] waits for a new table to
// become active.
const CreateTableTimeout = 5 * time.Minute

// CreateTable creates the table a [Store] needs, for tests and local
// development (production tables belong in infrastructure code; table.yaml
// in this package's directory is the same table as a CloudFormation
// resource). The table has the key schema pk (S, HASH) and sk (S, RANGE),
// on-demand billing (PAY_PER_REQUEST), and Time to Live on the attribute
// exp. CreateTable waits until the table is active.
//
// It is idempotent: if the table exists already, CreateTable only waits for
// it and enables TTL.
//
// Emulators: a backend that does not implement UpdateTimeToLive (dynalite
// answers UnknownOperationException, minidyn an "unsupported operation"
// error) gets a table without TTL, and CreateTable ignores that one error.
// The Store never depends on TTL for correctness: expired items are filtered
// on every read whether or not they were deleted.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPartition), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSort), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPartition), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSort), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamostore: create table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = 5 * time.Second
		o.Retryable = tableActive
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, CreateTableTimeout); err != nil {
		return fmt.Errorf("dynamostore: create table %s: waiting until active: %w", table, err)
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(AttrExpires),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil && !ttlAlreadyEnabled(err) && !unknownOperation(err) {
		return fmt.Errorf("dynamostore: create table %s: enabling TTL on %s: %w", table, AttrExpires, err)
	}
	return nil
}

// tableActive is the waiter's test for an active table. Unlike the SDK's
// default, it takes a description without a status (minidyn leaves it out)
// as active.
func tableActive(_ context.Context, _ *dynamodb.DescribeTableInput, out *dynamodb.DescribeTableOutput, err error) (retry bool, _ error) {
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return true, nil // not visible yet
	case err != nil:
		return false, err
	case out == nil || out.Table == nil:
		return true, nil
	}
	switch st := out.Table.TableStatus; st {
	case types.TableStatusActive, "":
		return false, nil
	case types.TableStatusCreating, types.TableStatusUpdating:
		return true, nil
	default:
		return false, fmt.Errorf("table status is %s", st)
	}
}

// ttlAlreadyEnabled reports whether err is DynamoDB's refusal to enable TTL
// on a table that has it already.
func ttlAlreadyEnabled(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationException" &&
		strings.Contains(strings.ToLower(ae.ErrorMessage()), "already enabled")
}

// unknownOperation reports whether err says that the backend does not
// implement the operation: dynalite's UnknownOperationException, or
// minidyn's plain-text answer "unsupported operation", which the SDK fails
// to decode as JSON.
func unknownOperation(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() == "UnknownOperationException"
	}
	var de *smithy.DeserializationError
	return errors.As(err, &de) && strings.TrimSpace(string(de.Snapshot)) == "unsupported operation"
}
