package oss

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/persist"
)

// A checkpoint writes each object changed since the last one as its last
// change left it: an object written twice in one commit, or in several
// commits between two checkpoints, deleted, or deleted and written again,
// is what recovery finds after a crash, round after round, with
// checkpoints every few entries (so recovery starts from the store, not
// from the log's first record).
func TestCheckpointsHoldEachObjectsLastChange(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	mem := persist.NewMemFS()
	ctx := context.Background()
	ids := make([]uuid.UUID, 24)
	for i := range ids {
		ids[i] = uuid.New()
	}
	model := map[uuid.UUID]int64{}
	next := int64(0)
	for round := range 4 {
		c := startTestNodesWith(t, seed+uint64(round), checkpointOften(4, 1))
		c.fss["solo"] = mem
		n := c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo" })
		h, err := n.CreateHeapIfNotExists(ctx, "bank", nil)
		if err != nil {
			t.Fatal(err)
		}
		checkAgainstModel(t, h, ids, model, round)
		var ckpts atomic.Int32
		onCheckpoint(h, func() { ckpts.Add(1) })
		next = commitModelled(t, h, rng, ids, model, next, 60)
		checkAgainstModel(t, h, ids, model, round)
		// A due checkpoint is asked for at the next apply: one that took
		// longer than the round's commits needs one more to follow it.
		waitCond(t, "two checkpoints in the round", func() bool {
			next = commitModelled(t, h, rng, ids, model, next, 1)
			return ckpts.Load() >= 2
		})
		checkAgainstModel(t, h, ids, model, round)
		c.kill("solo")
	}
}

// commitModelled commits k transactions of random writes and deletions
// of ids on h, numbering the values written from after next, and carries
// them out on model too; it returns the last value's number.
func commitModelled(t *testing.T, h *Heap, rng *rand.Rand, ids []uuid.UUID, model map[uuid.UUID]int64, next int64, k int) int64 {
	t.Helper()
	for range k {
		ops := pickOps(rng, ids, model)
		if err := h.Update(context.Background(), func(tx *Tx) error { return applyOps(tx, ops, next) }); err != nil {
			t.Fatalf("after value %d: %v", next, err)
		}
		for _, o := range ops {
			if o.del {
				delete(model, o.id)
			} else {
				next++
				model[o.id] = next
			}
		}
	}
	return next
}

// ckptOp is one write of TestCheckpointsHoldEachObjectsLastChange.
type ckptOp struct {
	id  uuid.UUID
	del bool
}

// pickOps draws one to four writes, deletes only of objects that exist
// (after the writes before them), and an object written twice now and
// then.
func pickOps(rng *rand.Rand, ids []uuid.UUID, model map[uuid.UUID]int64) []ckptOp {
	exists := func(id uuid.UUID, ops []ckptOp) bool {
		_, ok := model[id]
		for _, o := range ops {
			if o.id == id {
				ok = !o.del
			}
		}
		return ok
	}
	var ops []ckptOp
	for range 1 + rng.IntN(4) {
		id := ids[rng.IntN(len(ids))]
		if len(ops) > 0 && rng.IntN(3) == 0 {
			id = ops[len(ops)-1].id // the same object again
		}
		ops = append(ops, ckptOp{id: id, del: exists(id, ops) && rng.IntN(3) == 0})
	}
	return ops
}

// applyOps carries out ops in a transaction, numbering the values it
// writes from after next, as the model does.
func applyOps(tx *Tx, ops []ckptOp, next int64) error {
	for _, o := range ops {
		if o.del {
			if err := tx.Delete(o.id); err != nil {
				return err
			}
			continue
		}
		next++
		if err := Put(tx, o.id, acct{Balance: next}); err != nil {
			return err
		}
	}
	return nil
}

// checkAgainstModel fails the test unless h holds exactly the objects of
// model, with their values.
func checkAgainstModel(t *testing.T, h *Heap, ids []uuid.UUID, model map[uuid.UUID]int64, round int) {
	t.Helper()
	err := h.View(context.Background(), func(tx *Tx) error {
		for _, id := range ids {
			a, err := Get[acct](tx, id)
			want, ok := model[id]
			switch {
			case !ok && !errors.Is(err, ErrNotFound):
				t.Errorf("round %d: %v holds %v (%v), deleted", round, id, a, err)
			case ok && (err != nil || a.Balance != want):
				t.Errorf("round %d: %v holds %v (%v), want %d", round, id, a, err, want)
			}
		}
		return nil
	}, &ViewOptions{Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}
