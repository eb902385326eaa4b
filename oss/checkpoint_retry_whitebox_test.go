package oss

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/persist"
)

// A checkpoint that fails gives its objects back to the next, each as its
// last change left it unless a later change came meanwhile: with the
// striped store failing one write in five or so, a dozen objects written
// over and over, and crashes between rounds, recovery finds every object
// as the last commit left it.
func TestFailedCheckpointsGiveBackOnlyTheirLatestObjects(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	mem := persist.NewMemFS()
	ffs := &persist.FaultFS{FS: mem}
	var failing atomic.Bool
	var writes, faults atomic.Int64
	ffs.SetRule(func(op persist.Op, name string) error {
		if !failing.Load() || !strings.Contains(name, "/stripes") || op != persist.OpWrite && op != persist.OpCreate {
			return nil
		}
		if k := writes.Add(1); k%7 == 0 || k%11 == 0 {
			faults.Add(1)
			return syscall.ENOSPC
		}
		return nil
	})
	ctx := context.Background()
	ids := make([]uuid.UUID, 12)
	for i := range ids {
		ids[i] = uuid.New()
	}
	model := map[uuid.UUID]int64{}
	next := int64(0)
	for round := range 4 {
		failing.Store(false)
		c := startTestNodesWith(t, seed+uint64(round), checkpointOften(4, 1))
		c.fss["solo"] = ffs
		n := c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo" })
		h, err := n.CreateHeapIfNotExists(ctx, "bank", nil)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstModel(t, h, ids, model, round)
		failing.Store(true)
		next = commitModelled(t, h, rng, ids, model, next, 80)
		checkAgainstModel(t, h, ids, model, round)
		c.kill("solo")
	}
	if faults.Load() == 0 {
		t.Fatal("no write of the striped store failed: no checkpoint gave its objects back")
	}
}
