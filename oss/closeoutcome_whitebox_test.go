package oss

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// leaderlessHeap is a heap whose loop takes one proposal and hands it to
// an engine whose replica knows no leader (one voter of three, no
// election), so raft drops it, then waits to be closed.
func leaderlessHeap(t *testing.T) (*Heap, chan *proposal) {
	st := raft.NewMemoryStorage()
	r, err := consistency.NewReplica(&consistency.Config{ID: 1, Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Replica: r, Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Bootstrap([]raft.Peer{{ID: 1}, {ID: 2}, {ID: 3}}); err != nil {
		t.Fatal(err)
	}
	for eng.HasReady() {
		eng.Ready()
		eng.Advance()
	}
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
			if p.take() {
				h.propose([]*proposal{p})
				taken <- p
			}
		case <-h.stop:
		}
		<-h.stop
		h.shutdown()
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

// A commit waiting for a leader when its heap closes was never in any
// log (raft refused it: no leader known): it failed, ErrClosed, where it
// used to end with an unknown outcome that sent its caller to read back.
func TestCommitRaftNeverTookFailsWithErrClosed(t *testing.T) {
	h, taken := leaderlessHeap(t)
	errc := make(chan error, 1)
	go func() {
		_, err := h.commit(context.Background(), uuid.New(), []byte{0xa0})
		errc <- err
	}()
	await.Recv(t, taken, "the loop to take the commit")
	close(h.stop)
	err := await.Recv(t, errc, "the commit's answer")
	if !errors.Is(err, ErrClosed) || errors.Is(err, ErrCommitUnknown) {
		t.Fatalf("commit raft never took, its heap closed: %v, want ErrClosed", err)
	}
}
