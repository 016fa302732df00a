package dynamostore

import (
	"math/rand/v2"
	"time"
)

// The first version of a lifetime (see "Versions" in the package doc).
const (
	// versionEpoch is 2025-01-01T00:00:00Z in Unix milliseconds.
	versionEpoch = 1735689600000
	// windowBits: starts are counted in windows of 2^13 ms (8.192 s) of
	// the writer's clock.
	windowBits = 13
	// offsetBits: the versions of the lifetimes started in window w are
	// w<<offsetBits plus a random offset below 2^24, plus their writes.
	offsetBits = 25
)

// freshVersion returns the first version of a new lifetime, by the real
// clock of the host (never Options.Now: a fake clock must not repeat
// versions).
func freshVersion() int64 {
	w := max(time.Now().UnixMilli()-versionEpoch, 0) >> windowBits
	return w<<offsetBits + 1 + rand.Int64N(1<<(offsetBits-1))
}
