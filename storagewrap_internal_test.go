package chatfly

import (
	"context"
	"errors"
	"testing"
	"time"
)

// allCaps is a Storage with every optional interface, which records the
// last method called.
type allCaps struct {
	Storage
	called *string
}

func (s allCaps) Scan(context.Context, Query, func(*Item, int) bool) error {
	*s.called = "Scan"
	return nil
}

func (s allCaps) GetMany(context.Context, []Key) ([]Item, error) {
	*s.called = "GetMany"
	return nil, nil
}

func (s allCaps) WriteMany(context.Context, []Write) error {
	*s.called = "WriteMany"
	return nil
}

func (s allCaps) Touch(context.Context, Key, time.Time, Cond) error {
	*s.called = "Touch"
	return errors.New("touch failed")
}

func (s allCaps) ValueConditions() { *s.called = "ValueConditions" }

// capsOf returns the optional interfaces s implements, as withCaps's bits.
func capsOf(s Storage) int {
	caps := 0
	if _, ok := s.(Scanner); ok {
		caps |= 1
	}
	if _, ok := s.(Batcher); ok {
		caps |= 2
	}
	if _, ok := s.(Toucher); ok {
		caps |= 4
	}
	if _, ok := s.(ValueConditioner); ok {
		caps |= 8
	}
	return caps
}

// TestWrapStorage: for every set of capabilities, the wrapped Storage has
// exactly that set and its methods are the wrapper's; WrapStorage keeps
// what both the wrapper and the inner Storage have.
func TestWrapStorage(t *testing.T) {
	ctx := context.Background()
	var called string
	w := allCaps{called: &called}
	for caps := range 16 {
		s := withCaps(w, caps, w, w, w, w)
		if got := capsOf(s); got != caps {
			t.Errorf("withCaps(%04b) has capabilities %04b", caps, got)
		}
		for bit, call := range map[int]func(){
			1: func() { _ = s.(Scanner).Scan(ctx, Query{}, nil) },
			2: func() { _, _ = s.(Batcher).GetMany(ctx, nil) },
			4: func() { _ = s.(Toucher).Touch(ctx, Key{}, time.Time{}, Always) },
			8: func() { s.(ValueConditioner).ValueConditions() },
		} {
			if caps&bit != 0 {
				called = ""
				call()
				if called == "" {
					t.Errorf("withCaps(%04b): capability %04b does not reach the wrapper", caps, bit)
				}
			}
		}
		// The intersection: a wrapper with every capability over a
		// Storage with caps, and a plain wrapper over one with all.
		if got := capsOf(WrapStorage(w, s)); got != caps {
			t.Errorf("WrapStorage over capabilities %04b has %04b", caps, got)
		}
		if got := capsOf(WrapStorage(s, w)); got != caps {
			t.Errorf("WrapStorage of a wrapper with capabilities %04b has %04b", caps, got)
		}
	}
}

// failures is an Observer that keeps the operations of failures.
type failures struct{ ops []string }

func (f *failures) Frame(context.Context, FrameStats)     {}
func (f *failures) Failure(_ context.Context, fl Failure) { f.ops = append(f.ops, fl.Op) }

// TestObservedCapabilities: the Observer's wrapper has the capabilities of
// the Storage it wraps, counts a call to one as a storage call of the frame,
// and reports its failure under its own name.
func TestObservedCapabilities(t *testing.T) {
	var called string
	w := allCaps{called: &called}
	obs := new(failures)
	for caps := range 16 {
		if got := capsOf(observed(withCaps(w, caps, w, w, w, w), obs)); got != caps {
			t.Errorf("observed over capabilities %04b has %04b", caps, got)
		}
	}
	fo := &frameObs{}
	ctx := context.WithValue(context.Background(), frameObsKey{}, fo)
	s := observed(w, obs)
	_, _ = s.(Batcher).GetMany(ctx, nil)
	_ = s.(Toucher).Touch(ctx, Key{}, time.Time{}, Always)
	if n := fo.calls.Load(); n != 2 || called != "Touch" {
		t.Errorf("%d storage calls counted (last call %s), want 2", n, called)
	}
	if len(obs.ops) != 1 || obs.ops[0] != "storage.Touch" {
		t.Errorf("failures reported: %v, want storage.Touch", obs.ops)
	}
}
