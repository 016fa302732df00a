package wstransport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/chatfly/chatfly/internal/wsframe"
)

// frame returns a whole server frame (unmasked) with opcode op and payload p.
func frame(op byte, p []byte) []byte {
	return append(wsframe.AppendHeader(nil, op, len(p)), p...)
}

// parseFrames splits a stream of unmasked frames into their opcodes and
// payloads, failing on a truncated or malformed stream.
func parseFrames(t *testing.T, b []byte) (ops []byte, payloads [][]byte) {
	t.Helper()
	for len(b) > 0 {
		if len(b) < 2 || b[1]&0x80 != 0 {
			t.Fatalf("bad header at %q", b)
		}
		n, h := int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, h = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, h = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if len(b) < h+n {
			t.Fatalf("frame of %d bytes truncated to %d", n, len(b)-h)
		}
		ops = append(ops, b[0]&0x0f)
		payloads = append(payloads, b[h:h+n])
		b = b[h+n:]
	}
	return ops, payloads
}

// pipeConn returns a lazyConn writing into one end of a pipe, and a
// function that returns everything read from the other end once the
// lazyConn is closed.
func pipeConn(t *testing.T) (*lazyConn, func() []byte) {
	a, b := net.Pipe()
	lc := newLazyConn(a, New(nil))
	var got bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(&got, b) })
	t.Cleanup(func() { lc.Close(); b.Close(); wg.Wait() })
	return lc, func() []byte {
		lc.Close()
		wg.Wait()
		return got.Bytes()
	}
}

// TestWriteMessagesWaitsForFrameBoundary starts a batch while the WebSocket
// library is in the middle of a frame (a frame longer than its 64-byte
// write buffer comes in pieces): the batch must wait for the frame to be
// complete, not land inside it.
func TestWriteMessagesWaitsForFrameBoundary(t *testing.T) {
	lc, read := pipeConn(t)
	long := bytes.Repeat([]byte("r"), 125)
	lib := frame(0x9, long) // a ping with the longest payload
	if _, err := lc.Write(lib[:40]); err != nil {
		t.Fatal(err)
	}
	batch := append(frame(0x1, []byte("one")), frame(0x1, []byte("two"))...)
	done := make(chan error, 1)
	go func() { done <- lc.writeMessages(batch) }()
	waitForBatch(t, lc)
	if _, err := lc.Write(lib[40:]); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ops, payloads := parseFrames(t, read())
	if len(ops) != 3 || ops[0] != 0x9 || !bytes.Equal(payloads[0], long) || string(payloads[1]) != "one" || string(payloads[2]) != "two" {
		t.Fatalf("stream: ops %v payloads %q", ops, payloads)
	}
}

// TestWriteMessagesAfterClose checks that nothing follows a close frame and
// that a batch waiting for a frame boundary is released by Close.
func TestWriteMessagesAfterClose(t *testing.T) {
	lc, read := pipeConn(t)
	if _, err := lc.Write(frame(wsframe.OpClose, []byte{0x03, 0xe8})); err != nil {
		t.Fatal(err)
	}
	if err := lc.writeMessages(frame(0x1, []byte("late"))); !errors.Is(err, net.ErrClosed) {
		t.Errorf("writeMessages after a close frame: %v, want net.ErrClosed", err)
	}
	if ops, _ := parseFrames(t, read()); len(ops) != 1 {
		t.Errorf("%d frames on the wire, want the close frame alone", len(ops))
	}

	lc2, _ := pipeConn(t)
	if _, err := lc2.Write([]byte{0x81, 100, 'x'}); err != nil { // a frame begun, never finished
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- lc2.writeMessages(frame(0x1, []byte("stuck"))) }()
	waitForBatch(t, lc2)
	lc2.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("writeMessages released by Close: %v, want net.ErrClosed", err)
	}
}

// waitForBatch waits until a writeMessages call of lc waits for a frame
// boundary (failing after 15 s).
func waitForBatch(t *testing.T, lc *lazyConn) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		lc.wmu.Lock()
		w := lc.waiting
		lc.wmu.Unlock()
		if w > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("writeMessages did not wait for the frame boundary")
		}
		time.Sleep(time.Millisecond)
	}
}
