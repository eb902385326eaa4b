package oss

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
)

// A commit that reaches a heap whose close has begun is never proposed,
// so its caller is told ErrClosed for certain. The caller's select took
// propc as readily as the stop, and the loop's took a queued proposal as
// readily as the stop: one taken then went to raft as the replica shut
// down, and its Update ended with an unknown outcome
// (TestAPIProbeCloseWhileFunctionsRun, seen once at load 19).
func TestNoProposalTakenOnceTheHeapCloses(t *testing.T) {
	ctx := context.Background()
	h := &Heap{stop: make(chan struct{}), done: make(chan struct{}), propc: make(chan *proposal, maxBatch)}
	close(h.stop)
	close(h.done)
	for i := range 64 {
		_, err := h.commit(ctx, uuid.New(), []byte("record"))
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("commit %d on a closed heap: %v, want ErrClosed", i, err)
		}
		if n := len(h.propc); n > 0 {
			t.Fatalf("commit %d on a closed heap offered its proposal to the loop (%d queued)", i, n)
		}
	}

	// The loop, woken by a proposal queued before the stop closed, leaves
	// it untaken: its caller answers ErrClosed once the loop is done.
	h.inflight = 1 // a log write in flight: a batch taken is held, not proposed
	p := &proposal{txid: uuid.New(), data: []byte("record"), ctx: ctx, done: make(chan struct{}, 1)}
	q := &proposal{txid: uuid.New(), data: []byte("record"), ctx: ctx, done: make(chan struct{}, 1)}
	h.propc <- q
	h.takeProposals(p, nil)
	if len(h.held) > 0 {
		t.Fatalf("the loop of a closed heap took %d proposals", len(h.held))
	}
	for _, x := range []*proposal{p, q} {
		if !x.handover.CompareAndSwap(queued, abandoned) {
			t.Fatalf("a proposal the loop of a closed heap met is %d, want queued", x.handover.Load())
		}
	}
}
