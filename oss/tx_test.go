package oss_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/transport/transporttest"
)

type counter struct {
	N int
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openHeap starts a node with one heap, closed at the end of the test.
func openHeap(t testing.TB, cfg *oss.Config) (*oss.Node, *oss.Heap) {
	t.Helper()
	if cfg == nil {
		cfg = &oss.Config{}
	}
	cfg.Logger = quietLogger()
	n, err := oss.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	h, err := n.CreateHeap(context.Background(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	return n, h
}

func create(t testing.TB, h *oss.Heap, v counter) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := h.Update(context.Background(), func(tx *oss.Tx) error {
		ref, err := oss.New(tx, v)
		id = ref.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func read(t testing.TB, h *oss.Heap, id uuid.UUID) (counter, error) {
	t.Helper()
	var c counter
	err := h.View(context.Background(), func(tx *oss.Tx) error {
		var err error
		c, err = oss.Get[counter](tx, id)
		return err
	}, nil)
	return c, err
}

func TestUpdateThenViewSeesWrite(t *testing.T) {
	_, h := openHeap(t, nil)
	id := create(t, h, counter{1})
	for i := 2; i <= 5; i++ {
		err := h.Update(context.Background(), func(tx *oss.Tx) error {
			c, err := oss.Get[counter](tx, id)
			if err != nil {
				return err
			}
			c.N++
			return oss.Put(tx, id, c)
		})
		if err != nil {
			t.Fatal(err)
		}
		if c, err := read(t, h, id); err != nil || c.N != i {
			t.Fatalf("after update %d: %v %v", i, c, err)
		}
	}
}

func TestManualConflict(t *testing.T) {
	_, h := openHeap(t, nil)
	ctx := context.Background()
	id := create(t, h, counter{0})
	t1, err := h.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t2, _ := h.Begin(ctx, nil)
	for _, tx := range []*oss.Tx{t1, t2} {
		c, err := oss.Get[counter](tx, id)
		if err != nil {
			t.Fatal(err)
		}
		c.N++
		if err := oss.Put(tx, id, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := t1.Commit(); err != nil {
		t.Fatal(err)
	}
	err = t2.Commit()
	var ce *oss.ConflictError
	if !errors.Is(err, oss.ErrConflict) || !errors.As(err, &ce) || ce.ID != id {
		t.Fatalf("second commit: %v, want a conflict on %v", err, id)
	}
	if c, _ := read(t, h, id); c.N != 1 {
		t.Fatalf("counter %d after one committed increment", c.N)
	}
}

// TestManyReadsAndWrites: a transaction that reads and writes more
// objects than it looks through without an index (8) reads its own
// writes, the latest of two, records each read once, and conflicts on
// the object it read last when another commits it first.
func TestManyReadsAndWrites(t *testing.T) {
	_, h := openHeap(t, nil)
	ctx := context.Background()
	var ids []uuid.UUID
	for i := range 20 {
		ids = append(ids, create(t, h, counter{i}))
	}
	tx, err := h.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for i, id := range ids {
			c, err := oss.Get[counter](tx, id)
			if want := i + round*100; err != nil || c.N != want {
				t.Fatalf("round %d, object %d: %v %v, want %d", round, i, c, err, want)
			}
			if err := oss.Put(tx, id, counter{c.N + 100}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if v, err := tx.Version(ids[19]); err != nil || v == 0 {
		t.Fatalf("version of a read object: %d %v", v, err)
	}
	if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, ids[19], counter{-1}) }); err != nil {
		t.Fatal(err)
	}
	err = tx.Commit()
	var ce *oss.ConflictError
	if !errors.As(err, &ce) || ce.ID != ids[19] {
		t.Fatalf("commit: %v, want a conflict on the last object read", err)
	}
	err = h.Update(ctx, func(tx *oss.Tx) error {
		for _, id := range ids {
			for range 2 {
				c, err := oss.Get[counter](tx, id)
				if err != nil {
					return err
				}
				if err := oss.Put(tx, id, counter{c.N + 1}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		want := i + 2
		if i == 19 {
			want = 1
		}
		if c, _ := read(t, h, id); c.N != want {
			t.Fatalf("object %d holds %d, want %d", i, c.N, want)
		}
	}
}

func TestConcurrentIncrementsAreNotLost(t *testing.T) {
	_, h := openHeap(t, nil)
	id := create(t, h, counter{0})
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				err := h.Update(context.Background(), func(tx *oss.Tx) error {
					c, err := oss.Get[counter](tx, id)
					if err != nil {
						return err
					}
					c.N++
					return oss.Put(tx, id, c)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if c, _ := read(t, h, id); c.N != workers*each {
		t.Fatalf("counter %d, want %d", c.N, workers*each)
	}
	if st := h.Stats(); st.Commits < workers*each+1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTxDone(t *testing.T) {
	_, h := openHeap(t, nil)
	ctx := context.Background()
	id := create(t, h, counter{0})
	var kept *oss.Tx
	if err := h.Update(ctx, func(tx *oss.Tx) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	tx, _ := h.Begin(ctx, nil)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	for name, tx := range map[string]*oss.Tx{"after Update": kept, "after Rollback": tx} {
		if _, err := oss.Get[counter](tx, id); !errors.Is(err, oss.ErrTxDone) {
			t.Errorf("%s: Get: %v", name, err)
		}
		if err := oss.Put(tx, id, counter{9}); !errors.Is(err, oss.ErrTxDone) {
			t.Errorf("%s: Put: %v", name, err)
		}
		if _, err := oss.New(tx, counter{9}); !errors.Is(err, oss.ErrTxDone) {
			t.Errorf("%s: New: %v", name, err)
		}
		if err := tx.Delete(id); !errors.Is(err, oss.ErrTxDone) {
			t.Errorf("%s: Delete: %v", name, err)
		}
		if _, err := tx.Root("x"); !errors.Is(err, oss.ErrTxDone) {
			t.Errorf("%s: Root: %v", name, err)
		}
		if err := tx.Scan(func(uuid.UUID) bool { return true }); !errors.Is(err, oss.ErrTxDone) {
			t.Errorf("%s: Scan: %v", name, err)
		}
		if err := tx.Commit(); !errors.Is(err, oss.ErrTxDone) {
			t.Errorf("%s: Commit: %v", name, err)
		}
		if err := tx.Rollback(); !errors.Is(err, oss.ErrTxDone) {
			t.Errorf("%s: Rollback: %v", name, err)
		}
	}
	if c, _ := read(t, h, id); c.N != 0 {
		t.Fatalf("a write after the end took effect: %v", c)
	}
}

func TestNotFound(t *testing.T) {
	_, h := openHeap(t, nil)
	err := h.View(context.Background(), func(tx *oss.Tx) error {
		_, err := oss.Get[counter](tx, uuid.New())
		return err
	}, nil)
	if !errors.Is(err, oss.ErrNotFound) {
		t.Fatalf("Get of a missing object: %v", err)
	}
	err = h.View(context.Background(), func(tx *oss.Tx) error {
		_, err := tx.Root("nothing")
		return err
	}, nil)
	if !errors.Is(err, oss.ErrNotFound) {
		t.Fatalf("missing root: %v", err)
	}
}

func TestViewIsReadOnly(t *testing.T) {
	_, h := openHeap(t, nil)
	id := create(t, h, counter{1})
	err := h.View(context.Background(), func(tx *oss.Tx) error { return oss.Put(tx, id, counter{2}) }, nil)
	if !errors.Is(err, oss.ErrReadOnly) {
		t.Fatalf("Put in a View: %v", err)
	}
	if c, _ := read(t, h, id); c.N != 1 {
		t.Fatalf("a View wrote: %v", c)
	}
}

func TestEncodeErrorAbortsTransaction(t *testing.T) {
	_, h := openHeap(t, nil)
	id := create(t, h, counter{1})
	err := h.Update(context.Background(), func(tx *oss.Tx) error {
		if err := oss.Put(tx, id, counter{2}); err != nil {
			return err
		}
		_ = oss.Put(tx, uuid.New(), make(chan int)) // ignored by fn, still fatal
		return nil
	})
	var ee *oss.EncodeError
	if !errors.As(err, &ee) {
		t.Fatalf("Update with an unencodable value: %v", err)
	}
	if c, _ := read(t, h, id); c.N != 1 {
		t.Fatalf("half of an aborted transaction was applied: %v", c)
	}
}

func TestDecodeErrorAbortsTransaction(t *testing.T) {
	_, h := openHeap(t, nil)
	id := create(t, h, counter{1})
	var text uuid.UUID
	h.Update(context.Background(), func(tx *oss.Tx) error {
		text = uuid.New()
		return oss.Put(tx, text, "not a counter")
	})
	err := h.Update(context.Background(), func(tx *oss.Tx) error {
		if err := oss.Put(tx, id, counter{2}); err != nil {
			return err
		}
		_, _ = oss.Get[counter](tx, text)
		return nil
	})
	var de *oss.DecodeError
	if !errors.As(err, &de) || de.ID != text {
		t.Fatalf("Update reading a value of the wrong type: %v", err)
	}
	if c, _ := read(t, h, id); c.N != 1 {
		t.Fatalf("half of an aborted transaction was applied: %v", c)
	}
}

func TestPanicRollsBack(t *testing.T) {
	_, h := openHeap(t, nil)
	id := create(t, h, counter{1})
	var kept *oss.Tx
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the panic to propagate", r)
			}
		}()
		h.Update(context.Background(), func(tx *oss.Tx) error {
			kept = tx
			oss.Put(tx, id, counter{2})
			panic("boom")
		})
	}()
	if c, _ := read(t, h, id); c.N != 1 {
		t.Fatalf("write of a panicking transaction applied: %v", c)
	}
	if err := kept.Commit(); !errors.Is(err, oss.ErrTxDone) {
		t.Fatalf("commit after panic: %v", err)
	}
}

func TestFnErrorRollsBack(t *testing.T) {
	_, h := openHeap(t, nil)
	id := create(t, h, counter{1})
	sentinel := errors.New("no")
	err := h.Update(context.Background(), func(tx *oss.Tx) error {
		oss.Put(tx, id, counter{2})
		return sentinel
	})
	if err != sentinel {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	if c, _ := read(t, h, id); c.N != 1 {
		t.Fatalf("write of a failed transaction applied: %v", c)
	}
}

func TestTooLarge(t *testing.T) {
	_, h := openHeap(t, &oss.Config{MaxCommitBytes: 1024})
	err := h.Update(context.Background(), func(tx *oss.Tx) error {
		return oss.Put(tx, uuid.New(), make([]byte, 4096))
	})
	var te *oss.TooLargeError
	if !errors.Is(err, oss.ErrTooLarge) || !errors.As(err, &te) || te.Max != 1024 {
		t.Fatalf("oversized commit: %v", err)
	}
}

func TestRetriesExhausted(t *testing.T) {
	_, h := openHeap(t, &oss.Config{MaxRetries: -1})
	id := create(t, h, counter{0})
	ctx := context.Background()
	err := h.Update(ctx, func(tx *oss.Tx) error {
		c, err := oss.Get[counter](tx, id)
		if err != nil {
			return err
		}
		// A concurrent transaction commits between our read and our commit.
		if err := h.Update(ctx, func(tx2 *oss.Tx) error { return oss.Put(tx2, id, counter{100}) }); err != nil {
			return err
		}
		c.N++
		return oss.Put(tx, id, c)
	})
	if !errors.Is(err, oss.ErrConflict) {
		t.Fatalf("Update with no retries left: %v", err)
	}
}

func TestUpdateRetriesOnConflict(t *testing.T) {
	_, h := openHeap(t, nil)
	id := create(t, h, counter{0})
	ctx := context.Background()
	runs, commits := 0, 0
	err := h.Update(ctx, func(tx *oss.Tx) error {
		runs++
		c, err := oss.Get[counter](tx, id)
		if err != nil {
			return err
		}
		if runs == 1 {
			if err := h.Update(ctx, func(tx2 *oss.Tx) error { return oss.Put(tx2, id, counter{100}) }); err != nil {
				return err
			}
		}
		tx.OnCommit(func() { commits++ })
		c.N++
		return oss.Put(tx, id, c)
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 || commits != 1 {
		t.Fatalf("fn ran %d times, OnCommit %d times; want 2 and 1", runs, commits)
	}
	if c, _ := read(t, h, id); c.N != 101 {
		t.Fatalf("counter %d, want 101 (the retry read the concurrent write)", c.N)
	}
}

func TestCloseEndsTransactions(t *testing.T) {
	n, h := openHeap(t, nil)
	id := create(t, h, counter{0})
	started := make(chan struct{})
	release := make(chan struct{})
	result := make(chan error)
	go func() {
		result <- h.Update(context.Background(), func(tx *oss.Tx) error {
			close(started)
			<-release
			return oss.Put(tx, id, counter{1})
		})
	}()
	await.Recv(t, started, "the Update's function to run")
	n.Close(context.Background())
	close(release)
	if err := await.Recv(t, result, "the Update across Close to return"); !errors.Is(err, oss.ErrClosed) {
		t.Fatalf("Update across Close: %v", err)
	}
	if err := h.View(context.Background(), func(*oss.Tx) error { return nil }, nil); !errors.Is(err, oss.ErrClosed) {
		t.Fatalf("View after Close: %v", err)
	}
	if _, err := n.CreateHeapIfNotExists(context.Background(), "other", nil); !errors.Is(err, oss.ErrClosed) {
		t.Fatalf("Heap after Close: %v", err)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCloseUnderLoad(t *testing.T) {
	n, h := openHeap(t, nil)
	id := create(t, h, counter{0})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				err := h.Update(context.Background(), func(tx *oss.Tx) error {
					c, err := oss.Get[counter](tx, id)
					if err != nil {
						return err
					}
					c.N++
					return oss.Put(tx, id, c)
				})
				if err != nil {
					if !errors.Is(err, oss.ErrClosed) && !errors.Is(err, oss.ErrConflict) && !errors.Is(err, oss.ErrCommitUnknown) {
						t.Errorf("Update during Close: %v", err)
					}
					return
				}
			}
		})
	}
	for h.Stats().Commits < 50 {
		h.View(context.Background(), func(*oss.Tx) error { return nil }, nil)
	}
	n.Close(context.Background())
	wg.Wait()
}

func TestContextCancelledBeforeCommit(t *testing.T) {
	_, h := openHeap(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	err := h.Update(ctx, func(tx *oss.Tx) error {
		cancel()
		return oss.Put(tx, uuid.New(), counter{1})
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with a cancelled context: %v", err)
	}
}

func TestRoots(t *testing.T) {
	_, h := openHeap(t, nil)
	ctx := context.Background()
	a, b := create(t, h, counter{1}), create(t, h, counter{2})
	if err := h.Update(ctx, func(tx *oss.Tx) error { return tx.SetRoot("main", a) }); err != nil {
		t.Fatal(err)
	}
	t1, _ := h.Begin(ctx, nil)
	if got, err := t1.Root("main"); err != nil || got != a {
		t.Fatalf("root main = %v %v", got, err)
	}
	t1.SetRoot("main", b)
	if got, _ := t1.Root("main"); got != b {
		t.Fatal("a transaction does not see its own root write")
	}
	// A concurrent change of the root makes t1 conflict.
	if err := h.Update(ctx, func(tx *oss.Tx) error { return tx.SetRoot("main", a) }); err != nil {
		t.Fatal(err)
	}
	var ce *oss.ConflictError
	if err := t1.Commit(); !errors.As(err, &ce) || ce.Root != "main" {
		t.Fatalf("commit after a concurrent root change: %v", err)
	}
	if err := h.Update(ctx, func(tx *oss.Tx) error { return tx.DeleteRoot("main") }); err != nil {
		t.Fatal(err)
	}
	err := h.View(ctx, func(tx *oss.Tx) error { _, err := tx.Root("main"); return err }, nil)
	if !errors.Is(err, oss.ErrNotFound) {
		t.Fatalf("deleted root: %v", err)
	}
}

func count(tx *oss.Tx) (int, error) {
	n := 0
	err := tx.Scan(func(uuid.UUID) bool { n++; return true })
	return n, err
}

func TestScanSeesOwnWritesAndPreventsPhantoms(t *testing.T) {
	_, h := openHeap(t, nil)
	ctx := context.Background()
	a := create(t, h, counter{1})
	create(t, h, counter{2})
	summary := uuid.New()

	tx, _ := h.Begin(ctx, nil)
	tx.Delete(a)
	fresh, _ := oss.New(tx, counter{3})
	var seen []uuid.UUID
	tx.Scan(func(id uuid.UUID) bool { seen = append(seen, id); return true })
	if len(seen) != 2 || seen[1] != fresh.ID {
		t.Fatalf("scan saw %v; want the surviving object then the new one", seen)
	}
	n, _ := count(tx)
	oss.Put(tx, summary, counter{n})

	// A concurrent creation: the scan's result is no longer true.
	create(t, h, counter{4})
	var ce *oss.ConflictError
	if err := tx.Commit(); !errors.As(err, &ce) || !ce.Scan {
		t.Fatalf("commit after a phantom: %v", err)
	}

	// A concurrent update in place does not disturb a scan.
	tx, _ = h.Begin(ctx, nil)
	n, _ = count(tx)
	oss.Put(tx, summary, counter{n})
	if err := h.Update(ctx, func(t2 *oss.Tx) error { return oss.Put(t2, a, counter{9}) }); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("scan conflicted with an update in place: %v", err)
	}
}

func TestFreshView(t *testing.T) {
	_, h := openHeap(t, nil)
	id := create(t, h, counter{7})
	var c counter
	err := h.View(context.Background(), func(tx *oss.Tx) error {
		var err error
		c, err = oss.Get[counter](tx, id)
		return err
	}, &oss.ViewOptions{Fresh: true})
	if err != nil || c.N != 7 {
		t.Fatalf("fresh view: %v %v", c, err)
	}
	tx, err := h.Begin(context.Background(), &oss.TxOptions{ReadOnly: true, Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := oss.Get[counter](tx, id); got.N != 7 {
		t.Fatalf("fresh read-only tx read %v", got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestViewContext: a View whose context has ended does not run fn, plain
// or Fresh; its error is the context's.
func TestViewContext(t *testing.T) {
	_, h := openHeap(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, opts := range []*oss.ViewOptions{nil, {Fresh: true}} {
		ran := false
		err := h.View(ctx, func(*oss.Tx) error { ran = true; return nil }, opts)
		if !errors.Is(err, context.Canceled) || ran {
			t.Fatalf("View(%+v) with an ended context: ran %v, %v", opts, ran, err)
		}
	}
}

func TestHeapNames(t *testing.T) {
	n, _ := openHeap(t, nil)
	ctx := context.Background()
	for _, name := range []string{"", "a\x00b", string(make([]byte, 300)), "oss:catalog"} {
		if _, err := n.Heap(ctx, name); !errors.Is(err, oss.ErrInvalidHeapName) {
			t.Errorf("Heap(%q): %v", name, err)
		}
		if _, err := n.CreateHeap(ctx, name, nil); !errors.Is(err, oss.ErrInvalidHeapName) {
			t.Errorf("CreateHeap(%q): %v", name, err)
		}
		if _, err := n.CreateHeapIfNotExists(ctx, name, nil); !errors.Is(err, oss.ErrInvalidHeapName) {
			t.Errorf("CreateHeapIfNotExists(%q): %v", name, err)
		}
	}
}

// TestOpenAndCreate: Heap opens and never creates, CreateHeap creates and
// never opens, CreateHeapIfNotExists does either; all three hand out the
// one handle of a heap.
func TestOpenAndCreate(t *testing.T) {
	n, h := openHeap(t, nil)
	ctx := context.Background()
	for range 2 {
		if _, err := n.Heap(ctx, "tset"); !errors.Is(err, oss.ErrNoHeap) {
			t.Fatalf("opening a heap that does not exist: %v", err)
		}
	}
	if hs := n.Heaps(); len(hs) != 1 || hs[0].Name != "test" {
		t.Fatalf("a failed open created a heap: %+v", hs)
	}
	if _, err := n.CreateHeap(ctx, "test", nil); !errors.Is(err, oss.ErrHeapExists) {
		t.Fatalf("creating a heap that exists: %v", err)
	}
	for _, open := range []func() (*oss.Heap, error){
		func() (*oss.Heap, error) { return n.Heap(ctx, "test") },
		func() (*oss.Heap, error) { return n.CreateHeapIfNotExists(ctx, "test", &oss.HeapOptions{Replicas: 5}) },
	} {
		if again, err := open(); err != nil || again != h {
			t.Fatalf("reopening a heap: %v %v", again, err)
		}
	}
	created, err := n.CreateHeapIfNotExists(ctx, "other", &oss.HeapOptions{Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := n.Heap(ctx, "other"); err != nil || again != created {
		t.Fatalf("opening a heap CreateHeapIfNotExists created: %v %v", again, err)
	}
	for _, r := range []int{-1, 10} {
		if _, err := n.CreateHeap(ctx, "third", &oss.HeapOptions{Replicas: r}); !errors.Is(err, oss.ErrInvalidArgument) {
			t.Fatalf("HeapOptions.Replicas %d: %v", r, err)
		}
	}
}

// TestCreateHeapRace: of callers racing to create one heap, CreateHeap
// succeeds for exactly one; callers racing in CreateHeapIfNotExists all
// get the one heap.
func TestCreateHeapRace(t *testing.T) {
	n, _ := openHeap(t, nil)
	ctx := context.Background()
	const callers = 8
	for _, exclusive := range []bool{true, false} {
		name := fmt.Sprintf("race-%v", exclusive)
		var wg sync.WaitGroup
		handles := make(chan *oss.Heap, callers)
		errs := make(chan error, callers)
		for range callers {
			wg.Go(func() {
				var h *oss.Heap
				var err error
				if exclusive {
					h, err = n.CreateHeap(ctx, name, nil)
				} else {
					h, err = n.CreateHeapIfNotExists(ctx, name, nil)
				}
				if err != nil {
					errs <- err
					return
				}
				handles <- h
			})
		}
		wg.Wait()
		close(handles)
		close(errs)
		for err := range errs {
			if !exclusive || !errors.Is(err, oss.ErrHeapExists) {
				t.Fatalf("%s: %v", name, err)
			}
		}
		var got []*oss.Heap
		for h := range handles {
			if len(got) > 0 && h != got[0] {
				t.Fatalf("%s: two handles on one heap", name)
			}
			got = append(got, h)
		}
		if want := map[bool]int{true: 1, false: callers}[exclusive]; len(got) != want {
			t.Fatalf("%s: %d callers got the heap, want %d", name, len(got), want)
		}
	}
}

// TestVersionAndExists: Exists counts the transaction's own writes,
// Version reports the snapshot's version; Version records its read even
// of an object the transaction wrote first, so the write is conditional.
func TestVersionAndExists(t *testing.T) {
	_, h := openHeap(t, nil)
	ctx := context.Background()
	id := create(t, h, counter{1})
	added := uuid.New()
	tx, _ := h.Begin(ctx, nil)
	v0, err := tx.Version(id)
	if err != nil || v0 == 0 {
		t.Fatalf("version of an object: %d %v", v0, err)
	}
	if err := oss.Put(tx, added, counter{1}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Delete(id); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tx.Exists(added); !ok {
		t.Fatal("an object the transaction created does not exist in it")
	}
	if v, _ := tx.Version(added); v != 0 {
		t.Fatalf("an object the transaction created has version %d", v)
	}
	if ok, _ := tx.Exists(id); ok {
		t.Fatal("an object the transaction deleted exists in it")
	}
	if v, _ := tx.Version(id); v != v0 {
		t.Fatalf("an object the transaction deleted has version %d, its snapshot %d", v, v0)
	}
	tx.Rollback()

	tx, _ = h.Begin(ctx, nil)
	if err := oss.Put(tx, id, counter{10}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Version(id); err != nil {
		t.Fatal(err)
	}
	if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, counter{2}) }); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, oss.ErrConflict) {
		t.Fatalf("a write conditional on a version that changed: %v", err)
	}
	if got, _ := read(t, h, id); got.N != 2 {
		t.Fatalf("after the conflict: %v", got)
	}
}

// TestUnknownOutcomeError: every *UnknownOutcomeError, whatever its
// cause and however wrapped, matches ErrCommitUnknown and its cause.
func TestUnknownOutcomeError(t *testing.T) {
	for _, e := range []*oss.UnknownOutcomeError{
		{},
		{Err: context.Canceled},
		{Err: oss.ErrClosed},
		{Err: fmt.Errorf("%w: heap %q has no leader in reach", oss.ErrNoQuorum, "h")},
	} {
		for _, err := range []error{e, fmt.Errorf("commit: %w", e)} {
			if !errors.Is(err, oss.ErrCommitUnknown) || (e.Err != nil && !errors.Is(err, e.Err)) {
				t.Errorf("%v does not match ErrCommitUnknown and its cause", err)
			}
			var got *oss.UnknownOutcomeError
			if !errors.As(err, &got) || got != e {
				t.Errorf("%v is not an *UnknownOutcomeError", err)
			}
			if !strings.HasPrefix(err.Error(), "oss: commit outcome unknown") && !strings.HasPrefix(err.Error(), "commit: oss: commit outcome unknown") {
				t.Errorf("message %q", err)
			}
		}
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, cfg := range []*oss.Config{
		{MaxCommitBytes: -1},
		{BatchInterval: -time.Millisecond},
		{Replicas: 10},
		{Role: "admin"},
		{CheckpointEvery: -1},
		{KeepEntries: -1},
		{Transport: transporttest.NewNetwork(1), Listen: "127.0.0.1:0"}, // one network
		{PacketConn: &net.UDPConn{}},                                    // needs Listen
		{Join: []string{"n1"}},                                          // needs a network
	} {
		if _, err := oss.Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "invalid config") {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
}
