package transport_test

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// A small message sent while nothing else waits for the peer is written
// to the stream by the sender, not handed to the queue's goroutine.
func TestIdleSendIsWrittenByTheCaller(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxT(t)
	a, rec := c.nodes["a"], c.recs["b"]
	const n = 50
	for i := range n + 1 {
		if err := a.Send(ctx, "b", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		await.Until(t, fmt.Sprintf("message %d arrives", i), func() bool { return rec.count("a") == i+1 })
		// Arrived is not yet idle: the queue's goroutine counts a
		// message written only after its write returns.
		await.Until(t, "the queue is idle", func() bool { return a.Queued("b") == 0 })
	}
	// The first opened the stream through the queue.
	if got := a.DirectWrites("b"); got != n {
		t.Fatalf("%d of %d messages sent to an idle peer were written by the caller", got, n)
	}
}

// Senders on several goroutines, sending messages the caller writes
// itself and ones too large for that, interleaved, in phases that start
// on an idle queue: every message arrives once, and each sender's in the
// order it sent them.
func TestConcurrentSendersKeepTheirOrder(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxT(t)
	a, rec := c.nodes["a"], c.recs["b"]
	const senders, phases, each = 4, 10, 40
	for ph := range phases {
		var wg sync.WaitGroup
		for s := range senders {
			wg.Go(func() {
				for j := range each {
					i := ph*each + j
					size := 16
					switch {
					case i%7 == 3:
						size = 20 << 10 // over directMax: queued
					case i%7 == 5:
						size = 3 << 10 // written by the caller when it can
					}
					msg := make([]byte, size)
					binary.BigEndian.PutUint32(msg, uint32(s))
					binary.BigEndian.PutUint32(msg[4:], uint32(i))
					if err := a.Send(ctx, "b", msg); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		want := (ph + 1) * senders * each
		rec.awaitCount("a", want)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs["a"]) != senders*phases*each {
		t.Fatalf("%d of %d messages arrived", len(rec.msgs["a"]), senders*phases*each)
	}
	next := make([]uint32, senders)
	for _, m := range rec.msgs["a"] {
		s, i := binary.BigEndian.Uint32(m), binary.BigEndian.Uint32(m[4:])
		if i != next[s] {
			t.Fatalf("sender %d: message %d arrived where %d was due", s, i, next[s])
		}
		next[s]++
	}
	// Each phase starts with nothing queued: its first small message is
	// the sender's to write.
	if a.DirectWrites("b") == 0 {
		t.Fatal("no message was written by its sender")
	}
}

// awaitCount waits until n messages from the named peer have arrived, or
// until none has arrived for stallLimit: a bound on progress, not on the
// whole, which a loaded machine can take long over.
func (r *recorder) awaitCount(from string, n int) {
	for last, since := 0, time.Now(); r.count(from) < n && time.Since(since) < stallLimit; {
		if got := r.count(from); got > last {
			last, since = got, time.Now()
		}
		time.Sleep(time.Millisecond)
	}
}
