package oss_test

import (
	"context"
	"errors"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// chain is a linked list stored inline: each node one level deeper.
type chain struct {
	V    int
	Next *chain
}

func newChain(n int) *chain {
	var c *chain
	for i := range n {
		c = &chain{V: i, Next: c}
	}
	return c
}

// A value Get could not decode again is refused by Put with an
// *EncodeError, and nothing of its transaction is written: before, a
// cyclic value overflowed the stack and killed the process, and a value
// nested deeper than 32 levels, an array of more than 4,194,304
// elements, or a map[any]T whose keys encode alike committed, then
// failed every read with a *DecodeError. A value at the limit is stored
// and read back.
func TestPutRefusesWhatGetCannotRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, r := probeHeap(t)
	cyclic := &chain{V: 1}
	cyclic.Next = cyclic
	var nested any = 1
	for range 33 {
		nested = []any{nested}
	}
	bad := map[string]any{
		"cyclic":           cyclic,
		"33 levels":        newChain(33),
		"33 levels in any": nested,
		"4194305 elements": make([]struct{}, 1<<22+1),
		"keys alike":       map[any]int{int(1): 1, int64(1): 2},
	}
	for name, v := range bad {
		err := h.Update(ctx, func(tx *oss.Tx) error {
			if err := r.Put(tx, 7); err != nil {
				return err
			}
			_, err := oss.New(tx, v)
			return err
		})
		var ee *oss.EncodeError
		if !errors.As(err, &ee) {
			t.Errorf("%s: Update returned %v; want an *EncodeError", name, err)
			continue
		}
		id := ee.ID
		err = h.View(ctx, func(tx *oss.Tx) error {
			if ok, err := tx.Exists(id); err != nil || ok {
				t.Errorf("%s: the refused object exists (%v, %v)", name, ok, err)
			}
			if got, err := r.Get(tx); err != nil || got != 0 {
				t.Errorf("%s: the other write of the transaction was committed: %v, %v", name, got, err)
			}
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}

	var ref oss.Ref[*chain]
	err := h.Update(ctx, func(tx *oss.Tx) (err error) {
		ref, err = oss.New(tx, newChain(32))
		return err
	})
	if err != nil {
		t.Fatalf("a value 32 levels deep: %v", err)
	}
	err = h.View(ctx, func(tx *oss.Tx) error {
		c, err := ref.Get(tx)
		if err == nil && (c == nil || c.V != 31) {
			t.Errorf("read back %+v", c)
		}
		return err
	}, nil)
	if err != nil {
		t.Fatalf("reading a value 32 levels deep: %v", err)
	}
}
