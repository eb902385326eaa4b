package oss_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// Change.Decode fails as Get does: a value that does not decode into the
// requested type is a *DecodeError naming the object, and a deleted
// object matches ErrNotFound.
func TestChangeDecodeErrors(t *testing.T) {
	_, h, r := probeHeap(t)
	ctx := context.Background()
	w, err := h.Watch(&oss.WatchOptions{IDs: []uuid.UUID{r.ID}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Next(ctx); err != nil { // the snapshot
		t.Fatal(err)
	}
	if err := h.Update(ctx, func(tx *oss.Tx) error { return tx.Delete(r.ID) }); err != nil {
		t.Fatal(err)
	}
	ev, err := w.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := ev.Objects[0].Decode(&n); !errors.Is(err, oss.ErrNotFound) {
		t.Errorf("Decode of a deletion: %v, want ErrNotFound", err)
	}
	c := oss.Change{ID: r.ID, Version: 1, Value: []byte{0x63, 'a', 'b', 'c'}} // the text "abc"
	var de *oss.DecodeError
	if err := c.Decode(&n); !errors.As(err, &de) || de.ID != r.ID || de.Type.String() != "int64" {
		t.Errorf("Decode of a string as an int64: %v, want a *DecodeError of the object as int64", err)
	}
	if err := c.Decode(n); !errors.As(err, &de) {
		t.Errorf("Decode into a non-pointer: %v, want a *DecodeError", err)
	}
}
