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
	cfg := Config{Name: "solo", DataDir: "/data", FS: mem, Logger: testLogger(), TickInterval: 10 * time.Millisecond,
		CheckpointEvery: 1 << 20, walSegmentBytes: 32 << 10}
	n, h := startBusy(t, &cfg)
	for i := 0; len(n.disk.wal.SegmentStarts()) < 3; i++ {
		id, v := relogPut(i)
		if err := update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
	}
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
