package oss

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
)

// A proposal the loop took while its log was writing waits to go to raft
// with the others that arrive meanwhile (Heap.held). Its caller's context
// ending there, the caller is told what the heap does with it: never
// proposed and "not committed" (a definite failure), or proposed and
// committed or unknown; the value is in the heap exactly when the caller
// was not told "not committed". The loop is held (heldHook) the moment it
// has held the proposal, the caller is cancelled, its abandon is queued,
// and the loop released. The test used to cancel once len(propc) was 0,
// which it was before the commit was even sent: a round could test the
// abandon of a proposal still queued, or taken by a tick first, and not
// the held path it names. Heap ticks are an hour apart, so no tick hands
// the held proposal to raft before the abandon reaches the loop.
func TestCommitAbandonedWhileHeldIsNeverProposed(t *testing.T) {
	ffs := &persist.FaultFS{FS: persist.NewMemFS()}
	n, err := Start(context.Background(), &Config{DataDir: "/data", FS: ffs, Logger: testLogger(), TickInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeapIfNotExists(context.Background(), "q", nil)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 4 {
		cerr, committed := abandonWhileHeld(t, h, ffs, round)
		told := cerr == nil || errors.Is(cerr, ErrCommitUnknown)
		switch {
		case told && !committed && cerr == nil:
			t.Fatalf("round %d: commit acknowledged but not applied", round)
		case !told && committed:
			t.Fatalf("round %d: abandoned while held: told %v, yet applied", round, cerr)
		case !errors.Is(cerr, ErrNoQuorum) || !errors.Is(cerr, context.Canceled):
			// No tick came: the loop took the abandon with the
			// proposal held, which it drops.
			t.Fatalf("round %d: abandoned while held: %v, want it never proposed (ErrNoQuorum, context.Canceled)", round, cerr)
		}
	}
}

// abandonWhileHeld commits a value to h while the log's write of another
// commit is held (so the loop holds the proposal), cancels the commit's
// context while the loop is held at that point, and returns the commit's
// error and whether the value is in the heap once all else has applied.
func abandonWhileHeld(t *testing.T, h *Heap, ffs *persist.FaultFS, round int) (error, bool) {
	t.Helper()
	syncHeld, syncRelease := make(chan struct{}), make(chan struct{})
	var armed atomic.Bool
	armed.Store(true)
	ffs.SetRule(func(op persist.Op, name string) error {
		if op == persist.OpSync && strings.Contains(name, "wal") && armed.CompareAndSwap(true, false) {
			close(syncHeld)
			<-syncRelease
		}
		return nil
	})
	defer ffs.SetRule(nil)
	first, abandoned := uuid.New(), uuid.New()
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- h.Update(context.Background(), func(tx *Tx) error { return Put(tx, first, round) })
	}()
	await.Recv(t, syncHeld, "the first commit's sync to be held") // the log is writing
	loopAt, loopGo := make(chan struct{}), make(chan struct{})
	hook := func() {
		loopAt <- struct{}{}
		<-loopGo
	}
	h.heldHook.Store(&hook)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tx, err := h.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Put(tx, abandoned, round); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- tx.Commit() }()
	await.Recv(t, loopAt, "the loop to hold the commit")
	h.heldHook.Store(nil)
	if len(h.held) != 1 || len(h.propc) != 0 {
		t.Fatalf("round %d: the loop holds %d proposals, %d queued; want the commit alone, held", round, len(h.held), len(h.propc))
	}
	cancel()
	await.Until(t, "the caller's abandon to be queued for the loop", func() bool { return len(h.abandonc) == 1 })
	close(loopGo)
	cerr := await.Recv(t, errc, "the abandoned commit's answer")
	close(syncRelease)
	if err := await.Recv(t, firstDone, "the commit being written"); err != nil {
		t.Fatalf("round %d: the commit being written: %v", round, err)
	}
	// Everything proposed before this commit is applied when it is.
	if err := h.Update(context.Background(), func(tx *Tx) error { return Put(tx, uuid.New(), round) }); err != nil {
		t.Fatal(err)
	}
	return cerr, h.state.Load().Version(abandoned) != 0
}
