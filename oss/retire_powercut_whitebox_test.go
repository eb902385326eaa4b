package oss

import (
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
)

// TestRetirementCutByPowerLossUnderBatch: with DurabilityBatch, a power
// failure right after a retirement (the store has dropped the replica's
// space, the log's clock has not synced since) leaves a data directory
// the node starts from, without the retired replica. Before, the log's
// record of the retirement was not synced before the store dropped the
// space: the log came back with the replica's checkpoint in the store
// and without the record, and Start refused the directory as damaged
// (ErrCorrupt: a checkpoint the striped store does not hold).
func TestRetirementCutByPowerLossUnderBatch(t *testing.T) {
	t.Parallel()
	c, placed, spare := bankWithUnusedLearnerTweaked(t, 71, func(cfg *Config) {
		cfg.Durability = DurabilityBatch
		cfg.BatchInterval = 300 * time.Millisecond
		cfg.CheckpointEvery = 4
	})
	ns, hs := c.nodes[spare], c.heaps[spare]
	putObjects(t, c.heaps[placed[0]], hs, 20)
	await.Until(t, spare+"'s learner to checkpoint in its store", func() bool { return bankSpaces(ns) > 0 })
	mem := c.fss[spare].(*persist.MemFS)
	crashed := make(chan *persist.MemFS, 1)
	ns.mu.Lock()
	ns.retiredHook = func(*Heap) { crashed <- mem.Crash(nil) } // what was synced, no more
	ns.mu.Unlock()

	ns.declineUnused(hs, placed[0])
	disk := await.Recv(t, crashed, spare+"'s replica to be retired")
	c.kill(spare)
	c.fss[spare] = disk
	ns = c.add(spare, true, func(cfg *Config) { cfg.DataDir = "/data/" + spare }) // fails the test if Start does
	if ns.replicaOf("bank") != nil {
		t.Fatal("the restart after the power failure recovered the retired replica")
	}
}
