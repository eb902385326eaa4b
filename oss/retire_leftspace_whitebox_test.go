package oss

import (
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
)

// TestSpaceLeftByAPowerCutAfterARetirementIsDropped: a power failure
// after the log recorded a retirement and before the store dropped the
// replica's space leaves the space in the store. The restart drops it:
// left, it would be read into a replica of the heap opened on the node
// again, at its next restart, with the objects and the snapshot of the
// retired one.
func TestSpaceLeftByAPowerCutAfterARetirementIsDropped(t *testing.T) {
	t.Parallel()
	c, placed, spare := bankWithUnusedLearnerTweaked(t, 73, func(cfg *Config) { cfg.CheckpointEvery = 4 })
	ns, hs := c.nodes[spare], c.heaps[spare]
	putObjects(t, c.heaps[placed[0]], hs, 20)
	await.Until(t, spare+"'s learner to checkpoint in its store", func() bool { return bankSpaces(ns) > 0 })
	mem := c.fss[spare].(*persist.MemFS)
	crashed := make(chan *persist.MemFS, 1)
	ns.mu.Lock()
	ns.dropLoggedHook = func(*Heap) { crashed <- mem.Crash(nil) } // the drop logged, the space still stored
	ns.mu.Unlock()

	ns.declineUnused(hs, placed[0])
	disk := await.Recv(t, crashed, spare+"'s replica's drop to be logged")
	c.kill(spare)
	c.fss[spare] = disk
	ns = c.add(spare, true, func(cfg *Config) { cfg.DataDir = "/data/" + spare }) // fails the test if Start does
	if ns.replicaOf("bank") != nil {
		t.Fatal("the restart after the power failure recovered the retired replica")
	}
	if k := bankSpaces(ns); k != 0 {
		t.Fatalf("the restart left %d space(s) of the retired replica in the store", k)
	}
}
