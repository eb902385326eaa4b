package oss

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
)

// stalledHeap is a heap whose loop takes proposals and never decides them.
func stalledHeap(t *testing.T) (*Heap, chan *proposal) {
	h := &Heap{
		propc:    make(chan *proposal),
		abandonc: make(chan abandon, 1),
		readc:    make(chan *readRequest),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		pending:  make(map[uuid.UUID]*proposal),
	}
	taken := make(chan *proposal, 1)
	go func() {
		defer close(h.done)
		select {
		case p := <-h.propc:
			p.proposed = true
			h.pending[p.txid] = p
			taken <- p
		case <-h.stop:
		}
		for {
			select {
			case a := <-h.abandonc:
				h.abandon(a)
			case <-h.stop:
				h.shutdown()
				return
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-h.stop:
		default:
			close(h.stop)
		}
		<-h.done
	})
	return h, taken
}

func TestCommitOutcomeUnknownWhenContextEndsAfterProposal(t *testing.T) {
	h, taken := stalledHeap(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := h.commit(ctx, uuid.New(), []byte{0xa0})
		errc <- err
	}()
	<-taken
	cancel()
	err := <-errc
	if !errors.Is(err, ErrCommitUnknown) || !errors.Is(err, context.Canceled) {
		t.Fatalf("commit whose context ended after the proposal: %v", err)
	}
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrClosed) {
		t.Fatalf("unknown outcome reported as a definite one: %v", err)
	}
}

func TestCommitOutcomeUnknownWhenClosedAfterProposal(t *testing.T) {
	h, taken := stalledHeap(t)
	errc := make(chan error, 1)
	go func() {
		_, err := h.commit(context.Background(), uuid.New(), []byte{0xa0})
		errc <- err
	}()
	<-taken
	close(h.stop)
	err := <-errc
	if !errors.Is(err, ErrCommitUnknown) || !errors.Is(err, ErrClosed) {
		t.Fatalf("commit in the log when the heap closed: %v", err)
	}
}

func TestCommitNotProposedWhenContextEndsFirst(t *testing.T) {
	// A loop that is busy: nobody receives the proposal.
	h := &Heap{propc: make(chan *proposal), stop: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h.commit(ctx, uuid.New(), []byte{0xa0})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrCommitUnknown) {
		t.Fatalf("commit never handed over: %v", err)
	}
}
