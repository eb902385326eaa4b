package oss_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// The refusal of a write over the buffered limit counts the writes the
// record would hold: an overwrite of an object already buffered is one
// write, not two (it said 3 for two objects).
func TestTooLargeCountsAnOverwriteOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, _ := probeHeap(t)
	a, b := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	err := h.Update(ctx, func(tx *oss.Tx) error {
		if err := oss.Put(tx, a, make([]byte, 1<<20)); err != nil {
			return err
		}
		if err := oss.Put(tx, b, make([]byte, 3<<20)); err != nil {
			return err
		}
		return oss.Put(tx, a, make([]byte, 6<<20))
	})
	var tl *oss.TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, oss.ErrTooLarge) {
		t.Fatalf("Update that grew an object past the limit returned %v, want a *TooLargeError", err)
	}
	if tl.Writes != 2 {
		t.Fatalf("the refusal counts %d writes (%v); want 2: a and b", tl.Writes, err)
	}
}
