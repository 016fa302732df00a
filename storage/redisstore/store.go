package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatfly/chatfly"
)

// DefaultPrefix is the key prefix of a Store whose Options leave it empty.
const DefaultPrefix = "chatfly:"

// DefaultMaxItemBytes is the item size limit of a Store whose Options leave
// it zero: DynamoDB's, so that what fits one store fits the other.
const DefaultMaxItemBytes = 400 << 10

// Options configure a [Store]. The zero value (or nil) is the default.
type Options struct {
	// Prefix starts every key the store writes, so that several
	// deployments (or tests) can share one Redis. It must not contain '{'
	// or '}', which would break the hash tags. Default [DefaultPrefix].
	Prefix string

	// Now returns the current time, by which the Store decides whether an
	// item has expired. Tests use it to control expiry. Default: time.Now.
	Now func() time.Time

	// MaxItemBytes is the largest item (value and keys) a Put accepts; a
	// larger one fails with chatfly.ErrTooLarge before anything is sent.
	// Default [DefaultMaxItemBytes] (400 KiB).
	MaxItemBytes int
}

// Store is a [chatfly.Storage] over Redis. It is safe for concurrent use by
// multiple goroutines, and by multiple processes sharing one Redis (or
// Redis Cluster). It keeps no state of its own besides its client.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	now     func() time.Time
	maxItem int
}

// New returns a Store over client, which may be a *redis.Client, a
// *redis.ClusterClient or any redis.UniversalClient; the Store never closes
// it. Create the client with ContextTimeoutEnabled so that ctx deadlines
// bound every call (see the package doc). New fails only on invalid Options.
func New(client redis.UniversalClient, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("redisstore: Prefix %q contains '{' or '}'", o.Prefix)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxItemBytes <= 0 {
		o.MaxItemBytes = DefaultMaxItemBytes
	}
	return &Store{client: client, prefix: o.Prefix, now: o.Now, maxItem: o.MaxItemBytes}, nil
}

// indexKey returns the key of the index of partition p: the prefix and p
// in braces, its hash tag, with '%' and '}' escaped as %25 and %7D. The
// other keys of the partition start with it.
func (s *Store) indexKey(p string) string {
	var b strings.Builder
	b.Grow(len(s.prefix) + len(p) + 2)
	b.WriteString(s.prefix)
	b.WriteByte('{')
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '%':
			b.WriteString("%25")
		case '}':
			b.WriteString("%7D")
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// keys returns the keys of the item at k, of its partition's index and of
// its partition's expiries.
func (s *Store) keys(k chatfly.Key) []string {
	idx := s.indexKey(k.Partition)
	return []string{idx + ":" + k.Sort, idx, idx + "~"}
}

func checkKey(k chatfly.Key) error {
	if k.Partition == "" {
		return errors.New("empty partition key")
	}
	return nil
}

// ms returns t in Unix milliseconds, and "" for the zero time (never).
func ms(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// condArgs returns the arguments that pass cond to a script: its kind
// and what it compares with.
func condArgs(cond chatfly.Cond) (kind, arg string) {
	switch {
	case cond.RequiresAbsent():
		return "a", ""
	case cond.RequiresExists():
		return "x", ""
	}
	if v, ok := cond.Version(); ok {
		return "v", strconv.FormatInt(v, 10)
	}
	switch v, kind := cond.Value(); kind {
	case "value":
		return "=", string(v)
	case "prefix":
		return "^", string(v)
	}
	return "", ""
}

// Get returns the item at key, or an error wrapping chatfly.ErrNotFound.
// One HMGET.
func (s *Store) Get(ctx context.Context, key chatfly.Key) (chatfly.Item, error) {
	if err := s.start(ctx, key); err != nil {
		return chatfly.Item{}, opError("get", key, err)
	}
	f, err := s.client.HMGet(ctx, s.keys(key)[0], "v", "n", "r", "e").Result()
	if err != nil {
		return chatfly.Item{}, opError("get", key, mapError(ctx, err))
	}
	it, ok, err := s.live(key, f)
	if err != nil {
		return chatfly.Item{}, opError("get", key, err)
	}
	if !ok {
		return chatfly.Item{}, opError("get", key, chatfly.ErrNotFound)
	}
	return it, nil
}

// live makes an item of the fields v, n, r, e of its hash, as HMGET
// returns them; ok is false if the item is absent or expired.
func (s *Store) live(key chatfly.Key, f []any) (it chatfly.Item, ok bool, err error) {
	it, ok, err = decode(key, f[0], f[1], f[2], f[3])
	if err != nil || !ok || chatfly.Expired(it.Expires, s.now()) {
		return chatfly.Item{}, false, err
	}
	return it, true, nil
}

// Put writes item if cond holds and returns its new version. One EVALSHA.
func (s *Store) Put(ctx context.Context, item chatfly.Item, cond chatfly.Cond) (int64, error) {
	if err := s.start(ctx, item.Key); err != nil {
		return 0, opError("put", item.Key, err)
	}
	if err := s.checkSize(item); err != nil {
		return 0, opError("put", item.Key, err)
	}
	kind, arg := condArgs(cond)
	v, err := putScript.Run(ctx, s.client, s.keys(item.Key), s.putArgs(item, kind, arg)...).Int64()
	if err != nil {
		return 0, opError("put", item.Key, mapError(ctx, err))
	}
	if v < 0 {
		return 0, opError("put", item.Key, chatfly.ErrConflict)
	}
	return v, nil
}

// Delete removes the item at key if cond holds. One EVALSHA.
func (s *Store) Delete(ctx context.Context, key chatfly.Key, cond chatfly.Cond) error {
	if err := s.start(ctx, key); err != nil {
		return opError("delete", key, err)
	}
	kind, arg := condArgs(cond)
	v, err := deleteScript.Run(ctx, s.client, s.keys(key), s.nowArg(), key.Sort, kind, arg).Int64()
	if err != nil {
		return opError("delete", key, mapError(ctx, err))
	}
	if v < 0 {
		return opError("delete", key, chatfly.ErrConflict)
	}
	return nil
}

// putArgs returns the ARGV of the put script.
func (s *Store) putArgs(item chatfly.Item, kind, arg string) []any {
	return []any{s.nowArg(), item.Sort, kind, arg, item.Value, ms(item.Expires)}
}

// checkSize refuses an item larger than MaxItemBytes with ErrTooLarge.
func (s *Store) checkSize(item chatfly.Item) error {
	if size := len(item.Value) + len(item.Partition) + len(item.Sort); size > s.maxItem {
		return fmt.Errorf("%w: item of %d bytes exceeds the limit of %d", chatfly.ErrTooLarge, size, s.maxItem)
	}
	return nil
}

// Add adds delta to the counter of the item at key and returns the new
// value. One EVALSHA.
func (s *Store) Add(ctx context.Context, key chatfly.Key, delta int64, expires time.Time) (int64, error) {
	if err := s.start(ctx, key); err != nil {
		return 0, opError("add", key, err)
	}
	out, err := addScript.Run(ctx, s.client, s.keys(key), s.nowArg(), key.Sort, delta, ms(expires)).Text()
	if err != nil {
		return 0, opError("add", key, mapError(ctx, err))
	}
	n, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		return 0, opError("add", key, fmt.Errorf("counter %q: %w", out, err))
	}
	return n, nil
}

// Query returns the unexpired items of a partition that match q, in order.
// One EVALSHA, whatever the number of items.
func (s *Store) Query(ctx context.Context, q chatfly.Query) ([]chatfly.Item, error) {
	part := chatfly.Key{Partition: q.Partition}
	if err := s.start(ctx, part); err != nil {
		return nil, opError("query", part, err)
	}
	lo, hi := lexRange(q)
	rev := "0"
	if q.Reverse {
		rev = "1"
	}
	idx := s.indexKey(q.Partition)
	res, err := queryScript.Run(ctx, s.client, []string{idx, idx + "~"}, s.nowArg(), lo, hi, rev, max(q.Limit, 0)).Slice()
	if err != nil {
		return nil, opError("query", part, mapError(ctx, err))
	}
	items := make([]chatfly.Item, 0, len(res)/5)
	for i := 0; i+5 <= len(res); i += 5 {
		sort, _ := res[i].(string)
		it, ok, err := decode(chatfly.Key{Partition: q.Partition, Sort: sort}, res[i+1], res[i+2], res[i+3], res[i+4])
		if err != nil {
			return nil, opError("query", part, err)
		}
		if ok {
			items = append(items, it)
		}
	}
	return items, nil
}

// lexRange returns the bounds of ZRANGEBYLEX (min, max) for the sort keys
// q selects.
func lexRange(q chatfly.Query) (lo, hi string) {
	lo, hi = "-", "+"
	end, bounded := "", false
	if q.Prefix != "" {
		lo = "[" + q.Prefix
		if end, bounded = prefixEnd(q.Prefix); bounded {
			hi = "(" + end
		}
	}
	if q.StartAfter == "" {
		return lo, hi
	}
	if q.Reverse {
		if !bounded || q.StartAfter < end {
			hi = "(" + q.StartAfter
		}
	} else if q.StartAfter >= q.Prefix {
		lo = "(" + q.StartAfter
	}
	return lo, hi
}

// prefixEnd returns the least string greater than every string with prefix
// p, and false if there is none (p is all 0xff bytes).
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// decode makes an item of the fields v, n, r, e of its hash, as HMGET or
// the query script return them; ok is false if the item is absent (no r).
func decode(k chatfly.Key, v, n, r, e any) (it chatfly.Item, ok bool, err error) {
	rs, _ := r.(string)
	if rs == "" {
		return chatfly.Item{}, false, nil
	}
	it.Key = k
	if it.Version, err = strconv.ParseInt(rs, 10, 64); err != nil {
		return chatfly.Item{}, false, fmt.Errorf("version %q: %w", rs, err)
	}
	if ns, _ := n.(string); ns != "" {
		if it.N, err = strconv.ParseInt(ns, 10, 64); err != nil {
			return chatfly.Item{}, false, fmt.Errorf("counter %q: %w", ns, err)
		}
	}
	if es, _ := e.(string); es != "" {
		at, err := strconv.ParseInt(es, 10, 64)
		if err != nil {
			return chatfly.Item{}, false, fmt.Errorf("expiry %q: %w", es, err)
		}
		it.Expires = time.UnixMilli(at).UTC()
	}
	if vs, _ := v.(string); vs != "" {
		it.Value = []byte(vs)
	}
	return it, true, nil
}

func (s *Store) nowArg() string { return strconv.FormatInt(s.now().UnixMilli(), 10) }

// start checks what every call checks before it sends anything.
func (s *Store) start(ctx context.Context, k chatfly.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return checkKey(k)
}

// opError adds the operation and key to err, keeping it in the chain.
func opError(op string, k chatfly.Key, err error) error {
	return fmt.Errorf("redisstore: %s %q/%q: %w", op, k.Partition, k.Sort, err)
}

// unavailablePrefixes are the Redis error replies of a server that cannot
// serve now but may soon: out of memory, loading its data, running a slow
// script, a cluster resharding or failing over, a read-only replica.
var unavailablePrefixes = []string{"OOM", "LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "NOREPLICAS", "MOVED", "ASK"}

// mapError maps an error of the client to the sentinels of chatfly: an
// error of ctx wraps ctx.Err(); a network error, a pool timeout or one of
// the replies above wraps chatfly.ErrUnavailable. The client's error stays
// in the chain.
func mapError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		for _, p := range unavailablePrefixes {
			if redis.HasErrorPrefix(err, p) {
				return fmt.Errorf("%w: %w", chatfly.ErrUnavailable, err)
			}
		}
		return err
	}
	return fmt.Errorf("%w: %w", chatfly.ErrUnavailable, err)
}
