package oss

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// stalledHeap is a heap whose loop takes proposals, hands them to a
// leading engine and never decides them: it carries out no Ready.
func stalledHeap(t *testing.T) (*Heap, chan *proposal) {
	st := raft.NewMemoryStorage()
	r, err := consistency.NewReplica(&consistency.Config{ID: 1, Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Replica: r, Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	settle := func() {
		for eng.HasReady() {
			eng.Ready()
			eng.Advance()
		}
	}
	if err := r.Bootstrap([]raft.Peer{{ID: 1}}); err != nil {
		t.Fatal(err)
	}
	settle()
	if err := r.Campaign(); err != nil {
		t.Fatal(err)
	}
	settle()
	h := &Heap{
		eng:      eng,
		propc:    make(chan *proposal),
		abandonc: make(chan abandon, 1),
		readc:    make(chan *readRequest),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		pending:  make(map[uuid.UUID]*proposal),
		reads:    make(map[uint64]*readRequest),
	}
	taken := make(chan *proposal, 1)
	go func() {
		defer close(h.done)
		select {
		case p := <-h.propc:
			if !p.take() {
				t.Error("a proposal abandoned before the loop took it")
			}
			h.propose([]*proposal{p})
			if eng.Pending() != 1 {
				t.Error("the engine did not take the proposal")
			}
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
		await.Recv(t, h.done, "the heap's loop to end")
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
	await.Recv(t, taken, "the loop to take the commit")
	cancel()
	err := await.Recv(t, errc, "the commit's answer")
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
	await.Recv(t, taken, "the loop to take the commit")
	close(h.stop)
	err := await.Recv(t, errc, "the commit's answer")
	if !errors.Is(err, ErrCommitUnknown) || errors.Is(err, ErrClosed) || errors.Is(err, ErrNoQuorum) {
		t.Fatalf("commit in the log when the heap closed: %v, want an unknown outcome that matches no definite failure", err)
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

// TestCommitAbandonedWhileQueuedIsNeverProposed: a commit whose context ends
// while its proposal still waits in propc (the loop busy elsewhere) fails
// definitely, so the loop must never propose it. Before proposals had a
// handover state, the loop could take the caller's abandon first, answer
// "never proposed", and then propose the record from propc: a failed
// commit that committed (G1a in the harness on a loaded machine). The loop
// is held deterministically: it blocks delivering a change set while the
// test holds the watch lock.
func TestCommitAbandonedWhileQueuedIsNeverProposed(t *testing.T) {
	n, err := Start(context.Background(), &Config{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeapIfNotExists(context.Background(), "q", nil)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 8 {
		hold, abandoned := uuid.New(), uuid.New()
		// The loop answers a read only after it has delivered what it
		// applied before: the last round's change sets are out.
		if err := h.readIndex(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Park the loop: it publishes the state of hold's commit, then
		// waits for the watch lock to deliver its change set.
		h.watchMu.Lock()
		held := make(chan error, 1)
		go func() {
			held <- h.Update(context.Background(), func(tx *Tx) error { return Put(tx, hold, round) })
		}()
		await.Until(t, "the holding commit to apply", func() bool { return h.state.Load().Version(hold) != 0 })
		ctx, cancel := context.WithCancel(context.Background())
		tx, err := h.Begin(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := Put(tx, abandoned, round); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- tx.Commit() }()
		await.Until(t, "the commit to be queued", func() bool { return len(h.propc) != 0 })
		cancel()
		var cerr error
		select {
		case cerr = <-errc:
		case <-time.After(time.Minute):
			// The abandon is not answered while the loop is parked.
		}
		h.watchMu.Unlock()
		if cerr == nil {
			cerr = await.Recv(t, errc, "the abandoned commit's answer")
		}
		if err := await.Recv(t, held, "the holding goroutine to end"); err != nil {
			t.Fatal(err)
		}
		// Everything proposed before this commit is applied when it is.
		if err := h.Update(context.Background(), func(tx *Tx) error { return Put(tx, uuid.New(), round) }); err != nil {
			t.Fatal(err)
		}
		committed := h.state.Load().Version(abandoned) != 0
		switch {
		case cerr == nil && !committed:
			t.Fatalf("round %d: commit acknowledged but not applied", round)
		case cerr != nil && !errors.Is(cerr, ErrCommitUnknown) && committed:
			t.Fatalf("round %d: commit failed definitely (%v) but committed", round, cerr)
		case !errors.Is(cerr, ErrNoQuorum) || !errors.Is(cerr, context.Canceled):
			t.Fatalf("round %d: abandoned in the queue: %v, want %v", round, cerr, fmt.Errorf("%w: %w", ErrNoQuorum, context.Canceled))
		}
	}
}
