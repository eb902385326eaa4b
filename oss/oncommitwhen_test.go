package oss_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

// OnCommit runs as its doc says: never in a View, whose transaction does
// not commit; at Commit of a read-only transaction from Begin; once after
// an Update, one that only read included; and not at all when registered
// on a transaction that has ended, from an OnCommit function.
func TestOnCommitRunsWhereItsDocSays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, r := probeHeap(t)
	runs := func(do func(f func()) error) int {
		t.Helper()
		n := 0
		if err := do(func() { n++ }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := runs(func(f func()) error {
		return h.View(ctx, func(tx *oss.Tx) error { tx.OnCommit(f); return nil }, nil)
	}); n != 0 {
		t.Errorf("an OnCommit function of a View ran %d times, want 0", n)
	}
	if n := runs(func(f func()) error {
		tx, err := h.Begin(ctx, &oss.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		tx.OnCommit(f)
		return tx.Commit()
	}); n != 1 {
		t.Errorf("an OnCommit function of a read-only transaction from Begin ran %d times at Commit, want 1", n)
	}
	if n := runs(func(f func()) error {
		return h.Update(ctx, func(tx *oss.Tx) error {
			_, err := r.Get(tx)
			tx.OnCommit(f)
			return err
		})
	}); n != 1 {
		t.Errorf("an OnCommit function of an Update that only read ran %d times, want 1", n)
	}
	if n := runs(func(f func()) error {
		return h.Update(ctx, func(tx *oss.Tx) error {
			tx.OnCommit(func() { tx.OnCommit(f) })
			return oss.Put(tx, uuid.New(), 1)
		})
	}); n != 0 {
		t.Errorf("an OnCommit function registered from another ran %d times, want 0", n)
	}
}
