package storagetest

import (
	"cmp"
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/chatfly/chatfly"
)

// naive is a brute-force Storage: a map under one mutex, with a switch to
// plant one bug. With no bug it must pass the suite, which shows that the
// suite does not depend on how memstore happens to work; with each bug the
// suite must fail, which shows that it tests what it claims to.
type naive struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[chatfly.Key]chatfly.Item
	bug string
	// lives counts the lifetimes started: the n-th starts at version
	// n<<32 + 1 (bug version-restarts: at 1, as before versions were
	// fresh per lifetime).
	lives int64
}

// fresh returns the first version of a new lifetime.
func (s *naive) fresh() int64 {
	if s.bug == "version-restarts" {
		return 1
	}
	s.lives++
	return s.lives<<32 + 1
}

func (s *naive) live(k chatfly.Key) (chatfly.Item, bool) {
	it, ok := s.m[k]
	if !ok || s.bug == "expired-exists" {
		return it, ok
	}
	return it, !chatfly.Expired(it.Expires, s.now())
}

func (s *naive) check(cond chatfly.Cond, it chatfly.Item, exists bool) bool {
	switch {
	case s.bug == "ignore-cond":
		return true
	case s.bug == "ignore-version":
		if _, ok := cond.Version(); ok {
			return exists
		}
	}
	if !exists {
		return cond.Holds(nil)
	}
	if v, kind := cond.Value(); kind == "prefix" && s.bug == "prefix-as-value" {
		cond = chatfly.IfValue(v)
	}
	return cond.Holds(&it)
}

func (s *naive) conflict() error {
	if s.bug == "conflict-unwrapped" {
		return errors.New("conflict")
	}
	return chatfly.ErrConflict
}

func (s *naive) Get(ctx context.Context, k chatfly.Key) (chatfly.Item, error) {
	if err := ctx.Err(); err != nil && s.bug != "ignore-ctx" {
		return chatfly.Item{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.live(k)
	if s.bug == "expired-visible" {
		_, ok = s.m[k]
	}
	if !ok {
		if s.bug == "notfound-nil" {
			return chatfly.Item{Key: k}, nil
		}
		return chatfly.Item{}, chatfly.ErrNotFound
	}
	return it, nil
}

func (s *naive) Put(ctx context.Context, item chatfly.Item, cond chatfly.Cond) (int64, error) {
	if err := ctx.Err(); err != nil && s.bug != "ignore-ctx" {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.live(item.Key)
	if !s.check(cond, old, exists) {
		return 0, s.conflict()
	}
	it := chatfly.Item{Key: item.Key, Value: item.Value, Version: old.Version + 1, Expires: item.Expires}
	if !exists {
		it.Version = s.fresh()
	}
	if exists && s.bug == "put-keeps-n" {
		it.N = old.N
	}
	if s.bug == "value-nul-truncated" {
		if i := slices.Index(it.Value, 0); i >= 0 {
			it.Value = it.Value[:i]
		}
	}
	s.m[item.Key] = it
	return it.Version, nil
}

func (s *naive) Delete(ctx context.Context, k chatfly.Key, cond chatfly.Cond) error {
	if err := ctx.Err(); err != nil && s.bug != "ignore-ctx" {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.live(k)
	if _, kind := cond.Value(); kind != "" && s.bug == "value-cond-ignored-delete" {
		cond = chatfly.Always
	}
	if !s.check(cond, old, exists) || (s.bug == "delete-missing-conflict" && !exists) {
		return s.conflict()
	}
	delete(s.m, k)
	return nil
}

func (s *naive) Add(ctx context.Context, k chatfly.Key, delta int64, expires time.Time) (int64, error) {
	if err := ctx.Err(); err != nil && s.bug != "ignore-ctx" {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, exists := s.live(k)
	if s.bug == "add-racy" {
		// Read, then write under a second lock: updates get lost.
		s.mu.Unlock()
		runtime.Gosched()
		s.mu.Lock()
	}
	if !exists {
		it = chatfly.Item{Key: k, Version: s.fresh() - 1}
		if s.bug == "add-keeps-expired-value" {
			it.Value = s.m[k].Value
		}
	}
	it.N += delta
	if !exists || s.bug != "add-keeps-version" {
		it.Version++
	}
	if s.bug != "add-ignores-expires" {
		it.Expires = expires
	}
	if s.bug == "add-drops-value" {
		it.Value = nil
	}
	s.m[k] = it
	return it.N, nil
}

func (s *naive) Query(ctx context.Context, q chatfly.Query) ([]chatfly.Item, error) {
	if err := ctx.Err(); err != nil && s.bug != "ignore-ctx" {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []chatfly.Item
	for k, it := range s.m {
		if k.Partition == q.Partition && (strings.HasPrefix(k.Sort, q.Prefix) || s.bug == "ignore-prefix") {
			all = append(all, it)
		}
	}
	switch s.bug {
	case "query-unsorted":
	case "utf16-order":
		slices.SortFunc(all, func(a, b chatfly.Item) int {
			return slices.Compare(utf16.Encode([]rune(a.Sort)), utf16.Encode([]rune(b.Sort)))
		})
	default:
		slices.SortFunc(all, func(a, b chatfly.Item) int { return cmp.Compare(a.Sort, b.Sort) })
	}
	if q.Reverse && s.bug != "ignore-reverse" {
		slices.Reverse(all)
	}
	var out []chatfly.Item
	for _, it := range all {
		if q.StartAfter != "" {
			after := it.Sort > q.StartAfter
			switch {
			case s.bug == "startafter-inclusive":
				after = it.Sort >= q.StartAfter
				if q.Reverse {
					after = it.Sort <= q.StartAfter
				}
			case q.Reverse && s.bug != "reverse-startafter-ascending":
				after = it.Sort < q.StartAfter
			}
			if !after {
				continue
			}
		}
		if s.bug == "limit-before-expiry" && q.Limit > 0 && len(out) == q.Limit {
			break
		}
		if chatfly.Expired(it.Expires, s.now()) && s.bug != "expired-visible" {
			if s.bug == "limit-before-expiry" {
				out = append(out, chatfly.Item{}) // counts against the limit
			}
			continue
		}
		out = append(out, it)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	if s.bug == "limit-before-expiry" {
		out = slices.DeleteFunc(out, func(it chatfly.Item) bool { return it.Sort == "" })
	}
	return out, nil
}

func (s *naive) GetMany(ctx context.Context, keys []chatfly.Key) ([]chatfly.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	items := make([]chatfly.Item, len(keys))
	for i, k := range keys {
		it, ok := s.live(k)
		if s.bug == "getmany-expired" {
			_, ok = s.m[k]
		}
		if items[i] = (chatfly.Item{Key: k}); ok {
			items[i] = it
		}
	}
	if s.bug == "getmany-unordered" {
		slices.SortFunc(items, func(a, b chatfly.Item) int { return cmp.Compare(a.Sort, b.Sort) })
	}
	return items, nil
}

func (s *naive) WriteMany(ctx context.Context, writes []chatfly.Write) error {
	for _, w := range writes {
		var err error
		switch {
		case w.Delete && s.bug == "writemany-no-delete":
		case w.Delete:
			err = s.Delete(ctx, w.Item.Key, chatfly.Always)
		default:
			n := s.m[w.Item.Key].N
			if err = s.Delete(ctx, w.Item.Key, chatfly.Always); err == nil { // a new lifetime
				_, err = s.Put(ctx, w.Item, chatfly.Always)
			}
			if it, ok := s.m[w.Item.Key]; ok && s.bug == "writemany-keeps-n" {
				it.N = n
				s.m[w.Item.Key] = it
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *naive) Touch(ctx context.Context, k chatfly.Key, expires time.Time, cond chatfly.Cond) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, exists := s.live(k)
	if s.bug == "touch-revives" {
		it, exists = s.m[k]
	}
	if s.bug == "touch-ignores-cond" {
		cond = chatfly.Always
	}
	if !exists || !s.check(cond, it, exists) {
		return s.conflict()
	}
	it.Expires = expires
	if s.bug == "touch-bumps-version" {
		it.Version++
	}
	s.m[k] = it
	return nil
}

func (s *naive) ValueConditions() {}

// bugs maps each bug of naive to a case of the suite that must catch it.
var bugs = map[string]string{
	"ignore-cond":                  "Put/IfAbsent/Existing",
	"ignore-version":               "Put/IfVersion/Stale",
	"conflict-unwrapped":           "Put/IfAbsent/Existing",
	"expired-exists":               "Put/IfAbsent/Expired",
	"expired-visible":              "Get/Expired",
	"notfound-nil":                 "Get/Missing",
	"version-restarts":             "Version/NoABA",
	"add-keeps-version":            "Version/StreamEpoch",
	"put-keeps-n":                  "Put/ResetsCounter",
	"value-nul-truncated":          "Put/Values",
	"delete-missing-conflict":      "Delete/Always/Missing",
	"add-racy":                     "Concurrency/AddGapless",
	"add-keeps-expired-value":      "Add/Expired",
	"add-ignores-expires":          "Add/SetsExpires",
	"add-drops-value":              "Add/KeepsValue",
	"query-unsorted":               "Query/Order",
	"utf16-order":                  "Query/ByteOrder",
	"ignore-prefix":                "Query/Prefix",
	"ignore-reverse":               "Query/Order",
	"startafter-inclusive":         "Query/StartAfter/Ascending",
	"reverse-startafter-ascending": "Query/StartAfter/Descending",
	"limit-before-expiry":          "Query/LimitSkipsExpired",
	"ignore-ctx":                   "Context/Canceled",
	"getmany-unordered":            "Capabilities/Batcher/GetMany",
	"getmany-expired":              "Capabilities/Batcher/GetMany",
	"writemany-keeps-n":            "Capabilities/Batcher/WriteMany",
	"writemany-no-delete":          "Capabilities/Batcher/WriteManyLong",
	"touch-bumps-version":          "Capabilities/Toucher/Expiry",
	"touch-revives":                "Capabilities/Toucher/Absent",
	"touch-ignores-cond":           "Capabilities/Toucher/Cond",
	"prefix-as-value":              "Capabilities/ValueConditioner/Put",
	"value-cond-ignored-delete":    "Capabilities/ValueConditioner/Delete",
}

const bugEnv = "STORAGETEST_NAIVE_BUG"

// TestNaive runs the suite against naive, with the bug named by
// $STORAGETEST_NAIVE_BUG, if any.
func TestNaive(t *testing.T) {
	bug := os.Getenv(bugEnv)
	if _, ok := bugs[bug]; bug != "" && !ok {
		t.Fatalf("unknown bug %q", bug)
	}
	RunConformanceTests(t, HarnessFunc(func(context.Context, *testing.T) (*Env, error) {
		c := NewFakeClock(time.Time{})
		return &Env{Storage: &naive{now: c.Now, m: make(map[chatfly.Key]chatfly.Item), bug: bug}, Clock: c}, nil
	}))
}

// TestSuiteCatchesBugs runs TestNaive with each bug in a child process, and
// checks that the case meant to catch it fails.
func TestSuiteCatchesBugs(t *testing.T) {
	if os.Getenv(bugEnv) != "" {
		t.Skip("in a child process")
	}
	if testing.Short() {
		t.Skip("runs the suite once per planted bug")
	}
	for bug, want := range bugs {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestNaive$", "-test.v", "-test.timeout=2m")
			cmd.Env = append(os.Environ(), bugEnv+"="+bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a Storage with bug %s", bug)
			}
			if !strings.Contains(string(out), "--- FAIL: TestNaive/"+want+" ") {
				t.Fatalf("bug %s was not caught by %s; output:\n%s", bug, want, out)
			}
		})
	}
}
