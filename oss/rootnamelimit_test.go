package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// A root name longer than a commit record may be (Config.MaxCommitBytes)
// could never be written. SetRoot, DeleteRoot and Root refuse it at once
// with an error matching ErrInvalidArgument that does not repeat the
// name, and the transaction aborts whole: nothing of it is proposed or
// written, and the heap goes on. SetRoot took a name of 10 MB, and the
// transaction failed only at its commit, with ErrTooLarge.
func TestRootNameOverTheRecordLimitRefusedAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, r := probeHeap(t)
	limit := 8<<20 - 512 // Config.MaxCommitBytes by default
	calls := map[string]func(tx *oss.Tx, name string) error{
		"SetRoot":    func(tx *oss.Tx, name string) error { return tx.SetRoot(name, uuid.New()) },
		"DeleteRoot": func(tx *oss.Tx, name string) error { return tx.DeleteRoot(name) },
		"Root":       func(tx *oss.Tx, name string) error { _, err := tx.Root(name); return err },
	}
	for what, call := range calls {
		for _, size := range []int{10 << 20, limit + 1} {
			name := strings.Repeat("r", size)
			before := h.Stats().Applied
			tx, err := h.Begin(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Put(tx, 7); err != nil {
				t.Fatal(err)
			}
			err = call(tx, name)
			if !errors.Is(err, oss.ErrInvalidArgument) || len(err.Error()) > 512 {
				t.Fatalf("%s of a root name of %d bytes: %.300v; want an error matching ErrInvalidArgument, not repeating the name", what, size, err)
			}
			if cerr := tx.Commit(); !errors.Is(cerr, oss.ErrInvalidArgument) {
				t.Fatalf("Commit after %s refused a root name: %.300v; want the refusal", what, cerr)
			}
			uerr := h.Update(ctx, func(tx *oss.Tx) error {
				if err := r.Put(tx, 8); err != nil {
					return err
				}
				return call(tx, name)
			})
			if !errors.Is(uerr, oss.ErrInvalidArgument) {
				t.Fatalf("Update whose %s was refused a root name of %d bytes: %.300v; want ErrInvalidArgument", what, size, uerr)
			}
			if after := h.Stats().Applied; after != before {
				t.Fatalf("%s of a root name of %d bytes: applied index %d, then %d: something was proposed", what, size, before, after)
			}
		}
	}
	err := h.View(ctx, func(tx *oss.Tx) error {
		v, err := r.Get(tx)
		if err == nil && v != 0 {
			t.Errorf("the object is %d after refused transactions; want 0", v)
		}
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A name at the limit is no argument error (its record is too large
	// by the rest of the record, found at commit), and the heap goes on.
	err = h.Update(ctx, func(tx *oss.Tx) error { return tx.SetRoot(strings.Repeat("r", limit), uuid.New()) })
	if errors.Is(err, oss.ErrInvalidArgument) || !errors.Is(err, oss.ErrTooLarge) {
		t.Fatalf("a root name of MaxCommitBytes: %.300v; want ErrTooLarge at commit", err)
	}
	if err := h.Update(ctx, func(tx *oss.Tx) error { return tx.SetRoot("short", uuid.New()) }); err != nil {
		t.Fatal(err)
	}
}
