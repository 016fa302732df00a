package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatfly/chatfly"
)

// Attribute names of the single-table design (see the package doc).
const (
	AttrPartition = "pk"  // S, partition key: Key.Partition
	AttrSort      = "sk"  // S, sort key: Key.Sort (see the package doc for the empty sort key)
	AttrValue     = "v"   // B, Item.Value; NULL when the value is empty
	AttrCounter   = "n"   // N, Item.N
	AttrVersion   = "ver" // N, Item.Version
	AttrExpires   = "exp" // N, Item.Expires in Unix seconds, NeverExpires if zero; the table's TTL attribute
)

// NeverExpires is the exp of an item that never expires:
// 9999-12-31T23:59:59Z in Unix seconds, which DynamoDB's TTL never reaches.
// An Expires at or after it is stored as it, and read back as the zero
// time.
const NeverExpires = 253402300799

// Default retry policy, used for the zero fields of [Options].
const (
	DefaultMaxAttempts = 8                     // attempts of one request, the first included
	DefaultBaseBackoff = 25 * time.Millisecond // delay bound before the first retry
	DefaultMaxBackoff  = 2 * time.Second       // cap of the delay bound
)

// maxLoops bounds the read-free retry loops of Put and Add (see putAlways and
// Add), which repeat only when another writer changed the same item in
// between. Reaching it means pathological contention.
const maxLoops = 64

// Options configures a [Store]. A nil *Options, and every zero field, means
// the documented default.
type Options struct {
	// Now is the clock by which the Store decides which items have expired:
	// it is sent as the current time with every condition and read filter.
	// Default: time.Now. Tests may pass a fake clock; in production it must
	// be the real time, because DynamoDB's TTL deletes items by the real
	// time.
	Now func() time.Time

	// MaxAttempts is how many times one DynamoDB request is sent when it
	// fails with a retryable error (throttling such as
	// ProvisionedThroughputExceededException, ThrottlingException or
	// RequestLimitExceeded, a 5xx answer, a broken connection), the first
	// attempt included. 1 disables retries. Default: DefaultMaxAttempts.
	// The client's own retryer still decides which errors are retryable and
	// keeps its retry quota.
	MaxAttempts int

	// BaseBackoff and MaxBackoff shape the delay before each retry: a random
	// duration ("full jitter") in [0, min(MaxBackoff, BaseBackoff·2^i)) before
	// retry i (counting from 0). Defaults: DefaultBaseBackoff and
	// DefaultMaxBackoff.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
}

// Store is a [chatfly.Storage] over one DynamoDB table. It is safe for
// concurrent use by multiple goroutines, and any number of Stores, in any
// number of processes, may share one table.
type Store struct {
	client *dynamodb.Client
	table  *string
	now    func() time.Time
	optFns []func(*dynamodb.Options)
	// retry is the policy of Options, which batches also follow for the
	// part of a batch that DynamoDB left unprocessed.
	retry *retryer
}

var (
	_ chatfly.Storage          = (*Store)(nil)
	_ chatfly.Batcher          = (*Store)(nil)
	_ chatfly.Toucher          = (*Store)(nil)
	_ chatfly.ValueConditioner = (*Store)(nil)
)

// Open returns a Store over the table named table, which must have the key
// schema that [CreateTable] creates. Open sends no request: a missing table
// shows as an error of the first call. A nil opts means the defaults of
// [Options].
func Open(client *dynamodb.Client, table string, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("dynamostore: Open: nil client")
	}
	if table == "" {
		return nil, errors.New("dynamostore: Open: empty table name")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
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
	s := &Store{client: client, table: aws.String(table), now: o.Now}
	s.retry = &retryer{maxAttempts: o.MaxAttempts, base: o.BaseBackoff, max: o.MaxBackoff}
	s.optFns = []func(*dynamodb.Options){func(do *dynamodb.Options) {
		do.Retryer = newRetryer(do.Retryer, o.MaxAttempts, o.BaseBackoff, o.MaxBackoff)
	}}
	return s, nil
}

// Condition and update expressions. Names and values are bound by
// exprNames and exprValues, which keep only the ones an expression uses.
const (
	// live: the item exists and has not expired.
	condLive = "attribute_exists(#pk) AND (attribute_not_exists(#exp) OR #exp > :now)"
	// absent: the item does not exist or has expired. An item without
	// exp never expires, and "#exp <= :now" is false for it.
	condAbsent = "attribute_not_exists(#pk) OR #exp <= :now"
	// notExpired: the item does not exist, or exists and has not expired;
	// that is, it is not an expired leftover.
	condNotExpired = "attribute_not_exists(#pk) OR attribute_not_exists(#exp) OR #exp > :now"
	// version: the item is live and has version :ver.
	condVersion = "#ver = :ver AND (attribute_not_exists(#exp) OR #exp > :now)"
	// filterLive keeps unexpired items of a Query.
	filterLive = "attribute_not_exists(#exp) OR #exp > :now"
)

// Get returns the item at key, or an error wrapping chatfly.ErrNotFound if
// it is missing or expired. It costs one strongly consistent GetItem.
func (s *Store) Get(ctx context.Context, key chatfly.Key) (chatfly.Item, error) {
	k, err := encodeKey(key)
	if err != nil {
		return chatfly.Item{}, opError("get", key, err)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      s.table,
		Key:            k,
		ConsistentRead: aws.Bool(true),
	}, s.optFns...)
	if err != nil {
		return chatfly.Item{}, opError("get", key, mapError(ctx, err))
	}
	if out.Item == nil {
		return chatfly.Item{}, opError("get", key, chatfly.ErrNotFound)
	}
	it, err := decodeItem(out.Item)
	if err != nil {
		return chatfly.Item{}, opError("get", key, err)
	}
	if chatfly.Expired(it.Expires, s.now()) {
		return chatfly.Item{}, opError("get", key, chatfly.ErrNotFound)
	}
	return it, nil
}

// Put writes item if cond holds and returns its new version. It costs one
// write request on the common path: PutItem for IfAbsent and IfVersion,
// UpdateItem for Always and IfExists (the new version depends on the stored
// one, which only UpdateItem can read and write at once). Always over an
// expired leftover takes one more PutItem. A failed condition is reported as
// an error wrapping chatfly.ErrConflict; an item over DynamoDB's item size
// limit as one wrapping chatfly.ErrTooLarge, before anything is sent.
func (s *Store) Put(ctx context.Context, item chatfly.Item, cond chatfly.Cond) (int64, error) {
	k, err := encodeKey(item.Key)
	if err != nil {
		return 0, opError("put", item.Key, err)
	}
	if size := itemSize(k, item.Value); size > MaxItemSize {
		return 0, opError("put", item.Key, fmt.Errorf("%w: item of about %d bytes exceeds DynamoDB's limit of %d", chatfly.ErrTooLarge, size, MaxItemSize))
	}
	item.N = 0 // Put resets the counter.
	var ver int64
	switch v, isVersion := cond.Version(); {
	case cond.RequiresAbsent():
		ver = freshVersion()
		err = s.putItem(ctx, k, item, ver, condAbsent, nil)
	case isVersion:
		ver, err = v+1, s.putItem(ctx, k, item, v+1, condVersion, numAttr(v))
	case cond.RequiresExists():
		ver, err = s.updateValue(ctx, k, item, condLive)
	case isValueCond(cond):
		vals := map[string]types.AttributeValue{}
		ver, err = s.updateValue(ctx, k, item, valueCondition(cond, vals), vals)
	default:
		ver, err = s.putAlways(ctx, k, item)
	}
	if err != nil {
		return 0, opError("put", item.Key, mapError(ctx, err))
	}
	return ver, nil
}

// putAlways writes item whatever the state of the stored one: an UpdateItem
// that bumps the version of a live item or creates a missing one, and, if
// an expired leftover is in the way, a PutItem that replaces it with a fresh
// version. Each step fails only if a concurrent writer changed the item in
// between, and then the other step applies.
func (s *Store) putAlways(ctx context.Context, k map[string]types.AttributeValue, item chatfly.Item) (int64, error) {
	for range maxLoops {
		ver, err := s.updateValue(ctx, k, item, condNotExpired)
		if !isConditionFailed(err) {
			return ver, err
		}
		ver = freshVersion()
		err = s.putItem(ctx, k, item, ver, condAbsent, nil)
		if !isConditionFailed(err) {
			return ver, err
		}
	}
	return 0, fmt.Errorf("%w: contention on the item did not settle after %d attempts", chatfly.ErrUnavailable, maxLoops)
}

// putItem writes item as a whole, with counter item.N and version ver, if
// cond holds.
func (s *Store) putItem(ctx context.Context, k map[string]types.AttributeValue, item chatfly.Item, ver int64, cond string, condVer types.AttributeValue) error {
	av := wholeItem(k, item.Value, item.N, ver, item.Expires)
	vals := map[string]types.AttributeValue{":now": s.nowAttr(), ":ver": condVer}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 s.table,
		Item:                      av,
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  exprNames(cond),
		ExpressionAttributeValues: exprValues(vals, cond),
	}, s.optFns...)
	return err
}

// wholeItem returns the stored form of the item at k with the given
// attributes.
func wholeItem(k map[string]types.AttributeValue, value []byte, n, ver int64, exp time.Time) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPartition: k[AttrPartition],
		AttrSort:      k[AttrSort],
		AttrValue:     valueAttr(value),
		AttrCounter:   numAttr(n),
		AttrVersion:   numAttr(ver),
		AttrExpires:   expAttr(exp),
	}
}

// updateValue replaces the value, counter and expiry of the item at k with
// those of item if cond holds, increments its version (a missing item gets
// a fresh one) and returns the new version.
// condVals are the values of cond's placeholders that are not the
// update's, if any.
func (s *Store) updateValue(ctx context.Context, k map[string]types.AttributeValue, item chatfly.Item, cond string, condVals ...map[string]types.AttributeValue) (int64, error) {
	const update = "SET #val = :val, #n = :zero, #ver = if_not_exists(#ver, :base) + :one, #exp = :exp"
	vals := map[string]types.AttributeValue{
		":now": s.nowAttr(), ":zero": numAttr(0), ":one": numAttr(1), ":base": numAttr(freshVersion() - 1),
		":val": valueAttr(item.Value), ":exp": expAttr(item.Expires),
	}
	for _, cv := range condVals {
		maps.Copy(vals, cv)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       k,
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  exprNames(update, cond),
		ExpressionAttributeValues: exprValues(vals, update, cond),
		ReturnValues:              types.ReturnValueUpdatedNew,
	}, s.optFns...)
	if err != nil {
		return 0, err
	}
	return numFrom(out.Attributes, AttrVersion)
}

// condition returns the condition expression of cond, "" for Always, and
// adds the values it uses to vals (which holds :now).
func condition(cond chatfly.Cond, vals map[string]types.AttributeValue) string {
	switch v, isVersion := cond.Version(); {
	case cond.RequiresAbsent():
		return condAbsent
	case cond.RequiresExists():
		return condLive
	case isVersion:
		vals[":ver"] = numAttr(v)
		return condVersion
	case isValueCond(cond):
		return valueCondition(cond, vals)
	}
	return ""
}

// Delete removes the item at key if cond holds. It costs one DeleteItem.
func (s *Store) Delete(ctx context.Context, key chatfly.Key, cond chatfly.Cond) error {
	k, err := encodeKey(key)
	if err != nil {
		return opError("delete", key, err)
	}
	in := &dynamodb.DeleteItemInput{TableName: s.table, Key: k}
	vals := map[string]types.AttributeValue{":now": s.nowAttr()}
	if expr := condition(cond, vals); expr != "" {
		in.ConditionExpression = aws.String(expr)
		in.ExpressionAttributeNames = exprNames(expr)
		in.ExpressionAttributeValues = exprValues(vals, expr)
	}
	if _, err := s.client.DeleteItem(ctx, in, s.optFns...); err != nil {
		return opError("delete", key, mapError(ctx, err))
	}
	return nil
}

// Add adds delta to the counter of the item at key and returns the new
// value. It costs one UpdateItem; over an expired leftover, one more
// PutItem that restarts the counter.
func (s *Store) Add(ctx context.Context, key chatfly.Key, delta int64, expires time.Time) (int64, error) {
	k, err := encodeKey(key)
	if err != nil {
		return 0, opError("add", key, err)
	}
	for range maxLoops {
		n, err := s.addUpdate(ctx, k, delta, expires)
		if !isConditionFailed(err) {
			return n, opError("add", key, mapError(ctx, err))
		}
		// An expired leftover is in the way: replace it with a fresh
		// counter, unless someone else did (then add to theirs).
		err = s.putItem(ctx, k, chatfly.Item{N: delta, Expires: expires}, freshVersion(), condAbsent, nil)
		if err == nil {
			return delta, nil
		}
		if !isConditionFailed(err) {
			return 0, opError("add", key, mapError(ctx, err))
		}
	}
	return 0, opError("add", key, fmt.Errorf("%w: contention on the counter did not settle after %d attempts", chatfly.ErrUnavailable, maxLoops))
}

// addUpdate adds delta to the counter of a missing or live item (a missing
// one gets a fresh version).
func (s *Store) addUpdate(ctx context.Context, k map[string]types.AttributeValue, delta int64, expires time.Time) (int64, error) {
	const update = "SET #n = if_not_exists(#n, :zero) + :delta, #ver = if_not_exists(#ver, :base) + :one, #exp = :exp"
	vals := map[string]types.AttributeValue{
		":now": s.nowAttr(), ":zero": numAttr(0), ":one": numAttr(1), ":base": numAttr(freshVersion() - 1),
		":delta": numAttr(delta), ":exp": expAttr(expires),
	}
	// UPDATED_NEW returns the counter only if it changed on some backends
	// (minidyn); a delta of 0 asks for the whole item instead.
	ret := types.ReturnValueUpdatedNew
	if delta == 0 {
		ret = types.ReturnValueAllNew
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       k,
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(condNotExpired),
		ExpressionAttributeNames:  exprNames(update, condNotExpired),
		ExpressionAttributeValues: exprValues(vals, update, condNotExpired),
		ReturnValues:              ret,
	}, s.optFns...)
	if err != nil {
		return 0, err
	}
	return numFrom(out.Attributes, AttrCounter)
}
