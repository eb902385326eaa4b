package oss

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestCreateHeapThatFailsToOpenSaysItWasCreated: once CreateHeap's catalog
// entry has committed the heap exists, so an error in the open that follows
// must not read as "not created" (a context error, ErrClosed, ErrNoQuorum:
// the admin API answers those "not committed, safe to retry", and a retry
// then finds the heap exists).
func TestCreateHeapThatFailsToOpenSaysItWasCreated(t *testing.T) {
	c := startDurable(t, 44, []string{"solo"}, nil)
	n := c.nodes["solo"]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, cause := range []error{context.DeadlineExceeded, ErrClosed, ErrNoQuorum} {
		name := fmt.Sprintf("made-%d", i)
		n.openFault = func() error { return cause }
		_, err := n.CreateHeap(ctx, name, nil)
		n.openFault = nil
		if !errors.Is(err, ErrCreatedNotOpen) {
			t.Fatalf("%v after the entry committed: got %v, want ErrCreatedNotOpen", cause, err)
		}
		if errors.Is(err, cause) {
			t.Fatalf("the error %v matches %v, which says the heap was not created", err, cause)
		}
		if _, err := n.CreateHeap(ctx, name, nil); !errors.Is(err, ErrHeapExists) {
			t.Fatalf("CreateHeap again: %v, want ErrHeapExists", err)
		}
		h, err := n.Heap(ctx, name)
		if err != nil {
			t.Fatalf("Heap after ErrCreatedNotOpen: %v", err)
		}
		if err := h.Update(ctx, func(tx *Tx) error { return Put(tx, answerID(1), 1) }); err != nil {
			t.Fatal(err)
		}
	}
	// A failure before the entry commits is the cause itself: nothing was
	// created.
	done, stop := context.WithCancel(ctx)
	stop()
	if _, err := n.CreateHeap(done, "never", nil); !errors.Is(err, context.Canceled) || errors.Is(err, ErrCreatedNotOpen) {
		t.Fatalf("CreateHeap with an ended context: %v", err)
	}
	if _, err := n.Heap(ctx, "never"); !errors.Is(err, ErrNoHeap) {
		t.Fatalf("Heap of a heap never created: %v, want ErrNoHeap", err)
	}
}
