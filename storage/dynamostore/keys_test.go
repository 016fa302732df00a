package dynamostore_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/chatfly/chatfly"
	"github.com/chatfly/chatfly/storage/dynamostore"
)

// TestOddSortKeys stores the sort keys that the escaping and the prefix
// ranges of the Store must get right (the empty sort key, keys starting with
// NUL, keys ending in U+10FFFF, keys next to the surrogate gap) and checks
// Get and every Query over them against a model.
func TestOddSortKeys(t *testing.T) {
	keys := []string{
		"", "\x00", "\x00\x00", "\x00a", "a", "a\x00", "a\U0010FFFF", "a\U0010FFFF\U0010FFFF", "a\U0010FFFFz",
		"b", "\uD7FF", "\uD7FFz", "\uE000", "\U0010FFFF", "\U0010FFFF\U0010FFFF", "\U0010FFFFa",
	}
	prefixes := []string{"", "\x00", "\x00\x00", "a", "a\U0010FFFF", "\uD7FF", "\U0010FFFF", "\U0010FFFF\U0010FFFF", "c"}
	cursors := []string{"", "\x00", "\x00a", "a", "a\U0010FFFF", "a\U0010FFFFz", "\uD7FF", "\U0010FFFF", "\U0010FFFFa", "zz"}
	forEachBackend(t, func(t *testing.T, endpoint string) {
		client := newClient(t, endpoint)
		s, err := dynamostore.Open(client, newTable(t, client), nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		const p = "odd"
		for _, k := range keys {
			if _, err := s.Put(ctx, chatfly.Item{Key: chatfly.Key{Partition: p, Sort: k}, Value: []byte(k)}, chatfly.IfAbsent); err != nil {
				t.Fatalf("Put(%q): %v", k, err)
			}
		}
		for _, k := range keys {
			it, err := s.Get(ctx, chatfly.Key{Partition: p, Sort: k})
			if err != nil || it.Sort != k || !bytes.Equal(it.Value, []byte(k)) {
				t.Fatalf("Get(%q) = %q %q, %v", k, it.Sort, it.Value, err)
			}
		}
		sorted := slices.Sorted(slices.Values(keys))
		for _, prefix := range prefixes {
			for _, after := range cursors {
				for _, reverse := range []bool{false, true} {
					for _, limit := range []int{0, 1, 3} {
						q := chatfly.Query{Partition: p, Prefix: prefix, StartAfter: after, Reverse: reverse, Limit: limit}
						items, err := s.Query(ctx, q)
						if err != nil {
							t.Fatalf("%+v: %v", q, err)
						}
						var got []string
						for _, it := range items {
							got = append(got, it.Sort)
						}
						if want := model(sorted, q); !slices.Equal(got, want) {
							t.Errorf("Query{Prefix:%+q StartAfter:%+q Reverse:%v Limit:%d}: got %+q, want %+q", q.Prefix, q.StartAfter, q.Reverse, q.Limit, got, want)
						}
					}
				}
			}
		}
	})
}

// model answers q over the sorted keys.
func model(sorted []string, q chatfly.Query) []string {
	var out []string
	keys := slices.Clone(sorted)
	if q.Reverse {
		slices.Reverse(keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, q.Prefix) {
			continue
		}
		if q.StartAfter != "" && (!q.Reverse && k <= q.StartAfter || q.Reverse && k >= q.StartAfter) {
			continue
		}
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
		out = append(out, k)
	}
	return out
}
