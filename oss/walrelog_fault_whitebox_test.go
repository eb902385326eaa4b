package oss

import (
	"context"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/persist"
)

// When the log fails the write or the sync of what follows the catalog's
// ask to let go of it (its hard state logged again, on its chain), the
// node goes on: the catalog still commits (a heap is created after), the
// busy heap's commits fail only while the disk does, a later ask tries
// again and the log stays within a few segments, and a restart holds
// every commit acknowledged and the catalog's term as it stood.
func TestHardStateRelogFailsAndIsTriedAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem := persist.NewMemFS()
	ffs := &persist.FaultFS{FS: mem}
	start := func() (*Node, *Heap) {
		t.Helper()
		return startBusy(t, &Config{DataDir: "/data", FS: ffs, Logger: testLogger(), TickInterval: 10 * time.Millisecond, CheckpointEvery: 64, KeepEntries: 16,
			walSegmentBytes: 64 << 10})
	}
	n, h := start()
	cat := n.catalog.Load()
	var pending atomic.Bool
	var failed atomic.Int64
	fail := []persist.Op{persist.OpWrite, persist.OpSync, persist.OpSync, persist.OpWrite}
	ffs.SetRule(func(op persist.Op, name string) error {
		if !strings.Contains(name, "/wal/") {
			return nil
		}
		k := failed.Load()
		if k >= int64(len(fail)) {
			return nil
		}
		// The loop takes the ask at its next tick, and appends the
		// catalog's hard state: the log's next write or sync fails.
		switch asked := cat.unpin.Load() != 0; {
		case asked:
			pending.Store(true)
		case pending.Load() && op == fail[k]:
			pending.Store(false)
			failed.Add(1)
			return syscall.EIO
		}
		return nil
	})
	var acked []int
	refused := 0
	for i := 0; i < 3000 || failed.Load() < int64(len(fail)) && i < 20000; i++ {
		id, v := relogPut(i)
		if err := update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
			refused++
			continue
		}
		acked = append(acked, i)
	}
	if failed.Load() < int64(len(fail)) {
		t.Fatalf("%d of %d faults injected", failed.Load(), len(fail))
	}
	t.Logf("%d commits acknowledged, %d refused while the disk failed", len(acked), refused)
	// The last fault may have failed the busy heap's last write: its
	// commits fail until the engine has made its refused writes again
	// (at a tick), then commit. A bound only against a heap that never
	// commits again.
	for try := 0; ; try++ {
		id, v := relogPut(0)
		err := update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) })
		if err == nil {
			break
		}
		if try == 2000 {
			n.Close(ctx)
			t.Fatalf("the busy heap does not commit again after the faults: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The catalog commits: its chain of log writes is whole again.
	if _, err := n.CreateHeapIfNotExists(ctx, "after", nil); err != nil {
		n.Close(ctx)
		t.Fatalf("create a heap after the faults: %v", err)
	}
	// And the log is cut past it again.
	segs := 0
	for more := 0; more < 20000; more++ {
		if segs = memSegments(t, mem); segs <= 4 {
			break
		}
		id, v := relogPut(0)
		if err := update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
	}
	term := cat.Stats().Term
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if segs > 4 {
		t.Errorf("the log holds %d segments after the faults, want at most 4", segs)
	}
	want := replayCatalog(t, mem.Crash(nil), "/data")
	if want.hard.Term != term {
		t.Errorf("the catalog's logged term is %d, was %d", want.hard.Term, term)
	}
	n, h = start()
	defer n.Close(ctx)
	if _, err := n.CreateHeapIfNotExists(ctx, "after", nil); err != nil {
		t.Fatal(err)
	}
	if err := h.View(ctx, func(tx *Tx) error {
		for _, i := range acked {
			id, v := relogPut(i)
			got, err := Get[[]byte](tx, id)
			if err != nil {
				return err
			}
			if string(got) != string(v) && i != 0 {
				t.Errorf("object %d holds another value", i)
			}
		}
		return nil
	}, nil); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}

// memSegments counts the log's segments on a MemFS node in /data.
func memSegments(t *testing.T, mem *persist.MemFS) int {
	t.Helper()
	names, err := mem.ReadDir("/data/wal")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range names {
		if strings.HasSuffix(name, ".wal") {
			n++
		}
	}
	return n
}
