package oss

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// A node stopped, then started on a log whose last segment was removed
// meanwhile (the segments before it left), refuses to start, naming the
// segment and saying how to rebuild. Before, the log read as one that
// ended where the segment before ended, as a crash just after a rotation
// leaves it: a lone node started without every commit the segment held
// and said nothing (measured: 3,675 acknowledged puts of 20,000 gone).
func TestNodeRefusesALogWhoseLastSegmentWentWhileStopped(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	mem := persist.NewMemFS()
	cfg := segmentedConfig(mem)
	n, h := startBusy(t, &cfg)
	commitUntilSegments(t, n, h, 3)
	starts := n.disk.wal.SegmentStarts()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join("/data", "wal", fmt.Sprintf("%016x.wal", starts[len(starts)-1]))
	if err := mem.Remove(seg); err != nil {
		t.Fatal(err)
	}
	n, err := Start(ctx, &cfg)
	if err == nil {
		n.Close(ctx)
		t.Fatalf("a node whose log's last segment %s was removed while it was stopped started", seg)
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), seg) || !strings.Contains(err.Error(), "Join") {
		t.Fatalf("a start on a log whose last segment %s was removed: %v", seg, err)
	}
	t.Log(err)
}

// segmentedConfig is a lone node on mem whose log starts a new segment
// every 32 KiB and takes no checkpoint in a test's time.
func segmentedConfig(mem *persist.MemFS) Config {
	return Config{Name: "solo", DataDir: "/data", FS: mem, Logger: testLogger(), TickInterval: 10 * time.Millisecond,
		CheckpointEvery: 1 << 20, walSegmentBytes: 32 << 10}
}

// commitUntilSegments commits puts to h until n's log has segs segments,
// and returns the number of puts.
func commitUntilSegments(t *testing.T, n *Node, h *Heap, segs int) int {
	t.Helper()
	i := 0
	for ; len(n.disk.wal.SegmentStarts()) < segs; i++ {
		id, v := relogPut(i)
		if err := update(context.Background(), h, func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
			n.Close(context.Background())
			t.Fatal(err)
		}
	}
	return i
}
