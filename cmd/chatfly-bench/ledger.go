package main

import (
	"sync"
	"time"
)

// This file holds the delivery accounting: what each sender had confirmed
// by the server, and what each receiver got from each sender. Loss,
// duplicates and reordering are counted per (receiver, sender) pair, by the
// per-sender sequence number every benchmark message carries.

// seqSet is a set of sequence numbers >= 1, as a bitmap.
type seqSet struct {
	words []uint64
	n     int
}

// add inserts seq and reports whether it was already present.
func (s *seqSet) add(seq int64) (dup bool) {
	if seq < 1 {
		return false
	}
	w, bit := int((seq-1)/64), uint64(1)<<uint((seq-1)%64)
	for w >= len(s.words) {
		s.words = append(s.words, 0)
	}
	if s.words[w]&bit != 0 {
		return true
	}
	s.words[w] |= bit
	s.n++
	return false
}

// has reports whether seq is in the set.
func (s *seqSet) has(seq int64) bool {
	if s == nil || seq < 1 {
		return false
	}
	w, bit := int((seq-1)/64), uint64(1)<<uint((seq-1)%64)
	return w < len(s.words) && s.words[w]&bit != 0
}

// each calls f for every seq in the set, in increasing order.
func (s *seqSet) each(f func(seq int64)) {
	for w, word := range s.words {
		for b := range 64 {
			if word&(1<<uint(b)) != 0 {
				f(int64(w*64 + b + 1))
			}
		}
	}
}

// sendLedger is what one sender sent in a phase. Only its sender goroutine
// writes it; the mutex orders that with the final tally.
type sendLedger struct {
	mu        sync.Mutex
	next      int64  // the seq of the next message
	confirmed seqSet // messages the server acknowledged ("sent")
	failed    int64  // sends answered with an error or not answered
	measured  int64  // confirmed messages scheduled in the measured window
}

// nextSeq returns the sequence number of the sender's next message.
func (l *sendLedger) nextSeq() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	return l.next
}

// done records the outcome of the send of seq.
func (l *sendLedger) done(seq int64, ok, measured bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !ok {
		l.failed++
		return
	}
	l.confirmed.add(seq)
	if measured {
		l.measured++
	}
}

// fromSender is what one receiver got from one sender.
type fromSender struct {
	got    seqSet
	maxSeq int64
}

// recvLedger is what one receiver got in a phase. Its consumer goroutine
// writes it; the mutex orders that with the final tally.
type recvLedger struct {
	mu        sync.Mutex
	from      map[int]*fromSender
	lat       histogram // latency of first deliveries of measured messages
	unique    int64     // first deliveries
	measured  int64     // first deliveries of measured messages
	dups      int64     // deliveries of a (sender, seq) already received
	reordered int64     // first deliveries after a greater seq of the same sender
}

// record accounts one delivery of message (sender, seq). lat is its latency
// and measured tells whether it was scheduled in the measured window (after
// the warm-up): only those count in the latency histogram and throughput.
// It reports whether this was the first delivery of the message.
func (l *recvLedger) record(sender int, seq int64, measured bool, lat time.Duration) (first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.from == nil {
		l.from = make(map[int]*fromSender)
	}
	fs := l.from[sender]
	if fs == nil {
		fs = &fromSender{}
		l.from[sender] = fs
	}
	if fs.got.add(seq) {
		l.dups++
		return false
	}
	l.unique++
	if seq < fs.maxSeq {
		l.reordered++
	}
	fs.maxSeq = max(fs.maxSeq, seq)
	if measured {
		l.measured++
		l.lat.record(lat)
	}
	return true
}

// tally is the accounting of one phase over every receiver.
type tally struct {
	Expected    int64 // confirmed messages × the other members of their room
	Delivered   int64 // first deliveries (of confirmed messages or not)
	Lost        int64 // expected deliveries that never came
	Duplicated  int64 // deliveries beyond the first of a message
	Reordered   int64 // deliveries that came after a later one of the same sender
	Measured    int64 // first deliveries of messages of the measured window
	Unconfirmed int64 // deliveries of messages whose send reported an error
	SendFailed  int64 // sends that got an error or no reply
	lat         histogram
}

// account computes the tally of a phase. rooms lists the member indexes of
// each room; sends and recvs are indexed by member.
func account(rooms [][]int, sends []*sendLedger, recvs []*recvLedger) tally {
	var t tally
	for _, s := range sends {
		s.mu.Lock()
		t.SendFailed += s.failed
		s.mu.Unlock()
	}
	for _, members := range rooms {
		for _, r := range members {
			rl := recvs[r]
			rl.mu.Lock()
			t.Delivered += rl.unique
			t.Duplicated += rl.dups
			t.Reordered += rl.reordered
			t.Measured += rl.measured
			t.lat.merge(&rl.lat)
			for _, s := range members {
				if s == r {
					continue
				}
				sl := sends[s]
				sl.mu.Lock()
				got := rl.from[s]
				t.Expected += int64(sl.confirmed.n)
				sl.confirmed.each(func(seq int64) {
					if got == nil || !got.got.has(seq) {
						t.Lost++
					}
				})
				if got != nil {
					got.got.each(func(seq int64) {
						if !sl.confirmed.has(seq) {
							t.Unconfirmed++
						}
					})
				}
				sl.mu.Unlock()
			}
			rl.mu.Unlock()
		}
	}
	return t
}
