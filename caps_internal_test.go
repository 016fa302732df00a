package chatfly

import (
	"context"
	"errors"
	"testing"
	"time"
)

// failingGets is a Storage without optional capabilities whose reads fail.
type failingGets struct{ Storage }

var errRead = errors.New("read failed")

func (failingGets) Get(context.Context, Key) (Item, error) { return Item{}, errRead }

// nopTransport drops every frame.
type nopTransport struct{}

func (nopTransport) Send(context.Context, string, []byte) error             { return nil }
func (nopTransport) Close(context.Context, string, CloseCode, string) error { return nil }

// A guarded write that must read first (a value condition on a Storage that
// cannot evaluate it) reports the failed read as its error, for every op,
// instead of indexing the missing result.
func TestApplyGuardedFailedRead(t *testing.T) {
	h := New(failingGets{}, nopTransport{}, nil)
	ops := []guarded{
		{key: Key{Partition: "p", Sort: "a"}, cond: IfValue([]byte("x")), del: true},
		{key: Key{Partition: "p", Sort: "b"}, cond: IfPrefix([]byte("y")), expires: time.Unix(1e9, 0)},
	}
	for i, err := range h.applyGuarded(context.Background(), ops) {
		if !errors.Is(err, errRead) {
			t.Errorf("op %d: err = %v, want the read's error", i, err)
		}
	}
}
