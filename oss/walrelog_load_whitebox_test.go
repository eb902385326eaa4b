package oss

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/persist"
)

// A single node's heap under a writer that waits for each commit logs
// its hard state only once: a lone leader's commit index moves in a
// Ready of its own, which is not logged, and the next entries come
// after it. On a disk whose sync takes most of each commit's time, the
// heap holds a write in flight at almost every tick. The log is cut past
// its first record all the same: the hard state is logged again behind
// the writes in flight, not at a tick with none, which came seldom, and
// the log grew meanwhile.
func TestLogTruncatedPastABusyLoneLeader(t *testing.T) {
	t.Parallel()
	const segment = 32 << 10
	ctx := context.Background()
	dir := t.TempDir()
	// Each sync of the log takes a moment at least, as a disk's does.
	fsys := &persist.FaultFS{FS: persist.OS{}}
	fsys.SetRule(func(op persist.Op, name string) error {
		if op == persist.OpSync && strings.HasSuffix(name, ".wal") {
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	})
	open := func() (*Node, *Heap) {
		return startBusy(t, &Config{DataDir: dir, FS: fsys, Logger: testLogger(), CheckpointEvery: 64, KeepEntries: 16, walSegmentBytes: segment})
	}
	n, h := open()
	most := 0
	var ids []uuid.UUID
	for i := range 1000 {
		id := uuid.UUID{0: 'b', 14: byte(i >> 8), 15: byte(i)}
		if err := commitBusy(ctx, h, func(tx *Tx) error { return Put(tx, id, make([]byte, 1<<10)) }); err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
		ids = append(ids, id)
		most = max(most, walSegments(t, dir))
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if most > 10 {
		t.Errorf("the log held up to %d segments of %d bytes in %d commits, want at most 10", most, segment, len(ids))
	}
	n, h = open()
	defer n.Close(ctx)
	if err := h.View(ctx, func(tx *Tx) error {
		for _, id := range ids {
			if _, err := Get[[]byte](tx, id); err != nil {
				return err
			}
		}
		return nil
	}, nil); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}
