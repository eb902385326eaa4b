package oss_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/persist"
)

// Disk fault tests of a lone node, its data directory on a file system
// given in Config.FS.

// startOn starts a durable node on fsys, closed (at once) when the test
// ends unless the test closed it. d zero means the default durability.
func startOn(t *testing.T, fsys persist.FS, d oss.Durability) *oss.Node {
	t.Helper()
	n, err := oss.Start(context.Background(), &oss.Config{Name: "solo", DataDir: "/data/solo", FS: fsys, Durability: d, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { crash(n) })
	return n
}

// crash closes a node without hand-over or leave: Close with a context
// that has ended.
func crash(n *oss.Node) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n.Close(ctx)
}

func openBank(t *testing.T, n *oss.Node) *oss.Heap {
	t.Helper()
	h, err := n.CreateHeapIfNotExists(context.Background(), "bank", nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func put(h *oss.Heap, id uuid.UUID, balance int64) error {
	return update(h, func(tx *oss.Tx) error { return oss.Put(tx, id, acct{balance}) })
}

// While the log cannot be written (a full disk, an I/O error, a sync that
// fails, even with the cut-back of what it covered) commits fail with an
// error that says so, nothing of them becomes visible, reads go on,
// commits work again once the disk does, and the node starts again on
// what the disk holds.
func TestDiskFullFailsCommitsAndRecovers(t *testing.T) {
	t.Parallel()
	ffs := &persist.FaultFS{FS: persist.NewMemFS()}
	n := startOn(t, ffs, 0)
	h := openBank(t, n)
	id := uuid.New()
	if err := put(h, id, 1); err != nil {
		t.Fatal(err)
	}
	for _, fault := range []struct {
		err error
		ops []persist.Op
	}{
		{syscall.ENOSPC, []persist.Op{persist.OpWrite, persist.OpSync}},
		{syscall.EIO, []persist.Op{persist.OpWrite, persist.OpSync}},
		{syscall.EIO, []persist.Op{persist.OpSync}},
		{syscall.EIO, []persist.Op{persist.OpSync, persist.OpTruncate}},
	} {
		ffs.SetRule(func(op persist.Op, name string) error {
			if slices.Contains(fault.ops, op) {
				return fault.err
			}
			return nil
		})
		for range 3 {
			if err := put(h, id, 666); !errors.Is(err, fault.err) {
				t.Fatalf("a commit while %v fail with %v: %v", fault.ops, fault.err, err)
			}
		}
		if got := balance(t, h, id); got == 666 {
			t.Fatalf("a read while the disk fails: %v", got)
		}
		ffs.SetRule(nil)
		waitUntil(t, "commits to work again", func() bool { return put(h, id, 2) == nil })
	}
	if got := balance(t, h, id); got != 2 {
		t.Fatalf("after the disk came back the object holds %d", got)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	n = startOn(t, ffs, 0)
	if got := balance(t, openBank(t, n), id); got != 2 {
		t.Fatalf("after a restart the object holds %v, want 2", got)
	}
}

// Node.Close reports what the log and the store could not close.
func TestDiskCloseReturnsErrors(t *testing.T) {
	t.Parallel()
	ffs := &persist.FaultFS{FS: persist.NewMemFS()}
	n := startOn(t, ffs, 0)
	if err := put(openBank(t, n), uuid.New(), 1); err != nil {
		t.Fatal(err)
	}
	ffs.SetRule(func(op persist.Op, name string) error {
		if op == persist.OpClose && strings.HasSuffix(name, ".wal") {
			return syscall.EIO
		}
		return nil
	})
	if err := n.Close(context.Background()); !errors.Is(err, syscall.EIO) {
		t.Fatalf("close when the log's segment does not close: %v", err)
	}
}

// A record damaged in the middle of the log (not a torn last write) stops
// the node from starting, with an error that names the file and offset and
// says how to recover.
func TestCorruptLogRefusesToStart(t *testing.T) {
	t.Parallel()
	mem := persist.NewMemFS()
	n := startOn(t, mem, 0)
	h := openBank(t, n)
	for i := range 20 {
		if err := put(h, uuid.New(), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	crash(n)
	names, _ := mem.ReadDir("/data/solo/wal")
	seg := filepath.Join("/data/solo/wal", names[0])
	f, _ := mem.Open(seg)
	data, _ := io.ReadAll(f)
	f.Close()
	data[len(bytes.TrimRight(data, "\x00"))/3] ^= 0x55 // in the records, not in the zeros the log filled ahead
	g, _ := mem.Create(seg)
	g.Write(data)
	g.Sync()
	g.Close()
	_, err := oss.Start(context.Background(), &oss.Config{Name: "solo", DataDir: "/data/solo", FS: mem, Logger: quietLogger()})
	var ce *persist.CorruptError
	if !errors.As(err, &ce) || ce.File != seg || !strings.Contains(err.Error(), "offset") || !errors.Is(err, oss.ErrCorrupt) || !strings.Contains(err.Error(), "Join") {
		t.Fatalf("a node on a corrupt log: %v", err)
	}
}

// In batch mode a failed sync of the log loses what was acknowledged since
// the last good one: the node does not go on as if it had not (nor trust
// a second sync). Commits fail from then on, with the cause, those in
// flight as unknown, later ones definitely; reads go on; Close reports the
// failure; and the node starts again with what the last good sync kept.
func TestDiskSyncFailureInBatchMode(t *testing.T) {
	t.Parallel()
	ffs := &persist.FaultFS{FS: persist.NewMemFS()}
	var mu sync.Mutex
	dirty, failing := false, false
	ffs.SetRule(func(op persist.Op, name string) error {
		if !strings.HasSuffix(name, ".wal") {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		switch op {
		case persist.OpWrite:
			dirty = true
		case persist.OpSync:
			dirty = false
			if failing {
				return syscall.EIO
			}
		}
		return nil
	})
	// waitSync waits until the log has tried to sync everything written to
	// it so far. (It waited for a sync begun after it was called: in batch
	// mode the log syncs only what it has not synced, so once the sync it
	// waited for had come first, under load, it waited for ever.)
	waitSync := func() {
		waitUntil(t, "a sync of the log", func() bool { mu.Lock(); defer mu.Unlock(); return !dirty })
	}
	n := startOn(t, ffs, oss.DurabilityBatch)
	h := openBank(t, n)
	id := uuid.New()
	if err := put(h, id, 1); err != nil {
		t.Fatal(err)
	}
	waitSync()
	mu.Lock()
	failing = true
	mu.Unlock()
	put(h, id, 2) // acknowledged once written, or failed: its sync fails
	waitSync()
	mu.Lock()
	failing = false // the disk works again: the log must still not be trusted
	mu.Unlock()
	err := put(h, id, 3)
	if !errors.Is(err, syscall.EIO) || !errors.Is(err, persist.ErrFailed) {
		t.Fatalf("a commit after a failed sync: %v", err)
	}
	if err := put(h, id, 4); !errors.Is(err, persist.ErrFailed) || errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a commit once the replica knows its log failed: %v; want a definite failure", err)
	}
	if got := balance(t, h, id); got == 3 || got == 4 {
		t.Fatalf("a read after the log failed: %v", got)
	}
	if err := n.Close(context.Background()); !errors.Is(err, syscall.EIO) || !errors.Is(err, persist.ErrFailed) {
		t.Fatalf("close after the log failed: %v", err)
	}
	n = startOn(t, ffs, oss.DurabilityBatch)
	h = openBank(t, n)
	if got := balance(t, h, id); got != 1 && got != 2 {
		t.Fatalf("after a restart the object holds %v, want what was synced", got)
	}
	if err := put(h, id, 5); err != nil {
		t.Fatalf("a commit after the restart: %v", err)
	}
}
