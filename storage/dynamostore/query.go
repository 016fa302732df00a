package dynamostore

import (
	"context"
	"errors"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatfly/chatfly"
)

// Query returns the unexpired items of one partition that match q. It costs
// one DynamoDB Query per page of at most 1 MB read; with q.Limit, each page
// asks for the items still missing, and paging goes on until q.Limit items
// passed the expiry filter or the range is exhausted. Expired items are
// dropped by a filter expression, after they were read: they cost read
// capacity until DynamoDB's TTL deletes them.
func (s *Store) Query(ctx context.Context, q chatfly.Query) ([]chatfly.Item, error) {
	qkey := chatfly.Key{Partition: q.Partition, Sort: q.Prefix}
	if err := checkKey(chatfly.Key{Partition: q.Partition, Sort: q.StartAfter}); err != nil {
		return nil, opError("query", qkey, err)
	}
	if !utf8.ValidString(q.Prefix) {
		return nil, opError("query", qkey, errors.New("prefix is not valid UTF-8"))
	}
	kc, ok := keyCondition(q)
	if !ok {
		return nil, nil // nothing can match
	}
	vals := map[string]types.AttributeValue{
		":pk":  &types.AttributeValueMemberS{Value: q.Partition},
		":now": s.nowAttr(),
		":lo":  &types.AttributeValueMemberS{Value: kc.lo},
		":hi":  &types.AttributeValueMemberS{Value: kc.hi},
	}
	in := &dynamodb.QueryInput{
		TableName:                 s.table,
		KeyConditionExpression:    aws.String(kc.expr),
		FilterExpression:          aws.String(filterLive),
		ExpressionAttributeNames:  exprNames(kc.expr, filterLive),
		ExpressionAttributeValues: exprValues(vals, kc.expr, filterLive),
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(!q.Reverse),
	}
	now := s.now()
	var items []chatfly.Item
	for {
		if q.Limit > 0 {
			in.Limit = aws.Int32(int32(min(q.Limit-len(items), math.MaxInt32)))
		}
		out, err := s.client.Query(ctx, in, s.optFns...)
		if err != nil {
			return nil, opError("query", qkey, mapError(ctx, err))
		}

		for _, av := range out.Items {
			it, err := decodeItem(av)
			if err != nil {
				return nil, opError("query", qkey, err)
			}
			if !strings.HasPrefix(it.Sort, q.Prefix) {
				if kc.stopOutside {
					return items, nil // past the prefix's range
				}
				continue
			}
			if !after(it.Sort, q) || chatfly.Expired(it.Expires, now) {
				continue // a bound of BETWEEN, or expired
			}
			items = append(items, it)
			if q.Limit > 0 && len(items) >= q.Limit {
				return items, nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// after reports whether sort key k is past q.StartAfter in the direction of
// q.
func after(k string, q chatfly.Query) bool {
	switch {
	case q.StartAfter == "":
		return true
	case q.Reverse:
		return k < q.StartAfter
	default:
		return k > q.StartAfter
	}
}

// keyCond is the key condition of a Query.
type keyCond struct {
	expr   string // KeyConditionExpression, with :pk, :lo and :hi
	lo, hi string
	// stopOutside: the range may go on past the keys that start with the
	// prefix; the first key read without the prefix ends the Query.
	stopOutside bool
}

// keyCondition maps the prefix and cursor of q to a key condition on the
// stored sort keys. DynamoDB allows one condition on the sort key, so a
// prefix and a cursor together become a BETWEEN whose bounds, included by
// DynamoDB, are dropped by Query. ok is false if no key can match.
func keyCondition(q chatfly.Query) (kc keyCond, ok bool) {
	const pk = "#pk = :pk"
	p, sa := q.Prefix, q.StartAfter
	switch {
	case p == "" && sa == "":
		return keyCond{expr: pk}, true
	case p == "" && !q.Reverse:
		return keyCond{expr: pk + " AND #sk > :lo", lo: encodeSort(sa)}, true
	case p == "":
		return keyCond{expr: pk + " AND #sk < :hi", hi: encodeSort(sa)}, true
	case sa == "" || (!q.Reverse && sa < p) || (q.Reverse && sa > p && !strings.HasPrefix(sa, p)):
		// The cursor is before (in the direction of the scan) every key
		// with the prefix.
		return keyCond{expr: pk + " AND begins_with(#sk, :lo)", lo: encodePrefix(p)}, true
	case !strings.HasPrefix(sa, p):
		// The cursor is past every key with the prefix.
		return keyCond{}, false
	case q.Reverse:
		// Keys with the prefix below the cursor: [prefix, cursor).
		return keyCond{expr: pk + " AND #sk BETWEEN :lo AND :hi", lo: encodePrefix(p), hi: encodeSort(sa)}, true
	}
	// Keys with the prefix above the cursor: (cursor, end of prefix).
	if end, ok := prefixEnd(encodePrefix(p)); ok {
		return keyCond{expr: pk + " AND #sk BETWEEN :lo AND :hi", lo: encodeSort(sa), hi: end}, true
	}
	return keyCond{expr: pk + " AND #sk > :lo", lo: encodeSort(sa), stopOutside: true}, true
}

// prefixEnd returns the least valid UTF-8 string greater than every string
// with prefix p, or false if there is none (p is all U+10FFFF).
func prefixEnd(p string) (string, bool) {
	for i := len(p); i > 0; {
		r, size := utf8.DecodeLastRuneInString(p[:i])
		i -= size
		if r == utf8.MaxRune {
			continue
		}
		r++
		if r >= 0xD800 && r <= 0xDFFF { // surrogates are not valid UTF-8
			r = 0xE000
		}
		return p[:i] + string(r), true
	}
	return "", false
}
