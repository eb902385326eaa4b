package oss_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

type refHolder struct {
	Parent oss.Ref[int]
	N      int
}

// A CBOR null read as a Ref is the zero Ref, as null read as any other
// type is its zero value (Get's rules: encoding/json's), so a field that
// held a nil pointer or a JSON null (an ossd put of {"Parent": null}, a
// type whose field was a *Ref) reads as a ref pointing nowhere. It failed
// the whole Get with "ref: 0 bytes, want 16".
func TestNullReadsAsTheZeroRef(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, _ := probeHeap(t)
	doc, null := uuid.New(), uuid.New()
	err := h.Update(ctx, func(tx *oss.Tx) error {
		if err := oss.Put[any](tx, doc, map[string]any{"Parent": nil, "N": 7}); err != nil {
			return err
		}
		return oss.Put[*oss.Ref[int]](tx, null, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = h.View(ctx, func(tx *oss.Tx) error {
		v, err := oss.Get[refHolder](tx, doc)
		if err != nil || !v.Parent.IsZero() || v.N != 7 {
			t.Errorf("a null field read as a Ref: %+v, %v; want the zero Ref and N 7", v, err)
		}
		r, err := oss.Get[oss.Ref[int]](tx, null)
		if err != nil || !r.IsZero() {
			t.Errorf("null read as a Ref: %v, %v; want the zero Ref", r, err)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}
