package oss

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// TestNodeCrashEnumerated runs a durable node on a fresh data directory
// and two stripe directories of a persist.RecFS through commits,
// checkpoints to the striped store and the log's truncation after them,
// twice (the second run recovers what the first left); then, for a power
// loss after every operation (unsynced data lost or torn, names not
// synced lost or kept; with OSS_LONG set, every mode of persist.RecFS),
// it restarts the node on what the disk would hold and checks that every
// commit acknowledged by then is there, and nothing never committed. It
// checks the order too: the log loses a segment only once a manifest
// renamed into place has its directory synced.
func TestNodeCrashEnumerated(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	long := os.Getenv("OSS_LONG") != ""
	rec := persist.NewRecFS()
	var acked atomic.Int64
	rec.Tag = acked.Load
	c := startTestNodesWith(t, 7, func(cfg *Config) { cfg.CheckpointEvery = 8; cfg.walSegmentBytes = 4096 })
	c.fss["solo"] = rec
	id := uuid.New()
	total := nodeEnumRun(t, c, id, &acked, 0)
	// Again on what the first run left: the recovery's operations, and
	// more commits, checkpoints and truncations.
	total = nodeEnumRun(t, c, id, &acked, total)
	checkCutAfterManifest(t, rec)
	modes := []persist.CrashData{persist.DataLost, persist.DataTorn}
	if long {
		modes = persist.CrashDataModes
	}
	points, seen := 0, map[[2]uint64]bool{}
	for k := range rec.Points() {
		op, tag := rec.Point(k)
		names := []int{persist.NamesLost, persist.NamesKept}
		for p := 1; long && p < rec.Pending(k); p++ {
			names = append(names, p)
		}
		for _, mode := range modes {
			for _, nm := range names {
				img, sum := rec.CrashAt(k, mode, nm)
				if seen[[2]uint64{sum, uint64(tag)}] {
					continue
				}
				seen[[2]uint64{sum, uint64(tag)}] = true
				points++
				checkNodeImage(t, c, img, id, tag, total, fmt.Sprintf("%s, %v, names %s of %d pending kept", op, mode, keptNames(nm), rec.Pending(k)), k)
			}
		}
	}
	t.Logf("%d operations, %d restarts", rec.Points(), points)
}

// nodeEnumStripes are the node's two stripe directories, apart from its
// data directory: a checkpoint writes both in parallel.
var nodeEnumStripes = []string{"/disk1/solo", "/disk2/solo"}

func nodeEnumConfig(cfg *Config) { cfg.DataDir, cfg.StripeDirs = "/data/solo", nodeEnumStripes }

// nodeEnumRun starts the node, commits to account id from balance from+1
// on, noting each acknowledged in acked, until a checkpoint lets the log
// lose a segment, and a few more, kills the node and returns the last
// balance committed.
func nodeEnumRun(t *testing.T, c *testCluster, id uuid.UUID, acked *atomic.Int64, from int64) int64 {
	t.Helper()
	n := c.add("solo", false, nodeEnumConfig)
	defer c.kill("solo")
	h, err := n.CreateHeapIfNotExists(context.Background(), "bank", nil)
	if err != nil {
		t.Fatal(err)
	}
	first := n.disk.wal.SegmentStarts()[0]
	total := int64(0)
	for i := from + 1; total == 0 || i <= total; i++ {
		if err := update(context.Background(), h, func(tx *Tx) error { return Put(tx, id, acct{i}) }); err != nil {
			t.Fatal(err)
		}
		acked.Store(i)
		if total == 0 && n.disk.wal.SegmentStarts()[0] > first {
			total = i + 10
		}
		if i > from+5000 {
			t.Fatal("5000 commits and the log is not truncated")
		}
	}
	return total
}

// checkCutAfterManifest checks, on the operations rec recorded, that no
// segment of the log is removed while a manifest renamed into place is
// not durable, nor before a manifest is.
func checkCutAfterManifest(t *testing.T, rec *persist.RecFS) {
	t.Helper()
	published, pending := false, ""
	for k := range rec.Points() {
		op, _ := rec.Point(k)
		switch f := strings.Fields(op); {
		case f[0] == "rename" && strings.HasSuffix(f[2], "/MANIFEST"):
			pending = f[2][:len(f[2])-len("/MANIFEST")]
		case f[0] == "syncdir" && f[1] == pending:
			published, pending = true, ""
		case f[0] == "remove" && strings.HasSuffix(f[1], ".wal"):
			if !published || pending != "" {
				t.Fatalf("operation %d (%s) cuts the log before the manifest of the checkpoint is durable", k, op)
			}
		}
	}
}

// checkNodeImage starts the node on img and checks that the account id
// holds acked at least, and no more than was committed.
func checkNodeImage(t *testing.T, c *testCluster, img persist.FS, id uuid.UUID, acked, total int64, op string, k int) {
	t.Helper()
	c.fss["solo"] = img
	n := c.add("solo", false, nodeEnumConfig)
	defer c.kill("solo")
	h, err := n.CreateHeapIfNotExists(context.Background(), "bank", nil)
	if err != nil {
		t.Fatalf("power loss after operation %d (%s): %v", k, op, err)
	}
	if acked == 0 {
		return
	}
	var got acct
	err = h.View(context.Background(), func(tx *Tx) error { var err error; got, err = Get[acct](tx, id); return err }, nil)
	if err != nil || got.Balance < acked || got.Balance > total {
		t.Fatalf("power loss after operation %d (%s): the account holds %d (%v), acknowledged %d", k, op, got.Balance, err, acked)
	}
}

func keptNames(n int) string {
	if n == persist.NamesKept {
		return "all"
	}
	return fmt.Sprint(n)
}
