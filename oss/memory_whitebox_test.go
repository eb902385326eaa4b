package oss

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The log a durable heap keeps in memory comes back within CheckpointBytes
// of entries once they are applied, whatever their number (it runs over
// while a checkpoint is written: entries leave only once one covers them):
// entries of 32 KiB leave memory long before CheckpointEvery of them, and
// every object is back after a restart.
func TestLogInMemoryIsBoundedByBytes(t *testing.T) {
	t.Parallel()
	const logBytes, keepBytes = 256 << 10, 64 << 10
	ctx := context.Background()
	dir := t.TempDir()
	open := func() (*Node, *Heap) {
		n, err := Start(ctx, &Config{DataDir: dir, Logger: testLogger(), CheckpointBytes: logBytes, KeepBytes: keepBytes})
		if err != nil {
			t.Fatal(err)
		}
		h, err := n.CreateHeapIfNotExists(ctx, "big", nil)
		if err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
		return n, h
	}
	n, h := open()
	const writes, size = 64, 32 << 10 // 2 MiB in all
	var ids []uuid.UUID
	for range writes {
		id := uuid.New()
		ids = append(ids, id)
		if err := update(ctx, h, func(tx *Tx) error { return Put(tx, id, make([]byte, size)) }); err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
	}
	// Entries leave memory once a checkpoint covers them, and checkpoints
	// run beside the commits: small commits go on until the log in memory
	// is back within its bound (a slow checkpoint lets it run over while
	// it is written). Without the bound the 2 MiB would stay.
	var first uint64
	var held int
	for i := 0; ; i++ {
		if err := update(ctx, h, func(tx *Tx) error { return Put(tx, uuid.New(), 1) }); err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
		first, _ = h.storage.FirstIndex()
		last, _ := h.storage.LastIndex()
		held = 0
		if ents, err := h.storage.Entries(first, last+1, math.MaxUint64); err == nil {
			for _, e := range ents {
				held += len(e.Data)
			}
		}
		if held <= logBytes+size || i == 500 {
			break
		}
		time.Sleep(time.Millisecond) // a moment for the checkpoint under way
	}
	n.Close(ctx)
	if held > logBytes+size {
		t.Errorf("the log holds %d bytes of entries in memory after %d of %d bytes and 500 small commits, want at most about %d", held, writes, size, logBytes)
	}
	if first < writes/2 {
		t.Errorf("the log in memory starts at %d after %d entries of %d bytes: not compacted by bytes", first, writes, size)
	}

	n, h = open()
	defer n.Close(ctx)
	err := h.View(ctx, func(tx *Tx) error {
		for _, id := range ids {
			if _, err := Get[[]byte](tx, id); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}
