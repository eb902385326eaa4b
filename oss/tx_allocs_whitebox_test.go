package oss

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/consistency"
)

// An Update's first read and first write go into the transaction's own
// arrays: a read-modify-write of one object allocates nothing for them
// beyond what beginning the transaction allocates (it allocated a slice
// for each).
func TestFirstReadAndWriteAllocateNothing(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	c := startTestNodes(t, 1)
	n := c.add("a", false, nil)
	h, err := n.CreateHeapIfNotExists(ctx, "bank", nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := func() (id Ref[acct], err error) {
		err = h.Update(ctx, func(tx *Tx) error { id, err = New(tx, acct{Balance: 1}); return err })
		return id, err
	}()
	if err != nil {
		t.Fatal(err)
	}
	id, value := ref.ID, []byte{0xa0}
	begin := testing.AllocsPerRun(200, func() { h.begin(ctx, false) })
	rmw := testing.AllocsPerRun(200, func() {
		tx, _ := h.begin(ctx, false)
		if _, err := tx.read(id); err != nil {
			t.Fatal(err)
		}
		tx.write(consistency.Write{ID: id, Value: value})
	})
	if rmw != begin {
		t.Errorf("a transaction's first read and write: %v allocations beyond beginning it (%v), want none", rmw-begin, begin)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
