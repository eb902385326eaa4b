package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// A transaction that buffered more writes than one commit record holds
// took every further write until Commit refused the lot: a loop putting
// 1 MiB values held all of them (200 held 200 MiB before the refusal),
// and a caller that ignored Put's errors could grow it without bound.
// The write that takes the buffered writes over Config.MaxCommitBytes is
// refused now, with ErrTooLarge, and nothing of the transaction commits;
// overwriting one object, however often, stays within the limit.
func TestWritesOverTheRecordAreRefusedAsBuffered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, h, _ := probeHeap(t)
	mib := make([]byte, 1<<20)
	first := uuid.Must(uuid.NewV7())

	refusedAt := -1
	err := h.Update(ctx, func(tx *oss.Tx) error {
		for i := 0; i < 20; i++ {
			id := first
			if i > 0 {
				id = uuid.Must(uuid.NewV7())
			}
			if err := oss.Put(tx, id, mib); err != nil {
				refusedAt = i
				return err
			}
		}
		return nil
	})
	var tl *oss.TooLargeError
	if !errors.Is(err, oss.ErrTooLarge) || !errors.As(err, &tl) {
		t.Fatalf("Update of 20 values of 1 MiB returned %v, want ErrTooLarge", err)
	}
	// Each value buffers 1 MiB, its CBOR head and its ID: the eighth
	// takes them over the default limit (8 MiB less 512 bytes).
	if refusedAt != 7 || tl.Size <= tl.Max || tl.Writes != 8 || !strings.Contains(err.Error(), "at least") {
		t.Fatalf("refused at the Put of value %d with %v (%+v), want value 7 refused, the least record size said", refusedAt, err, tl)
	}
	if err := h.View(ctx, func(tx *oss.Tx) error {
		_, err := oss.Get[[]byte](tx, first)
		return err
	}, nil); !errors.Is(err, oss.ErrNotFound) {
		t.Fatalf("the refused transaction's first object: %v, want ErrNotFound", err)
	}

	// A caller that ignores the refusal buffers nothing more.
	err = h.Update(ctx, func(tx *oss.Tx) error {
		for i := 0; i < 20; i++ {
			oss.Put(tx, uuid.Must(uuid.NewV7()), mib)
		}
		return tx.SetRoot("r", first)
	})
	if !errors.Is(err, oss.ErrTooLarge) {
		t.Fatalf("Update that ignored the refusal returned %v, want ErrTooLarge", err)
	}

	// Root names count as well.
	name := strings.Repeat("n", 1<<20)
	err = h.Update(ctx, func(tx *oss.Tx) error {
		for i := 0; i < 10; i++ {
			if err := tx.SetRoot(name+string(rune('a'+i)), first); err != nil {
				refusedAt = i
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, oss.ErrTooLarge) || refusedAt != 7 {
		t.Fatalf("SetRoot of ten names of 1 MiB: refused at %d with %v, want the eighth refused with ErrTooLarge", refusedAt, err)
	}

	// One object overwritten 50 times holds one value: it commits.
	err = h.Update(ctx, func(tx *oss.Tx) error {
		for i := 0; i < 50; i++ {
			if err := oss.Put(tx, first, mib); err != nil {
				return err
			}
		}
		return tx.SetRoot("r", first)
	})
	if err != nil {
		t.Fatalf("one object overwritten 50 times with 1 MiB: %v", err)
	}
}
