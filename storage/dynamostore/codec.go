package dynamostore

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatfly/chatfly"
)

// DynamoDB's limits that the Store checks before sending a request.
const (
	// MaxItemSize is DynamoDB's limit on the size of one item: 400 KB,
	// attribute names and values included.
	MaxItemSize = 400 << 10
	// MaxPartitionBytes is DynamoDB's limit on a partition key value.
	MaxPartitionBytes = 2048
	// MaxSortBytes is DynamoDB's limit on a sort key value (as stored, see
	// the package doc for the escaping of sort keys).
	MaxSortBytes = 1024
)

// maxNumberBytes is the most a number attribute value takes in DynamoDB's
// size accounting (38 significant digits).
const maxNumberBytes = 21

// encodeSort maps a sort key to the stored sk value. DynamoDB rejects an
// empty key attribute, so the empty sort key is stored as "\x00", and a sort
// key that starts with "\x00" gets one more "\x00" in front. Every other sort
// key is stored as it is. The mapping is one-to-one and keeps byte order and
// prefixes, so Query's ranges and begins_with work on stored values.
func encodeSort(s string) string {
	if s == "" || s[0] == 0 {
		return "\x00" + s
	}
	return s
}

// decodeSort is the inverse of encodeSort.
func decodeSort(s string) string {
	if s != "" && s[0] == 0 {
		return s[1:]
	}
	return s
}

// encodePrefix maps a non-empty prefix of sort keys to the prefix of their
// stored values.
func encodePrefix(p string) string {
	if p[0] == 0 {
		return "\x00" + p
	}
	return p
}

// checkKey reports whether DynamoDB can store key.
func checkKey(key chatfly.Key) error {
	switch {
	case key.Partition == "":
		return errors.New("empty partition key")
	case !utf8.ValidString(key.Partition) || !utf8.ValidString(key.Sort):
		return errors.New("key is not valid UTF-8")
	case len(key.Partition) > MaxPartitionBytes:
		return fmt.Errorf("%w: partition key of %d bytes exceeds DynamoDB's limit of %d", chatfly.ErrTooLarge, len(key.Partition), MaxPartitionBytes)
	case len(encodeSort(key.Sort)) > MaxSortBytes:
		return fmt.Errorf("%w: sort key of %d bytes exceeds DynamoDB's limit of %d", chatfly.ErrTooLarge, len(key.Sort), MaxSortBytes)
	}
	return nil
}

// encodeKey returns the DynamoDB primary key of key.
func encodeKey(key chatfly.Key) (map[string]types.AttributeValue, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return map[string]types.AttributeValue{
		AttrPartition: &types.AttributeValueMemberS{Value: key.Partition},
		AttrSort:      &types.AttributeValueMemberS{Value: encodeSort(key.Sort)},
	}, nil
}

// itemSize is an upper bound of the size DynamoDB counts for the item that
// Put writes: the names and values of its attributes, each number counted at
// its largest.
func itemSize(k map[string]types.AttributeValue, value []byte) int {
	size := len(AttrPartition) + len(k[AttrPartition].(*types.AttributeValueMemberS).Value) +
		len(AttrSort) + len(k[AttrSort].(*types.AttributeValueMemberS).Value) +
		len(AttrCounter) + maxNumberBytes +
		len(AttrVersion) + maxNumberBytes +
		len(AttrExpires) + maxNumberBytes +
		len(AttrValue) + max(len(value), 1) // NULL takes 1 byte
	return size
}

// decodeItem converts a stored item.
func decodeItem(av map[string]types.AttributeValue) (chatfly.Item, error) {
	var it chatfly.Item
	pk, ok1 := av[AttrPartition].(*types.AttributeValueMemberS)
	sk, ok2 := av[AttrSort].(*types.AttributeValueMemberS)
	if !ok1 || !ok2 {
		return it, errors.New("stored item has no string pk and sk")
	}
	it.Partition, it.Sort = pk.Value, decodeSort(sk.Value)
	switch v := av[AttrValue].(type) {
	case nil, *types.AttributeValueMemberNULL:
	case *types.AttributeValueMemberB:
		it.Value = v.Value
	default:
		return it, fmt.Errorf("stored item %q/%q: attribute %s is %T, not binary", it.Partition, it.Sort, AttrValue, v)
	}
	var err error
	if it.N, err = optNum(av, AttrCounter); err != nil {
		return it, err
	}
	if it.Version, err = optNum(av, AttrVersion); err != nil {
		return it, err
	}
	if _, ok := av[AttrExpires]; ok {
		sec, err := optNum(av, AttrExpires)
		if err != nil {
			return it, err
		}
		if sec < NeverExpires {
			it.Expires = time.Unix(sec, 0)
		}
	}
	return it, nil
}

// optNum returns the integer number attribute name of av, 0 if it is absent.
func optNum(av map[string]types.AttributeValue, name string) (int64, error) {
	a, ok := av[name]
	if !ok {
		return 0, nil
	}
	n, ok := a.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("stored attribute %s is %T, not a number", name, a)
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		// Written by someone else as a decimal (an expiry in fractional
		// seconds, say): round down.
		f, ferr := strconv.ParseFloat(n.Value, 64)
		if ferr != nil || math.IsNaN(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, fmt.Errorf("stored attribute %s: %w", name, err)
		}
		i = int64(math.Floor(f))
	}
	return i, nil
}

// numFrom returns the number attribute name of the attributes returned by a
// write, which must be there.
func numFrom(av map[string]types.AttributeValue, name string) (int64, error) {
	if _, ok := av[name]; !ok {
		return 0, fmt.Errorf("dynamostore: the write returned no attribute %s", name)
	}
	return optNum(av, name)
}

// valueAttr returns the stored form of an Item.Value: binary, or NULL if it
// is empty (an empty binary would do on DynamoDB, but not on every emulator).
func valueAttr(v []byte) types.AttributeValue {
	if len(v) == 0 {
		return &types.AttributeValueMemberNULL{Value: true}
	}
	return &types.AttributeValueMemberB{Value: v}
}

// expAttr returns the stored form of an Item.Expires.
func expAttr(t time.Time) types.AttributeValue {
	if t.IsZero() || t.Unix() >= NeverExpires {
		return numAttr(NeverExpires)
	}
	return numAttr(t.Unix())
}

func numAttr(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func (s *Store) nowAttr() types.AttributeValue { return numAttr(s.now().Unix()) }

var (
	namePlaceholder  = regexp.MustCompile(`#[a-z]+`)
	valuePlaceholder = regexp.MustCompile(`:[a-z]+`)
	attrOfName       = map[string]string{
		"#pk": AttrPartition, "#sk": AttrSort, "#val": AttrValue,
		"#n": AttrCounter, "#ver": AttrVersion, "#exp": AttrExpires,
	}
)

// exprNames returns the ExpressionAttributeNames that exprs use. Every
// attribute goes through a placeholder, so no name can clash with one of
// DynamoDB's reserved words; only the used ones are sent, since DynamoDB
// rejects unused ones.
func exprNames(exprs ...string) map[string]string {
	names := make(map[string]string)
	for _, e := range exprs {
		for _, p := range namePlaceholder.FindAllString(e, -1) {
			a, ok := attrOfName[p]
			if !ok {
				panic("dynamostore: unknown name placeholder " + p)
			}
			names[p] = a
		}
	}
	return names
}

// exprValues returns the values of vals that exprs use.
func exprValues(vals map[string]types.AttributeValue, exprs ...string) map[string]types.AttributeValue {
	used := make(map[string]types.AttributeValue)
	for _, e := range exprs {
		for _, p := range valuePlaceholder.FindAllString(e, -1) {
			v := vals[p]
			if v == nil {
				panic("dynamostore: no value for placeholder " + p)
			}
			used[p] = v
		}
	}
	if len(used) == 0 {
		return nil
	}
	return used
}

// keyString formats key for error messages.
func keyString(key chatfly.Key) string {
	return strconv.Quote(key.Partition) + "/" + strconv.Quote(key.Sort)
}

// opError wraps a non-nil err with the operation and key, so that the
// message says what failed; the sentinels stay visible to errors.Is.
func opError(op string, key chatfly.Key, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("dynamostore: %s %s: %w", op, keyString(key), err)
}
