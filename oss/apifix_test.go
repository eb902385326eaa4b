package oss_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// stall is a value whose encoding waits: Put of it stays inside its
// transaction until release is closed.
type stall struct {
	entered chan struct{}
	release chan struct{}
}

func (s stall) MarshalCBOR() ([]byte, error) {
	close(s.entered)
	<-s.release
	return cbor.Marshal(1)
}

func newStall() stall { return stall{make(chan struct{}), make(chan struct{})} }

// countObjects returns how many objects h holds.
func countObjects(t *testing.T, h *oss.Heap) int {
	t.Helper()
	n := 0
	err := h.View(context.Background(), func(tx *oss.Tx) error {
		return tx.Scan(func(uuid.UUID) bool { n++; return true })
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A Tx used by a second goroutine while another is inside it refuses the
// call with ErrInvalidArgument and aborts: Update returns the error and
// writes nothing, neither the write that was refused nor the one that
// was not. Before, both calls went through and Update committed.
func TestTxSharedByTwoGoroutinesAborts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, _ := probeHeap(t)
	before := countObjects(t, h)
	var putErr error
	err := h.Update(ctx, func(tx *oss.Tx) error {
		s := newStall()
		var wg sync.WaitGroup
		wg.Go(func() { _, putErr = oss.New(tx, s) })
		<-s.entered
		_, err := oss.New(tx, 2)
		if !errors.Is(err, oss.ErrInvalidArgument) {
			t.Errorf("New while another goroutine is inside the Tx: %v; want ErrInvalidArgument", err)
		}
		close(s.release)
		wg.Wait()
		return nil
	})
	if putErr != nil {
		t.Errorf("the goroutine inside the Tx: %v", putErr)
	}
	if !errors.Is(err, oss.ErrInvalidArgument) {
		t.Fatalf("Update of a Tx shared by two goroutines: %v; want ErrInvalidArgument", err)
	}
	if got := countObjects(t, h); got != before {
		t.Fatalf("%d objects after the aborted Update, want %d", got, before)
	}
}

// The same for a transaction from Begin: a Commit made while another
// goroutine is inside fails, and so does the Commit after, writing
// nothing.
func TestBeginTxSharedByTwoGoroutinesAborts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, _ := probeHeap(t)
	before := countObjects(t, h)
	tx, err := h.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newStall()
	var wg sync.WaitGroup
	wg.Go(func() { oss.New(tx, s) })
	<-s.entered
	if err := tx.Commit(); !errors.Is(err, oss.ErrInvalidArgument) {
		t.Errorf("Commit while another goroutine is inside the Tx: %v; want ErrInvalidArgument", err)
	}
	close(s.release)
	wg.Wait()
	if err := tx.Commit(); !errors.Is(err, oss.ErrInvalidArgument) {
		t.Errorf("Commit of a Tx that was shared: %v; want ErrInvalidArgument", err)
	}
	if got := countObjects(t, h); got != before {
		t.Fatalf("%d objects after the aborted transaction, want %d", got, before)
	}
}

// Four goroutines creating objects in one Update at once: the Update
// either fails with ErrInvalidArgument, writing nothing, or (if no two
// calls overlapped) commits every object. Before, it committed a part of
// them, or the process died of concurrent map writes.
func TestTxSharedNeverCommitsPart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, _ := probeHeap(t)
	before := countObjects(t, h)
	const workers, each = 4, 1000
	err := h.Update(ctx, func(tx *oss.Tx) error {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					oss.New(tx, w*each+i)
				}
			})
		}
		wg.Wait()
		return nil
	})
	got := countObjects(t, h) - before
	switch {
	case err == nil && got != workers*each:
		t.Fatalf("Update returned nil with %d of %d objects written", got, workers*each)
	case err != nil && !errors.Is(err, oss.ErrInvalidArgument):
		t.Fatalf("Update: %v; want nil or ErrInvalidArgument", err)
	case err != nil && got != 0:
		t.Fatalf("Update returned %v with %d objects written", err, got)
	}
	t.Logf("Update: %v, %d objects", err, got)
}

// A Scan function uses the transaction that scans, from the scan's
// goroutine, scan within scan included: that is not sharing it.
func TestScanFunctionUsesItsTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, r := probeHeap(t)
	err := h.Update(ctx, func(tx *oss.Tx) error {
		var err error
		tx.Scan(func(id uuid.UUID) bool {
			var v int64
			if v, err = oss.Get[int64](tx, id); err != nil {
				return false
			}
			if err = oss.Put(tx, id, v+1); err != nil {
				return false
			}
			err = tx.Scan(func(uuid.UUID) bool { _, err = tx.Exists(id); return err == nil })
			return err == nil
		})
		return err
	})
	if err != nil {
		t.Fatalf("Update whose Scan function uses its Tx: %v", err)
	}
	h.View(ctx, func(tx *oss.Tx) error {
		if v, err := r.Get(tx); err != nil || v != 1 {
			t.Errorf("after the Update: %d, %v; want 1", v, err)
		}
		return nil
	}, nil)
}

// A []byte or string value longer than MaxCommitBytes is refused by Put
// with ErrTooLarge, before it is encoded, and its transaction writes
// nothing. Before, Put encoded it and returned nil, and only the commit
// refused it.
func TestPutRefusesLongValueUnencoded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: quietLogger(), MaxCommitBytes: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	h, err := n.CreateHeapIfNotExists(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{"[]byte": make([]byte, 1<<16+1), "string": string(make([]byte, 1<<16+1))} {
		var putErr error
		err := h.Update(ctx, func(tx *oss.Tx) error {
			if _, err := oss.New(tx, 1); err != nil {
				return err
			}
			switch v := v.(type) {
			case []byte:
				_, putErr = oss.New(tx, v)
			case string:
				_, putErr = oss.New(tx, v)
			}
			return nil
		})
		var tle *oss.TooLargeError
		if !errors.As(putErr, &tle) || tle.Size != 1<<16+1 {
			t.Errorf("%s: Put of a value longer than MaxCommitBytes: %v; want a *TooLargeError of its length", name, putErr)
		}
		if !errors.Is(err, oss.ErrTooLarge) {
			t.Errorf("%s: Update: %v; want ErrTooLarge", name, err)
		}
	}
	if got := countObjects(t, h); got != 0 {
		t.Fatalf("%d objects written; want none", got)
	}
}

// Negative WatchOptions.Buffer and BufferBytes are refused, as negative
// Config.WatchBuffer and WatchBufferBytes are. Before, they meant the
// default.
func TestWatchRefusesNegativeBuffers(t *testing.T) {
	t.Parallel()
	_, h, _ := probeHeap(t)
	for _, o := range []oss.WatchOptions{{Buffer: -1}, {BufferBytes: -1}, {Merge: true, BufferBytes: -1}} {
		w, err := h.Watch(&o)
		if !errors.Is(err, oss.ErrInvalidArgument) {
			t.Errorf("Watch(%+v): %v; want ErrInvalidArgument", o, err)
		}
		if w != nil {
			w.Close()
		}
	}
}

// A panic in an OnCommit function goes on out of Update as an
// *OnCommitPanic that says the transaction committed, and at which
// index, after the other OnCommit functions ran. Before, the bare panic
// value escaped, and the functions after it did not run.
func TestOnCommitPanicSaysCommitted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, r := probeHeap(t)
	ran := false
	var p any
	func() {
		defer func() { p = recover() }()
		h.Update(ctx, func(tx *oss.Tx) error {
			tx.OnCommit(func() { panic("boom") })
			tx.OnCommit(func() { ran = true })
			return r.Put(tx, 5)
		})
	}()
	op, ok := p.(*oss.OnCommitPanic)
	if !ok {
		t.Fatalf("Update panicked with %#v; want an *oss.OnCommitPanic", p)
	}
	if op.Value != "boom" || op.Index == 0 || len(op.Stack) == 0 {
		t.Errorf("OnCommitPanic %+v; want Value boom, the commit's index and a stack", op)
	}
	if !ran {
		t.Error("the OnCommit function after the one that panicked did not run")
	}
	h.View(ctx, func(tx *oss.Tx) error {
		if v, err := r.Get(tx); err != nil || v != 5 {
			t.Errorf("after the Update: %d, %v; want 5 committed", v, err)
		}
		return nil
	}, nil)
}
