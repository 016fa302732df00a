package wsframe

import (
	"bytes"
	"slices"
	"testing"
)

func frame(op byte, p []byte) []byte { return append(AppendHeader(nil, op, len(p)), p...) }

// TestTrackerFollowsSplitWrites feeds a Tracker a stream of frames of every
// header size (and a masked one, as a client sends), cut into pieces of
// every size from 1 byte, and checks that it is between frames exactly at
// the frame boundaries and reports every header once.
func TestTrackerFollowsSplitWrites(t *testing.T) {
	var stream []byte
	var want []Header
	bounds := map[int]bool{0: true}
	for _, n := range []int{0, 5, 125, 126, 300, 0xffff, 0x10000} {
		stream = append(stream, frame(OpText, bytes.Repeat([]byte("x"), n))...)
		want = append(want, Header{OpText, uint64(n)})
		bounds[len(stream)] = true
	}
	stream = append(stream, 0x89, 0x80|3, 1, 2, 3, 4, 'a', 'b', 'c') // a masked ping
	want = append(want, Header{OpPing, 3})
	bounds[len(stream)] = true
	stream = append(stream, frame(OpClose, []byte{0x03, 0xe8})...)
	want = append(want, Header{OpClose, 2})
	bounds[len(stream)] = true
	for _, step := range []int{1, 2, 3, 7, 64, 4096} {
		var tr Tracker
		var got []Header
		for i := 0; i < len(stream); i += step {
			end := min(i+step, len(stream))
			tr.Feed(stream[i:end], func(h Header) { got = append(got, h) })
			if tr.MidFrame() == bounds[end] {
				t.Fatalf("step %d: at %d MidFrame=%v, boundary=%v", step, end, tr.MidFrame(), bounds[end])
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("step %d: headers %v, want %v", step, got, want)
		}
	}
}

func TestAppendHeader(t *testing.T) {
	for n, want := range map[int][]byte{
		0:       {0x81, 0},
		125:     {0x81, 125},
		126:     {0x81, 126, 0, 126},
		0xffff:  {0x81, 126, 0xff, 0xff},
		0x10000: {0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0},
	} {
		if got := AppendHeader(nil, OpText, n); !bytes.Equal(got, want) {
			t.Errorf("AppendHeader(%d) = %x, want %x", n, got, want)
		}
	}
}
