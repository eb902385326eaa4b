package persist

import (
	"errors"
	"github.com/objectsharing/oss/internal/testkit/await"
	"sync"
	"syscall"
	"testing"
)

// asyncResult is what AppendAsync's done reported.
type asyncResult struct {
	last uint64
	err  error
}

func appendAsync(w *WAL, chain *Chain, rec string) chan asyncResult {
	c := make(chan asyncResult, 1)
	w.AppendAsync(chain, false, func(last uint64, err error) { c <- asyncResult{last, err} }, []byte(rec))
	return c
}

// Once an append on a chain fails, every later append on it fails with
// the same error and is never written, even when it is in a later batch
// that the log writes: no record of the chain lands after a gap. Appends
// off the chain, and a new chain, go on, numbered without a gap.
func TestWALChainFailsAfterAFailure(t *testing.T) {
	fsys := NewMemFS()
	ffs := &FaultFS{FS: fsys}
	w, _, _ := collect(t, ffs, "wal", WALOptions{})
	full := syscall.ENOSPC
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ffs.SetRule(func(op Op, name string) error {
		if op != OpWrite {
			return nil
		}
		failed := false
		once.Do(func() {
			close(entered)
			<-release
			failed = true
		})
		if failed {
			return full
		}
		return nil
	})
	chain := new(Chain)
	a1 := appendAsync(w, chain, "a1")
	await.Recv(t, entered, "a1's batch to be written") // a1's batch is being written: what follows queues behind it
	a2 := appendAsync(w, chain, "a2")
	other := appendAsync(w, nil, "other")
	await.Until(t, "a2 and other to queue behind a1's batch", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.queue) == 2
	})
	close(release)
	r1 := await.Recv(t, a1, "a1's append")
	r2 := await.Recv(t, a2, "a2's append")
	ro := await.Recv(t, other, "the append off the chain")
	if !errors.Is(r1.err, full) {
		t.Fatalf("a1: %v, want the write's error", r1.err)
	}
	if !errors.Is(r2.err, full) {
		t.Fatalf("a2, after a1 failed on its chain: last %d, err %v; want a1's error", r2.last, r2.err)
	}
	if ro.err != nil {
		t.Fatalf("an append off the chain failed: %v", ro.err)
	}
	if r3 := await.Recv(t, appendAsync(w, chain, "a3"), "a3's append on the failed chain"); !errors.Is(r3.err, full) {
		t.Fatalf("a3 on the failed chain: %v, want a1's error", r3.err)
	}
	r4 := await.Recv(t, appendAsync(w, new(Chain), "a4"), "a4's append off the chain")
	if r4.err != nil || r4.last != ro.last+1 {
		t.Fatalf("a4 on a new chain: last %d, err %v; want %d", r4.last, r4.err, ro.last+1)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2, got, order := collect(t, fsys, "wal", WALOptions{})
	defer w2.Close()
	if len(order) != 2 || string(got[ro.last]) != "other" || string(got[r4.last]) != "a4" {
		t.Fatalf("replayed %d records %v, want only other and a4", len(order), order)
	}
}

// AppendAsync on a closed log answers at once, from the caller.
func TestWALAppendAsyncOnAClosedLog(t *testing.T) {
	w, _, _ := collect(t, NewMemFS(), "wal", WALOptions{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	called := false
	w.AppendAsync(nil, true, func(_ uint64, err error) {
		called = true
		if !errors.Is(err, ErrClosed) {
			t.Errorf("err %v, want ErrClosed", err)
		}
	})
	if !called {
		t.Fatal("done not called before AppendAsync returned")
	}
}
