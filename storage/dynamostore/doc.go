// Package dynamostore is a [chatfly.Storage] over one Amazon DynamoDB table.
//
// Use [Open] with an SDK client that you configured (region, credentials,
// endpoint): the package never builds one. Use [CreateTable] to create the
// table in tests and local development; table.yaml in this package's
// directory is the same table as a CloudFormation resource, for
// infrastructure code.
//
//	cfg, err := config.LoadDefaultConfig(ctx)
//	...
//	store, err := dynamostore.Open(dynamodb.NewFromConfig(cfg), "chatfly", nil)
//	hub := chatfly.New(store, transport, nil)
//
// # Table
//
// Every item of chatfly lives in one table (a single-table design). The
// chatfly core chooses the keys; the store maps a [chatfly.Key] to the
// table's primary key as it is, partition = Key.Partition and
// sort = Key.Sort, so that the items of one partition (a room's members,
// its messages) are read together by one Query, in sort key order. For
// example the core may keep a connection at conn#<id>, and a room's
// messages and members at room#<id> with sort keys msg#<seq> and
// mem#<session>. The table has no secondary index.
//
//	attribute  type  role
//	---------  ----  -----------------------------------------------------------
//	pk         S     partition key (HASH): Key.Partition, which must not be empty
//	sk         S     sort key (RANGE): Key.Sort, escaped (see below)
//	v          B     Item.Value; NULL when the value is empty
//	n          N     Item.N, the counter of Add (0 after a Put)
//	ver        N     Item.Version: fresh when created (see Versions), +1 on every
//	                 Put and Add
//	exp        N     Item.Expires in Unix seconds, or NeverExpires (9999-12-31)
//	                 when it never expires; the table's Time to Live attribute
//
// DynamoDB rejects an empty key attribute, so an empty Key.Sort is stored as
// "\x00", and a sort key that starts with "\x00" gets one more "\x00" in
// front; every other sort key is stored unchanged. The escaping keeps the
// order and the prefixes of sort keys. Keys are limited by DynamoDB to 2048
// bytes (partition) and 1024 bytes (sort, as stored), and must be valid
// UTF-8.
//
// Every item the store writes has all of v, n, ver and exp, so that every
// write is a whole-item SET and no update expression needs REMOVE.
//
// # Expiry
//
// Items expire when exp is not after the store's clock ([Options.Now]).
// DynamoDB's TTL deletes them in the background, up to days late, so the
// store never relies on it: every read (GetItem, Query) drops expired items,
// and every condition treats an expired item as absent:
//
//	IfAbsent      attribute_not_exists(pk) OR exp <= :now
//	IfExists      attribute_exists(pk) AND (attribute_not_exists(exp) OR exp > :now)
//	IfVersion(v)  ver = :v AND (attribute_not_exists(exp) OR exp > :now)
//	IfValue(v)    <IfExists> AND v = :v (v binary; an empty v: v is NULL or missing)
//	IfPrefix(p)   <IfExists> AND begins_with(v, :p) (an empty p: <IfExists>)
//
// (attribute_not_exists(exp) keeps items written by other tools without exp
// alive forever.) Expiry is kept in whole seconds: Expires is rounded down.
//
// # Versions
//
// A version never repeats for a key (see [chatfly.Item.Version]), although
// a deleted item leaves nothing to count from and the store reads nothing
// before it writes: the write that starts a lifetime (Put IfAbsent, Put
// Always or Add over a missing or expired item) stores a fresh version
// computed in the process,
//
//	w·2^25 + r    w: windows of 8.192 s since 2025-01-01 UTC, by the host's clock
//	              r: random, 1 to 2^24
//
// in the same request (PutItem's ver, or UpdateItem's
// if_not_exists(ver, start-1) + 1), and every later Put and Add of the
// lifetime adds one. DynamoDB takes at most 1,000 writes per second on one
// item, so a lifetime's versions grow by at most 8,192 per window while
// starts grow by 2^25: the versions of two lifetimes whose starts fall in
// different windows never meet, whatever order the writes land in (a
// lifetime started from a clock a window behind would need 2^24 writes,
// over 4.6 hours at that limit, to reach the versions of the other). Two
// lifetimes that start in the same window (a key deleted and recreated
// within seconds, or writers whose clocks straddle a window's edge) differ
// by r: a version held from one matches one of the other with a
// probability of (writes of the other + 1) / 2^24, below one in a million
// for the short-lived items that are recreated that fast. Versions stay
// below 2^53, exact in a JSON number, until 2094. Items written before
// this scheme keep counting from their small versions, which no fresh
// version reaches.
//
// # Cost per operation
//
// Each method is a fixed, small number of single-item requests, never a
// Scan and never a transaction (TransactWriteItems is not used). Reads are
// strongly consistent, so a read costs one read unit per 4 KB (rounded up,
// at least one unit, including for a missing item); a write costs one write
// unit per 1 KB of the larger of the old and the new item, also when its
// condition fails.
//
//	method               requests          more requests, only
//	-------------------  ----------------  -----------------------------------
//	Get                  1 GetItem         -
//	Put IfAbsent         1 PutItem         -
//	Put IfVersion(v)     1 PutItem         -
//	Put IfExists         1 UpdateItem      -
//	Put IfValue/IfPrefix 1 UpdateItem      -
//	Put Always           1 UpdateItem      over an expired leftover: 1 PutItem
//	Delete               1 DeleteItem      -
//	Add                  1 UpdateItem      over an expired leftover: 1 PutItem
//	Query                1 Query per page  see below
//	Touch                1 UpdateItem      - (IfAbsent: none, it never holds)
//	GetMany (n keys)     ceil(n/100)       1 more per round of unprocessed keys
//	                     BatchGetItem
//	WriteMany (n)        ceil(n/25)        1 more per round of unprocessed items
//	                     BatchWriteItem
//
// The Store implements every optional capability of chatfly.Storage:
// [chatfly.Batcher] (GetMany reads strongly consistent, and the requests of
// a long batch go one after the other), [chatfly.Toucher] (an UpdateItem
// that sets exp alone, conditioned on a live item) and
// [chatfly.ValueConditioner] (the conditions above: no read first). A
// batch costs the capacity of the same single-item requests, in fewer
// round trips; what DynamoDB leaves unprocessed is sent again after the
// backoff of the Options' retries, at most MaxAttempts requests in all,
// then the call fails with chatfly.ErrUnavailable (the rest of a
// WriteMany may have been applied). A WriteMany Put writes the whole item,
// with a fresh version: a new lifetime, also over a live item.
//
// Put Always and IfExists use UpdateItem because the new version is the
// stored one plus one, which only UpdateItem can read and write in one
// request; it returns the new item's updated attributes, the value
// included (bandwidth, not capacity).
//
// Query reads one page per request, of at most 1 MB, and asks for the next
// one until the range is exhausted or q.Limit items passed the expiry
// filter. It sends q.Limit (minus the items it already has) as the request's
// Limit, so that reading the last 50 messages of a room reads 50 items,
// not the room's history. Expired items are dropped by a FilterExpression,
// which DynamoDB applies after reading: until TTL deletes them, expired
// items in the queried range still cost read capacity, and can make Query
// ask for another page. A prefix and a cursor (StartAfter) together become
// one BETWEEN key condition whose bounds the store drops.
//
// Add and Put Always over an expired leftover loop over a conditional
// UpdateItem and a conditional PutItem, without reading first; each turn
// fails only if another writer changed the item in between, and the loop
// gives up with an error wrapping chatfly.ErrUnavailable after 64 turns.
//
// # Errors
//
// A missing or expired item gives an error wrapping [chatfly.ErrNotFound], a
// failed condition (ConditionalCheckFailedException) one wrapping
// [chatfly.ErrConflict]. An item over DynamoDB's 400 KB item size, or a key
// over its size limits, is refused before it is sent with an error wrapping
// [chatfly.ErrTooLarge]; the store computes the size as DynamoDB does
// (attribute names plus values, numbers at their largest), and maps
// DynamoDB's own size ValidationException to ErrTooLarge too. Throttling
// (ProvisionedThroughputExceededException, ThrottlingException,
// RequestLimitExceeded), 5xx answers and broken connections are retried by
// the SDK client's retryer with the store's exponential backoff and full
// jitter ([Options.MaxAttempts], [Options.BaseBackoff],
// [Options.MaxBackoff]); what is left after the retries is wrapped in
// [chatfly.ErrUnavailable]. The SDK's error stays in the chain for
// errors.As. An error caused by the caller's context is returned as it is.
//
// Retries of writes: a throttled request was not applied, so retrying it is
// safe. A request that timed out, lost its connection or got a 5xx answer
// may have been applied, and its retry then meets the already written item:
// a conditional Put or Delete reports chatfly.ErrConflict although it took
// effect, and Add skips a number (each number is still handed out at most
// once). DynamoDB offers idempotency tokens only for transactions, which
// the store does not use; set MaxAttempts to 1 to leave every retry to the
// caller.
//
// # Emulators
//
// The tests run the storagetest conformance suite against two
// DynamoDB-compatible servers: minidyn (github.com/truora/minidyn, in
// process) and dynalite (npm, pinned in the module's package.json). The
// store uses only what both implement, which shaped two choices above: an
// empty value is stored as NULL (minidyn cannot store an empty binary) and
// "never expires" as a far-future exp (minidyn ignores REMOVE in update
// expressions). CreateTable ignores the "unknown operation" answer both
// give to UpdateTimeToLive.
package dynamostore
