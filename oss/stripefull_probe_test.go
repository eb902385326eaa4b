package oss_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/persist"
)

// failedCheckpoints counts the node's log lines that say a checkpoint
// failed.
type failedCheckpoints struct{ n *atomic.Int64 }

func (h failedCheckpoints) Enabled(context.Context, slog.Level) bool { return true }
func (h failedCheckpoints) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "checkpoint failed") {
		h.n.Add(1)
	}
	return nil
}
func (h failedCheckpoints) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h failedCheckpoints) WithGroup(string) slog.Handler      { return h }

// checkpointsStored returns how many checkpoints the node's heaps have
// stored (the count of oss_checkpoint_duration_seconds).
func checkpointsStored(t *testing.T, n *oss.Node) uint64 {
	var c uint64
	for _, m := range nodeMetric(t, n, "oss_checkpoint_duration_seconds") {
		c += m.GetHistogram().GetSampleCount()
	}
	return c
}

// One stripe's disk fails while the node checkpoints, the other stripes
// and the data directory working: it fills up (ENOSPC on every write and
// file creation in its directory), its syncs fail (EIO), or it turns
// read-only (EROFS on every change, reads go on). Checkpoints fail and say so,
// every commit goes on and is acknowledged, a restart while the stripe
// still fails (after a power loss) recovers every acknowledged commit from
// the log and commits on, and once the disk is back a checkpoint is stored
// and a restart recovers everything again.
func TestProbeOneStripeFailsDuringCheckpoints(t *testing.T) {
	for _, fault := range []struct {
		name string
		err  error
		ops  []persist.Op
	}{
		{"full", syscall.ENOSPC, []persist.Op{persist.OpWrite, persist.OpCreate}},
		{"sync", syscall.EIO, []persist.Op{persist.OpSync}},
		{"readonly", syscall.EROFS, []persist.Op{persist.OpWrite, persist.OpSync, persist.OpCreate, persist.OpTruncate, persist.OpRename, persist.OpRemove, persist.OpSyncDir}},
	} {
		t.Run(fault.name, func(t *testing.T) {
			t.Parallel()
			oneStripeFails(t, fault.err, fault.ops)
		})
	}
}

func oneStripeFails(t *testing.T, fault error, ops []persist.Op) {
	mem := persist.NewMemFS()
	ffs := &persist.FaultFS{FS: mem}
	rng := rand.New(rand.NewPCG(1, 2))
	stripes := []string{"/disk0/s", "/disk1/s", "/disk2/s"}
	failed := &atomic.Int64{}
	start := func() *oss.Node {
		n, err := oss.Start(context.Background(), &oss.Config{Name: "solo", DataDir: "/data/solo", StripeDirs: stripes, FS: ffs, CheckpointEvery: 16, Logger: slog.New(failedCheckpoints{failed})})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { crash(n) })
		return n
	}
	powerLoss := func(n *oss.Node) {
		crash(n)
		mem = mem.CrashPages(rng)
		ffs.FS = mem
	}
	want := map[uuid.UUID]int64{}
	commit := func(h *oss.Heap) {
		t.Helper()
		id := uuid.New()
		if err := put(h, id, int64(len(want)+1)); err != nil {
			t.Fatalf("commit %d: %v", len(want), err)
		}
		want[id] = int64(len(want) + 1)
	}
	check := func(what string, h *oss.Heap) {
		t.Helper()
		for id, v := range want {
			if got := balance(t, h, id); got != v {
				t.Fatalf("%s: %v holds %d, want %d", what, id, got, v)
			}
		}
	}
	n := start()
	h := openBank(t, n)
	waitUntil(t, "a checkpoint", func() bool { commit(h); return checkpointsStored(t, n) > 0 })
	before := failed.Load()
	ffs.SetRule(func(op persist.Op, name string) error {
		if slices.Contains(ops, op) && (name == stripes[1] || strings.HasPrefix(name, stripes[1]+"/")) {
			return fault
		}
		return nil
	})
	// A checkpoint that wrote its stripes before the rule may still be
	// stored after it: checkpoints run one at a time, so the count is
	// taken once one has failed under the rule.
	waitUntil(t, "a failed checkpoint", func() bool { commit(h); return failed.Load() > before })
	stored := checkpointsStored(t, n)
	waitUntil(t, "two more failed checkpoints", func() bool { commit(h); return failed.Load() >= before+3 })
	if got := checkpointsStored(t, n); got != stored {
		t.Fatalf("%d checkpoints stored with stripe %s failing", got-stored, stripes[1])
	}
	check("stripe failing", h)
	powerLoss(n)
	n = start()
	h = openBank(t, n)
	check("restarted with the stripe failing", h)
	for range 40 {
		commit(h)
	}
	ffs.SetRule(nil)
	waitUntil(t, "a checkpoint once the disk is back", func() bool { commit(h); return checkpointsStored(t, n) > 0 })
	check("disk back", h)
	powerLoss(n)
	n = start()
	check("restarted after the disk came back", openBank(t, n))
}
