package oss_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

// The largest object one Update can commit backs up, and the backup
// restores on the same node (same MaxCommitBytes), with its neighbours.
// A restore used to size its commits by a fixed estimate (64 bytes a
// commit, 32 an object) larger than the encoding, and refused such an
// object as a damaged backup.
func TestRestoreEdgeObject(t *testing.T) {
	const max = 64 << 10
	ctx := context.Background()
	n := bkStartNode(t, max)
	h, err := n.CreateHeap(ctx, "edge", nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func(size int) error {
		return h.Update(ctx, func(tx *oss.Tx) error {
			return oss.Put(tx, uuid.New(), bytes.Repeat([]byte{7}, size))
		})
	}
	bkFill(t, h, 20, 3000, 3)
	lo, hi := max-1000, max // lo commits, hi does not
	if err := put(lo); err != nil {
		t.Fatal(err)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if err := put(mid); err == nil {
			lo = mid
		} else if errors.Is(err, oss.ErrTooLarge) {
			hi = mid
		} else {
			t.Fatal(err)
		}
	}
	b, _ := backupOf(t, h)
	if _, err := n.RestoreHeap(ctx, "edge2", bytes.NewReader(b), nil); err != nil {
		t.Fatalf("RestoreHeap of a backup of this node's own heap (its largest object %d bytes, the limit %d): %v", lo, max, err)
	}
	rh, err := n.Heap(ctx, "edge2")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := backupOf(t, rh)
	equalBackups(t, "edge2", parseBackup(t, got), parseBackup(t, b))
}

// An object that fits in no commit of the restoring node is refused as
// too large for its MaxCommitBytes (ErrTooLarge), naming its offset,
// not as a damaged backup: the backup is sound. Nothing is kept. Both an
// object whose record is under the node's limit (its commit is not) and
// one whose record is over it.
func TestRestoreObjectTooLargeNotBad(t *testing.T) {
	const max = 64 << 10
	ctx := context.Background()
	big := bkStartNode(t, 0)
	small := bkStartNode(t, max)
	for _, size := range []int{max - 30, 200 << 10} {
		h, err := big.CreateHeap(ctx, "wide", nil)
		if err != nil {
			t.Fatal(err)
		}
		bkFill(t, h, 3, 100, 1)
		if err := h.Update(ctx, func(tx *oss.Tx) error {
			return oss.Put(tx, uuid.New(), bytes.Repeat([]byte{7}, size))
		}); err != nil {
			t.Fatal(err)
		}
		b, _ := backupOf(t, h)
		if _, err := oss.VerifyBackup(bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		_, err = small.RestoreHeap(ctx, "wide", bytes.NewReader(b), nil)
		if !errors.Is(err, oss.ErrTooLarge) || errors.Is(err, oss.ErrBadBackup) || !strings.Contains(err.Error(), "MaxCommitBytes") ||
			!strings.Contains(err.Error(), "at offset") || !strings.Contains(err.Error(), "nothing was kept") {
			t.Errorf("RestoreHeap of an object of %d bytes on a node of MaxCommitBytes %d: %v; want ErrTooLarge (not ErrBadBackup) at its offset, nothing kept", size, max, err)
		}
		bkAwaitNoHeap(t, small, "wide")
		if err := big.DropHeap(ctx, "wide"); err != nil {
			t.Fatal(err)
		}
	}
}
