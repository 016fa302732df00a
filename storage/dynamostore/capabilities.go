package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatfly/chatfly"
)

// DynamoDB's limits on one batch request.
const (
	// MaxBatchGet is the most keys one BatchGetItem reads.
	MaxBatchGet = 100
	// MaxBatchWrite is the most writes one BatchWriteItem applies.
	MaxBatchWrite = 25
)

// isValueCond reports whether cond is chatfly.IfValue or chatfly.IfPrefix.
func isValueCond(cond chatfly.Cond) bool {
	_, kind := cond.Value()
	return kind != ""
}

// valueCondition returns the condition expression of an IfValue or
// IfPrefix cond, which requires a live item, and adds its values to vals.
// An empty Value is stored as NULL (see valueAttr), so IfValue(empty)
// checks for that; IfPrefix(empty) holds for every live item.
func valueCondition(cond chatfly.Cond, vals map[string]types.AttributeValue) string {
	v, kind := cond.Value()
	switch {
	case len(v) == 0 && kind == "value":
		vals[":nul"] = &types.AttributeValueMemberS{Value: "NULL"}
		return condLive + " AND (attribute_not_exists(#val) OR attribute_type(#val, :nul))"
	case len(v) == 0:
		return condLive
	case kind == "value":
		vals[":cv"] = &types.AttributeValueMemberB{Value: v}
		return condLive + " AND #val = :cv"
	}
	vals[":cv"] = &types.AttributeValueMemberB{Value: v}
	return condLive + " AND begins_with(#val, :cv)"
}

// ValueConditions marks the Store as evaluating chatfly.IfValue and
// chatfly.IfPrefix in Put, Delete and Touch ([chatfly.ValueConditioner]),
// as condition expressions on the binary value attribute (= and
// begins_with): no read first.
func (s *Store) ValueConditions() {}

// Touch sets the expiry of the item at key if it is live and cond holds,
// leaving its value, counter and version alone; it returns an error
// wrapping chatfly.ErrConflict otherwise. It costs one UpdateItem (none for
// IfAbsent, which an item that Touch may change never meets). It
// implements [chatfly.Toucher].
func (s *Store) Touch(ctx context.Context, key chatfly.Key, expires time.Time, cond chatfly.Cond) error {
	k, err := encodeKey(key)
	if err != nil {
		return opError("touch", key, err)
	}
	if cond.RequiresAbsent() {
		return opError("touch", key, chatfly.ErrConflict)
	}
	const update = "SET #exp = :exp"
	vals := map[string]types.AttributeValue{":now": s.nowAttr(), ":exp": expAttr(expires)}
	expr := condition(cond, vals)
	if expr == "" {
		expr = condLive
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       k,
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(expr),
		ExpressionAttributeNames:  exprNames(update, expr),
		ExpressionAttributeValues: exprValues(vals, update, expr),
	}, s.optFns...)
	return opError("touch", key, mapError(ctx, err))
}

// GetMany returns the items at keys, in the order of keys; a missing or
// expired item as an Item with only its Key set. It costs one strongly
// consistent BatchGetItem per MaxBatchGet keys, sent one after the other,
// plus one for each time DynamoDB leaves keys unprocessed (it does under
// load, or past 16 MB of answer), after a backoff as the Options' retries
// (MaxAttempts rounds at most, then an error wrapping
// chatfly.ErrUnavailable). Read units: those of the items read, each
// rounded up to 4 KB, and one per missing item. It implements
// [chatfly.Batcher].
func (s *Store) GetMany(ctx context.Context, keys []chatfly.Key) ([]chatfly.Item, error) {
	items := make([]chatfly.Item, len(keys))
	at := make(map[chatfly.Key]int, len(keys))
	encoded := make([]map[string]types.AttributeValue, len(keys))
	for i, key := range keys {
		if _, dup := at[key]; dup {
			return nil, opError("get many", key, errors.New("the key is there twice"))
		}
		k, err := encodeKey(key)
		if err != nil {
			return nil, opError("get many", key, err)
		}
		items[i].Key, at[key], encoded[i] = key, i, k
	}
	now := s.now()
	for start := 0; start < len(keys); start += MaxBatchGet {
		req := map[string]types.KeysAndAttributes{*s.table: {
			Keys:           encoded[start:min(start+MaxBatchGet, len(keys))],
			ConsistentRead: aws.Bool(true),
		}}
		err := s.batch(ctx, func() (bool, error) {
			out, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req}, s.optFns...)
			if err != nil {
				return false, err
			}
			for _, av := range out.Responses[*s.table] {
				it, err := decodeItem(av)
				if err != nil {
					return false, err
				}
				if i, ok := at[it.Key]; ok && !chatfly.Expired(it.Expires, now) {
					items[i] = it
				}
			}
			req = out.UnprocessedKeys
			return len(req[*s.table].Keys) > 0, nil
		})
		if err != nil {
			return nil, opError("get many", keys[start], err)
		}
	}
	return items, nil
}

// WriteMany applies writes without conditions: a Put writes the whole item
// with a fresh version and N 0 (a new lifetime, see "Versions" in the
// package doc), a Delete removes it. It costs one BatchWriteItem per
// MaxBatchWrite writes, sent one after the other, plus one for each time
// DynamoDB leaves writes unprocessed, after a backoff as the Options'
// retries (MaxAttempts rounds at most, then an error wrapping
// chatfly.ErrUnavailable); write units as the same PutItems and
// DeleteItems. An item over DynamoDB's size limit fails the call with
// chatfly.ErrTooLarge before anything is sent. It implements
// [chatfly.Batcher].
func (s *Store) WriteMany(ctx context.Context, writes []chatfly.Write) error {
	reqs := make([]types.WriteRequest, len(writes))
	seen := make(map[chatfly.Key]bool, len(writes))
	for i, w := range writes {
		if seen[w.Item.Key] {
			return opError("write many", w.Item.Key, errors.New("the key is there twice"))
		}
		seen[w.Item.Key] = true
		k, err := encodeKey(w.Item.Key)
		if err != nil {
			return opError("write many", w.Item.Key, err)
		}
		if w.Delete {
			reqs[i].DeleteRequest = &types.DeleteRequest{Key: k}
			continue
		}
		if size := itemSize(k, w.Item.Value); size > MaxItemSize {
			return opError("write many", w.Item.Key, fmt.Errorf("%w: item of about %d bytes exceeds DynamoDB's limit of %d", chatfly.ErrTooLarge, size, MaxItemSize))
		}
		reqs[i].PutRequest = &types.PutRequest{Item: wholeItem(k, w.Item.Value, 0, freshVersion(), w.Item.Expires)}
	}
	for start := 0; start < len(reqs); start += MaxBatchWrite {
		req := map[string][]types.WriteRequest{*s.table: reqs[start:min(start+MaxBatchWrite, len(reqs))]}
		err := s.batch(ctx, func() (bool, error) {
			out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req}, s.optFns...)
			if err != nil {
				return false, err
			}
			req = out.UnprocessedItems
			return len(req[*s.table]) > 0, nil
		})
		if err != nil {
			return opError("write many", writes[start].Item.Key, err)
		}
	}
	return nil
}

// batch sends a batch request with send, which reports whether DynamoDB
// left part of it unprocessed (and sets up the request for that part),
// until nothing is left: at most MaxAttempts requests, each after a
// backoff as the client's retries.
func (s *Store) batch(ctx context.Context, send func() (left bool, err error)) error {
	for attempt := 1; ; attempt++ {
		left, err := send()
		if err != nil || !left {
			return mapError(ctx, err)
		}
		if attempt == s.retry.maxAttempts {
			return fmt.Errorf("%w: DynamoDB left part of a batch unprocessed after %d requests", chatfly.ErrUnavailable, attempt)
		}
		d, _ := s.retry.RetryDelay(attempt, nil)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
