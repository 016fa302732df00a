package redisstore

import "github.com/redis/go-redis/v9"

// The scripts run atomically on the Redis node that owns the partition's
// hash slot. Each write script takes KEYS = {item, index, expiries} and
// ARGV[1] = the store's clock in Unix milliseconds; an Expires is passed as
// Unix milliseconds, or "" for never. The item hash has the fields
//
//	v  Item.Value (absent after an Add that created the item)
//	n  Item.N (absent: 0)
//	r  Item.Version
//	e  Item.Expires in Unix milliseconds (absent: never)
//
// Counters stay strings on the way out (HINCRBY, then HGET): Lua numbers are
// doubles, exact only up to 2^53.
//
// Redis lets a script that has written once go on writing over maxmemory,
// and DEL and HDEL are allowed when out of memory, so the first write of
// put and add is an HSET or HINCRBY: out of memory, the script fails
// before it changes anything (OOM).

// lib is the common part of the write scripts.
//
//   - live returns the version of the item at key, or 0 if it is absent or
//     expired;
//   - holds evaluates a chatfly.Cond ("" Always, "a" IfAbsent, "x" IfExists,
//     "v" IfVersion(want));
//   - index and unindex keep the partition's index (a sorted set of sort
//     keys, all scored 0, read by lexicographic ranges) and its expiries (a
//     sorted set of the same sort keys scored by Expires, for those that
//     expire) in step with the item, then tidy;
//   - tidy removes up to 8 expired items from both sets (and the items), so
//     that an index never keeps many more sort keys than it has live items,
//     and gives both sets the expiry of their longest-lived item (none if an
//     item never expires), so that a partition whose items all expire goes
//     away with them.
const lib = `
local function live(key, now)
  local f = redis.call('HMGET', key, 'r', 'e')
  if not f[1] then return 0 end
  if f[2] and tonumber(f[2]) <= now then return 0 end
  return tonumber(f[1])
end

local function holds(kind, want, ver)
  if kind == 'a' then return ver == 0 end
  if kind == 'x' then return ver ~= 0 end
  if kind == 'v' then return ver ~= 0 and ver == tonumber(want) end
  return true
end

local function tidy(idx, exps, now)
  local old = redis.call('ZRANGEBYSCORE', exps, '-inf', now, 'LIMIT', 0, 8)
  for _, m in ipairs(old) do
    redis.call('ZREM', idx, m)
    redis.call('ZREM', exps, m)
    redis.call('DEL', idx .. ':' .. m)
  end
  if redis.call('ZCARD', idx) > redis.call('ZCARD', exps) then
    redis.call('PERSIST', idx)
    redis.call('PERSIST', exps)
    return
  end
  local last = redis.call('ZRANGE', exps, -1, -1, 'WITHSCORES')
  if last[2] and tonumber(last[2]) > 0 then
    local at = string.format('%d', tonumber(last[2]))
    redis.call('PEXPIREAT', idx, at)
    redis.call('PEXPIREAT', exps, at)
  end
end

local function index(idx, exps, m, e, now)
  redis.call('ZADD', idx, 0, m)
  if e == '' then
    redis.call('ZREM', exps, m)
  else
    redis.call('ZADD', exps, e, m)
  end
  tidy(idx, exps, now)
end

local function unindex(idx, exps, m, now)
  redis.call('ZREM', idx, m)
  redis.call('ZREM', exps, m)
  tidy(idx, exps, now)
end

-- expire gives the item at key the expiry e ("" never), for Redis to
-- delete it by its own clock too.
local function expire(key, e)
  if e ~= '' and tonumber(e) > 0 then
    redis.call('PEXPIREAT', key, e)
  else
    redis.call('PERSIST', key)
  end
end

-- expired reports whether e ("" never) is not after now.
local function expired(e, now)
  return e ~= '' and tonumber(e) <= now
end
`

// putScript: ARGV = now, sort key, cond kind, cond version, value, expires.
// It returns the new version, or -1 if the condition does not hold. An item
// written already expired is removed at once.
var putScript = redis.NewScript(lib + `
local now, m, e = tonumber(ARGV[1]), ARGV[2], ARGV[6]
local ver = live(KEYS[1], now)
if not holds(ARGV[3], ARGV[4], ver) then return -1 end
ver = ver + 1
if expired(e, now) then
  redis.call('DEL', KEYS[1])
  unindex(KEYS[2], KEYS[3], m, now)
  return ver
end
-- HSET first: the first write of a script decides whether it may run
-- over maxmemory (DEL would let it).
redis.call('HSET', KEYS[1], 'v', ARGV[5], 'r', string.format('%d', ver))
redis.call('HDEL', KEYS[1], 'n')
if e == '' then
  redis.call('HDEL', KEYS[1], 'e')
else
  redis.call('HSET', KEYS[1], 'e', e)
end
expire(KEYS[1], e)
index(KEYS[2], KEYS[3], m, e, now)
return ver
`)

// deleteScript: ARGV = now, sort key, cond kind, cond version. It returns
// 0, or -1 if the condition does not hold.
var deleteScript = redis.NewScript(lib + `
local now, m = tonumber(ARGV[1]), ARGV[2]
if not holds(ARGV[3], ARGV[4], live(KEYS[1], now)) then return -1 end
redis.call('DEL', KEYS[1])
unindex(KEYS[2], KEYS[3], m, now)
return 0
`)

// addScript: ARGV = now, sort key, delta, expires. It returns the new
// counter, as a string.
var addScript = redis.NewScript(lib + `
local now, m, e = tonumber(ARGV[1]), ARGV[2], ARGV[4]
if live(KEYS[1], now) == 0 then
  -- HSET first, as in put; then what an expired item leaves goes.
  redis.call('HSET', KEYS[1], 'n', ARGV[3], 'r', 1)
  redis.call('HDEL', KEYS[1], 'v', 'e')
else
  redis.call('HINCRBY', KEYS[1], 'n', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'r', 1)
end
local n = redis.call('HGET', KEYS[1], 'n')
if expired(e, now) then
  redis.call('DEL', KEYS[1])
  unindex(KEYS[2], KEYS[3], m, now)
  return n
end
if e == '' then
  redis.call('HDEL', KEYS[1], 'e')
else
  redis.call('HSET', KEYS[1], 'e', e)
end
expire(KEYS[1], e)
index(KEYS[2], KEYS[3], m, e, now)
return n
`)

// queryScript: KEYS = {index, expiries}; ARGV = now, min, max (ranges of
// ZRANGEBYLEX), "1" to scan in reverse, limit (0: none). It returns the
// live items in order, five strings each: sort key, v, n, r, e. It removes
// the sort keys of the items it finds gone or expired from the index.
var queryScript = redis.NewScript(`
local now, min, max = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local rev, limit = ARGV[4] == '1', tonumber(ARGV[5])
local idx, exps = KEYS[1], KEYS[2]
local out, count, stale = {}, 0, {}
while true do
  local batch = 256
  if limit > 0 then batch = limit - count end
  local ms
  if rev then
    ms = redis.call('ZREVRANGEBYLEX', idx, max, min, 'LIMIT', 0, batch)
  else
    ms = redis.call('ZRANGEBYLEX', idx, min, max, 'LIMIT', 0, batch)
  end
  for _, m in ipairs(ms) do
    local f = redis.call('HMGET', idx .. ':' .. m, 'v', 'n', 'r', 'e')
    if f[3] and not (f[4] and tonumber(f[4]) <= now) then
      out[#out + 1] = m
      out[#out + 1] = f[1] or ''
      out[#out + 1] = f[2] or '0'
      out[#out + 1] = f[3]
      out[#out + 1] = f[4] or ''
      count = count + 1
    else
      stale[#stale + 1] = m
    end
  end
  if #ms < batch or (limit > 0 and count >= limit) then break end
  if rev then max = '(' .. ms[#ms] else min = '(' .. ms[#ms] end
end
for _, m in ipairs(stale) do
  redis.call('ZREM', idx, m)
  redis.call('ZREM', exps, m)
  redis.call('DEL', idx .. ':' .. m)
end
return out
`)
