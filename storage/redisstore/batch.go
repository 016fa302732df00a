package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatfly/chatfly"
)

// The optional capabilities of chatfly.Storage that a Store has.
var (
	_ chatfly.Batcher          = (*Store)(nil)
	_ chatfly.Toucher          = (*Store)(nil)
	_ chatfly.ValueConditioner = (*Store)(nil)
)

// ValueConditions marks the Store as a [chatfly.ValueConditioner]: its
// Put, Delete and Touch evaluate [chatfly.IfValue] and [chatfly.IfPrefix]
// on the server, in the script of the write.
func (*Store) ValueConditions() {}

// Touch sets the Expires of the item at key if it is live and cond holds,
// leaving its Value, N and Version alone; otherwise it returns an error
// wrapping chatfly.ErrConflict. One EVALSHA.
func (s *Store) Touch(ctx context.Context, key chatfly.Key, expires time.Time, cond chatfly.Cond) error {
	if err := s.start(ctx, key); err != nil {
		return opError("touch", key, err)
	}
	kind, arg := condArgs(cond)
	v, err := touchScript.Run(ctx, s.client, s.keys(key), s.nowArg(), key.Sort, kind, arg, ms(expires)).Int64()
	if err != nil {
		return opError("touch", key, mapError(ctx, err))
	}
	if v < 0 {
		return opError("touch", key, chatfly.ErrConflict)
	}
	return nil
}

// GetMany returns the items at keys, in their order, a missing or expired
// one as an Item with only its Key. One pipeline of HMGETs: on Redis
// Cluster one per node that owns some of the keys, sent in parallel.
func (s *Store) GetMany(ctx context.Context, keys []chatfly.Key) ([]chatfly.Item, error) {
	for _, k := range keys {
		if err := s.start(ctx, k); err != nil {
			return nil, opError("getmany", k, err)
		}
	}
	items := make([]chatfly.Item, len(keys))
	if len(keys) == 0 {
		return items, nil
	}
	cmds := make([]*redis.SliceCmd, len(keys))
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HMGet(ctx, s.keys(k)[0], "v", "n", "r", "e")
		}
		return nil
	})
	for i, k := range keys {
		f, err := cmds[i].Result()
		if err != nil {
			return nil, opError("getmany", k, mapError(ctx, err))
		}
		it, ok, err := s.live(k, f)
		if err != nil {
			return nil, opError("getmany", k, err)
		}
		if !ok {
			it = chatfly.Item{Key: k}
		}
		items[i] = it
	}
	return items, nil
}

// WriteMany applies writes without conditions, each Put starting a new
// lifetime of its item (a fresh version, N 0). It is not atomic: on error
// any subset of the writes may have been applied. One pipeline of EVALSHAs
// (on Redis Cluster one per node, in parallel), and one more with EVAL of
// the writes that found their script missing from the server's cache.
// An item over MaxItemBytes fails the call before anything is sent.
func (s *Store) WriteMany(ctx context.Context, writes []chatfly.Write) error {
	calls := make([]scriptCall, len(writes))
	for i, w := range writes {
		k := w.Item.Key
		if err := s.start(ctx, k); err != nil {
			return opError("writemany", k, err)
		}
		if w.Delete {
			calls[i] = scriptCall{deleteScript, s.keys(k), []any{s.nowArg(), k.Sort, "", ""}}
			continue
		}
		if err := s.checkSize(w.Item); err != nil {
			return opError("writemany", k, err)
		}
		calls[i] = scriptCall{putScript, s.keys(k), s.putArgs(w.Item, "f", "")}
	}
	for i, cmd := range s.runScripts(ctx, calls) {
		if err := cmd.Err(); err != nil {
			return opError("writemany", writes[i].Item.Key, mapError(ctx, err))
		}
	}
	return nil
}

// scriptCall is one run of a script in a pipeline.
type scriptCall struct {
	script *redis.Script
	keys   []string
	args   []any
}

// runScripts runs calls in one pipeline with EVALSHA (go-redis splits a
// pipeline of a cluster client by node and sends the parts in parallel),
// then, in a second one with EVAL, those whose script the server did not
// have (after a restart, a failover or SCRIPT FLUSH): a NOSCRIPT reply
// means the script did not run. It returns the commands in the order of
// calls.
func (s *Store) runScripts(ctx context.Context, calls []scriptCall) []*redis.Cmd {
	cmds := make([]*redis.Cmd, len(calls))
	all := make([]int, len(calls))
	for i := range all {
		all[i] = i
	}
	s.pipeline(ctx, calls, all, cmds, (*redis.Script).EvalSha)
	var missing []int
	for i, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		s.pipeline(ctx, calls, missing, cmds, (*redis.Script).Eval)
	}
	return cmds
}

// pipeline sends the calls of the indexes which in one pipeline with run
// (EVALSHA or EVAL) and sets their commands in cmds.
func (s *Store) pipeline(ctx context.Context, calls []scriptCall, which []int, cmds []*redis.Cmd,
	run func(*redis.Script, context.Context, redis.Scripter, []string, ...any) *redis.Cmd) {
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, i := range which {
			cmds[i] = run(calls[i].script, ctx, p, calls[i].keys, calls[i].args...)
		}
		return nil
	})
}
