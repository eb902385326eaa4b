package oss

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// A node whose log loses the segment it writes while it runs (removed
// alone, the segments before it left) commits nothing more: the commit
// whose sync finds it gone fails, and every later one, saying the log is
// gone; Status says so, naming the segment; Close returns it. Restarted,
// the node refuses to start, naming the log's mark of the loss. Before,
// the node went on committing into the unlinked segment, and a restart
// read the segments before it as a log that ended there (a crash just
// after a rotation reads so): it started without the commits it had
// acknowledged, and said nothing.
func TestNodeRefusesALogWhoseSegmentWentWhileItRan(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	mem := persist.NewMemFS()
	cfg := segmentedConfig(mem)
	n, h := startBusy(t, &cfg)
	put := func(i int) error {
		id, v := relogPut(i)
		return update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) })
	}
	i := commitUntilSegments(t, n, h, 3)
	starts := n.disk.wal.SegmentStarts()
	seg := filepath.Join("/data", "wal", fmt.Sprintf("%016x.wal", starts[len(starts)-1]))
	if err := mem.Remove(seg); err != nil {
		n.Close(ctx)
		t.Fatal(err)
	}
	err := put(i)
	if err == nil || !errors.Is(err, persist.ErrGone) || !strings.Contains(err.Error(), seg) {
		n.Close(ctx)
		t.Fatalf("a commit once the log's segment %s is gone: %v", seg, err)
	}
	if err := put(i + 1); !errors.Is(err, persist.ErrGone) || errors.Is(err, ErrCommitUnknown) {
		n.Close(ctx)
		t.Fatalf("a commit once the replica knows its log is gone: %v; want a definite failure", err)
	}
	if st := n.Status(ctx); !strings.Contains(st.LogFailed, seg) {
		n.Close(ctx)
		t.Fatalf("the status of a node whose log is gone: LogFailed %q", st.LogFailed)
	}
	if err := n.Close(ctx); !errors.Is(err, persist.ErrGone) {
		t.Fatalf("close of a node whose log is gone: %v", err)
	}
	n, err = Start(ctx, &cfg)
	if err == nil {
		n.Close(ctx)
		t.Fatalf("a node whose log lost its segment %s while it ran started again", seg)
	}
	if mark := filepath.Join("/data", "wal", "LOST"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), mark) || !strings.Contains(err.Error(), seg) || !strings.Contains(err.Error(), "Join") {
		t.Fatalf("a restart of a node whose log lost its segment %s while it ran: %v", seg, err)
	}
}

// A node stopped, then started on a data directory whose wal/ is gone
// while its striped store holds checkpoints (and its identity, or not),
// refuses to start and names wal/: it would start as the member it was,
// or as a new one beside a store of checkpoints of its old replicas,
// holding none of what it acknowledged since. (Checked on the disk: the
// directory itself removed, not only its segments.)
func TestStartRefusesADataDirWhoseLogDirectoryIsGone(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	for _, c := range []struct {
		name  string
		files []string // removed with wal/
	}{
		{"identity kept", nil},
		{"identity removed too", []string{"NODE_ID"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			cfg := Config{Name: "solo", DataDir: dir, Logger: testLogger(), TickInterval: 10 * time.Millisecond, CheckpointEvery: 8}
			n, h := startBusy(t, &cfg)
			for i := range 40 {
				id, v := relogPut(i)
				if err := update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
					n.Close(ctx)
					t.Fatal(err)
				}
			}
			if err := n.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if m := n.disk.store.Manifest(); len(m.Spaces) == 0 {
				t.Fatal("no checkpoint was written")
			}
			wal := filepath.Join(dir, "wal")
			for _, p := range append([]string{wal}, c.files...) {
				if err := os.RemoveAll(filepath.Join(dir, filepath.Base(p))); err != nil {
					t.Fatal(err)
				}
			}
			n, err := Start(ctx, &cfg)
			if err == nil {
				n.Close(ctx)
				t.Fatalf("a node whose %s is gone, its store kept, started", wal)
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), wal) {
				t.Fatalf("a node whose %s is gone, its store kept: %v", wal, err)
			}
			t.Log(err)
		})
	}
}
