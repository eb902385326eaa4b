package oss_test

import (
	"context"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// An Update called inside an Update function, or inside an OnCommit
// function, is a transaction of its own (Heap.Update). After the outer
// transaction loses a conflict on an object, its retry holds that
// object's gate on the node; a nested Update that reads the object must
// not wait for that gate for ever, for its holder is waiting for the
// nested Update.

// nestedHeap starts a node with a heap holding two objects, hot and
// audit, both 0.
func nestedHeap(t *testing.T) (*oss.Heap, oss.Ref[int], oss.Ref[int]) {
	t.Helper()
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	h, err := n.CreateHeapIfNotExists(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	var hot, audit oss.Ref[int]
	err = h.Update(ctx, func(tx *oss.Tx) (err error) {
		if hot, err = oss.New(tx, 0); err != nil {
			return err
		}
		audit, err = oss.New(tx, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, hot, audit
}

// copyHot is an Update function that copies hot into audit: it reads hot.
func copyHot(hot, audit oss.Ref[int]) func(*oss.Tx) error {
	return func(tx *oss.Tx) error {
		v, err := oss.Get[int](tx, hot.ID)
		if err != nil {
			return err
		}
		return oss.Put(tx, audit.ID, v)
	}
}

// checkNested checks, after the outer Update returned err, that it
// committed, hot holds 101 and audit holds want.
func checkNested(t *testing.T, h *oss.Heap, hot, audit oss.Ref[int], err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("outer Update: %v", err)
	}
	err = h.View(context.Background(), func(tx *oss.Tx) error {
		v, err := oss.Get[int](tx, hot.ID)
		if err != nil {
			return err
		}
		a, err := oss.Get[int](tx, audit.ID)
		if err != nil {
			return err
		}
		if v != 101 || a != want {
			t.Errorf("hot %d audit %d, want 101 and %d", v, a, want)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func TestNestedUpdateAfterConflictEnds(t *testing.T) {
	h, hot, audit := nestedHeap(t)
	// A bound for the test only: without it, a nested Update waiting for
	// its caller's gate would hang the test.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runs := 0
	err := h.Update(ctx, func(tx *oss.Tx) error {
		runs++
		v, err := oss.Get[int](tx, hot.ID)
		if err != nil {
			return err
		}
		if runs == 1 { // another writer takes hot: this run loses
			if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, hot.ID, 100) }); err != nil {
				return err
			}
		}
		if err := h.Update(ctx, copyHot(hot, audit)); err != nil {
			return err
		}
		return oss.Put(tx, hot.ID, v+1)
	})
	checkNested(t, h, hot, audit, err, 100)
	if runs != 2 {
		t.Errorf("the function ran %d times, want 2", runs)
	}
}

func TestOnCommitUpdateAfterConflictEnds(t *testing.T) {
	h, hot, audit := nestedHeap(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runs := 0
	var nested error
	err := h.Update(ctx, func(tx *oss.Tx) error {
		runs++
		v, err := oss.Get[int](tx, hot.ID)
		if err != nil {
			return err
		}
		if runs == 1 {
			if err := h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, hot.ID, 100) }); err != nil {
				return err
			}
		}
		tx.OnCommit(func() {
			nested = h.Update(ctx, copyHot(hot, audit))
		})
		return oss.Put(tx, hot.ID, v+1)
	})
	if nested != nil {
		t.Fatalf("Update in OnCommit: %v", nested)
	}
	checkNested(t, h, hot, audit, err, 101)
}
