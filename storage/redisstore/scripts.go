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
//	e  Item.Expires in Unix milliseconds (absent: never; "0" in a tombstone)
//
// Counters and versions stay strings (HINCRBY, then HGET; versions are
// compared as strings): Lua numbers are doubles, exact only up to 2^53,
// which a counter may pass.
//
// Redis lets a script that has written once go on writing over maxmemory,
// and DEL and HDEL are allowed when out of memory, so the first write of
// put, add and touch is an HSET or HINCRBY, and that of delete an HDEL: out
// of memory, a script that would grow the data fails before it changes
// anything (OOM), and one that deletes runs.

// lib is the common part of the scripts.
//
//   - state returns the version of the item at key ("r", false if no trace
//     of the key is left) and whether the item is live (not expired);
//   - holds evaluates a chatfly.Cond ("" and "f" Always, "a" IfAbsent, "x"
//     IfExists, "v" IfVersion(want), "=" IfValue(want), "^" IfPrefix(want));
//   - fresh gives the item the first version of a new lifetime: one the
//     key never had (see the package doc, Versions);
//   - tomb turns a deleted or expired item into a tombstone (its version
//     only, already expired) that Redis deletes GRACE ms later;
//   - index and unindex keep the partition's index (a sorted set of sort
//     keys, all scored 0, read by lexicographic ranges) and its expiries (a
//     sorted set of the same sort keys scored by Expires, for those that
//     expire) in step with the item, then tidy;
//   - tidy tombs up to 8 expired items and removes them from both sets, so
//     that an index never keeps many more sort keys than it has live items,
//     and gives both sets the expiry of their longest-lived item (none if an
//     item never expires), so that a partition whose items all expire goes
//     away with them.
const lib = `
local EPOCH, SHIFT, GRACE = 1735689600, 4194304, 10000

-- clock returns the Redis server's time in seconds and in milliseconds.
local srv
local function clock()
  if not srv then
    local t = redis.call('TIME')
    srv = {tonumber(t[1]), tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}
  end
  return srv[1], srv[2]
end

local function state(key, now)
  local f = redis.call('HMGET', key, 'r', 'e')
  return f[1], (f[1] and not (f[2] and tonumber(f[2]) <= now)) or false
end

local function holds(kind, want, key, live, r)
  if kind == '' or kind == 'f' then return true end
  if kind == 'a' then return not live end
  if not live then return false end
  if kind == 'x' then return true end
  if kind == 'v' then return r == want end
  local v = redis.call('HGET', key, 'v') or ''
  if kind == '=' then return v == want end
  return string.sub(v, 1, #want) == want
end

-- greater reports whether a > b, both decimal strings of integers >= 0
-- without leading zeros.
local function greater(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end

-- fresh sets the version of the item at key, whose last version is r
-- (false: none left), to the greater of r + 1 and the server's second
-- since EPOCH shifted into the high bits, and returns it.
local function fresh(key, r)
  local s = clock()
  local seed = string.format('%d', (s - EPOCH) * SHIFT)
  if r and not greater(seed, r) then
    redis.call('HINCRBY', key, 'r', 1)
    return redis.call('HGET', key, 'r')
  end
  redis.call('HSET', key, 'r', seed)
  return seed
end

-- tomb makes a tombstone of the item at key if it holds a value or a
-- counter (an item does; a tombstone or a missing key does not).
local function tomb(key)
  if redis.call('HDEL', key, 'v', 'n') == 0 then return end
  redis.call('HSET', key, 'e', '0')
  local _, ms = clock()
  redis.call('PEXPIREAT', key, string.format('%d', ms + GRACE))
end

local function tidy(idx, exps, now)
  local old = redis.call('ZRANGEBYSCORE', exps, '-inf', now, 'LIMIT', 0, 8)
  for _, m in ipairs(old) do
    redis.call('ZREM', idx, m)
    redis.call('ZREM', exps, m)
    tomb(idx .. ':' .. m)
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

-- expire sets the field e of the live item at key to e ("" never) and
-- gives the hash a Redis expiry: at e, but not sooner than GRACE ms from
-- now by the server's clock, so that its version outlives the second in
-- which it was written (see fresh).
local function expire(key, e)
  if e == '' then
    redis.call('HDEL', key, 'e')
    redis.call('PERSIST', key)
    return
  end
  redis.call('HSET', key, 'e', e)
  local _, ms = clock()
  redis.call('PEXPIREAT', key, string.format('%d', math.max(tonumber(e), ms + GRACE)))
end

-- expired reports whether e ("" never) is not after now.
local function expired(e, now)
  return e ~= '' and tonumber(e) <= now
end

-- gone tombs the item at key, just written already expired, and removes
-- it from the sets of its partition.
local function gone(keys, m, now)
  tomb(keys[1])
  unindex(keys[2], keys[3], m, now)
end
`

// putScript: ARGV = now, sort key, cond kind, cond argument, value,
// expires. It returns the new version (a string), or -1 if the condition
// does not hold. Cond kind "f" (WriteMany) starts a new lifetime even over
// a live item. An item written already expired becomes a tombstone at once.
var putScript = redis.NewScript(lib + `
local now, m, e = tonumber(ARGV[1]), ARGV[2], ARGV[6]
local r, live = state(KEYS[1], now)
if not holds(ARGV[3], ARGV[4], KEYS[1], live, r) then return -1 end
local ver
if live and ARGV[3] ~= 'f' then
  redis.call('HINCRBY', KEYS[1], 'r', 1)
  ver = redis.call('HGET', KEYS[1], 'r')
else
  ver = fresh(KEYS[1], r)
end
redis.call('HSET', KEYS[1], 'v', ARGV[5])
redis.call('HDEL', KEYS[1], 'n')
if expired(e, now) then
  gone(KEYS, m, now)
  return ver
end
expire(KEYS[1], e)
index(KEYS[2], KEYS[3], m, e, now)
return ver
`)

// deleteScript: ARGV = now, sort key, cond kind, cond argument. It returns
// 0, or -1 if the condition does not hold. What is left of the item is a
// tombstone.
var deleteScript = redis.NewScript(lib + `
local now, m = tonumber(ARGV[1]), ARGV[2]
local r, live = state(KEYS[1], now)
if not holds(ARGV[3], ARGV[4], KEYS[1], live, r) then return -1 end
tomb(KEYS[1])
unindex(KEYS[2], KEYS[3], m, now)
return 0
`)

// addScript: ARGV = now, sort key, delta, expires. It returns the new
// counter, as a string.
var addScript = redis.NewScript(lib + `
local now, m, e = tonumber(ARGV[1]), ARGV[2], ARGV[4]
local r, live = state(KEYS[1], now)
if live then
  redis.call('HINCRBY', KEYS[1], 'n', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'r', 1)
else
  fresh(KEYS[1], r)
  redis.call('HSET', KEYS[1], 'n', ARGV[3])
  redis.call('HDEL', KEYS[1], 'v')
end
local n = redis.call('HGET', KEYS[1], 'n')
if expired(e, now) then
  gone(KEYS, m, now)
  return n
end
expire(KEYS[1], e)
index(KEYS[2], KEYS[3], m, e, now)
return n
`)

// touchScript: ARGV = now, sort key, cond kind, cond argument, expires. It
// returns 0, or -1 if the item is not live or the condition does not hold.
// It changes the expiry only, in the hash and in the expiries.
var touchScript = redis.NewScript(lib + `
local now, m, e = tonumber(ARGV[1]), ARGV[2], ARGV[5]
local r, live = state(KEYS[1], now)
if not live or not holds(ARGV[3], ARGV[4], KEYS[1], live, r) then return -1 end
if expired(e, now) then
  gone(KEYS, m, now)
  return 0
end
expire(KEYS[1], e)
index(KEYS[2], KEYS[3], m, e, now)
return 0
`)

// queryScript: KEYS = {index, expiries}; ARGV = now, min, max (ranges of
// ZRANGEBYLEX), "1" to scan in reverse, limit (0: none). It returns the
// live items in order, five strings each: sort key, v, n, r, e. It removes
// the sort keys of the items it finds gone or expired from the index, and
// tombs the expired ones.
var queryScript = redis.NewScript(lib + `
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
  tomb(idx .. ':' .. m)
end
return out
`)
