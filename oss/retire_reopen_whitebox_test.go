package oss

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
)

// bankWithUnusedLearnerTweaked is bankWithUnusedLearner with every node's
// configuration changed by tweak as well.
func bankWithUnusedLearnerTweaked(t *testing.T, seed uint64, tweak func(*Config)) (c *testCluster, placed []string, spare string) {
	names := []string{"a", "b", "c", "d"}
	c = startTestNodes(t, seed)
	c.tweak = func(cfg *Config) {
		cfg.ReplaceAfter = time.Hour // a voter cut off stays one
		tweak(cfg)
	}
	for i, name := range names {
		c.fss[name] = persist.NewMemFS()
		c.add(name, i > 0, func(cfg *Config) { cfg.DataDir = "/data/" + name })
	}
	c.followPartitions()
	placed = c.placement("bank", 3)
	for _, name := range names {
		if !slices.Contains(placed, name) {
			spare = name
		}
	}
	for _, name := range placed {
		c.open(name, "bank")
	}
	waitCond(t, "bank's voters and leader at their placement", func() bool {
		g, ok := c.group("bank")
		return c.settled("bank", placed...) && ok && g.Leader == placed[0]
	})
	c.open(spare, "bank")
	waitCond(t, spare+" a learner", func() bool {
		g, ok := c.group("bank")
		return ok && slices.Contains(g.Learners, spare)
	})
	c.heaps[spare].used.Store(false)
	return c, placed, spare
}

// retireSpare has the unused learner spare removed at its request and
// waits until its node has retired it.
func retireSpare(t *testing.T, c *testCluster, leader, spare string) {
	t.Helper()
	ns, hs := c.nodes[spare], c.heaps[spare]
	retired := hearRetired(ns)
	ns.declineUnused(hs, leader)
	if got := await.Recv(t, retired, spare+"'s given-up replica to be retired"); got != hs {
		t.Fatalf("retired %p, not the given-up replica %p", got, hs)
	}
}

// TestReopenedAfterRetirementKeepsADeletion: an object deleted in the
// group between the retirement of a node's replica and an application's
// open of the heap there again stays deleted on that node across a
// restart, and the replica opened again counts no rejoin. Before, the
// replica opened again wrote its checkpoints under the space name the
// retired one had used (generation 1 again), whose records stay in the
// stripes: the restart read both, the deleted object with them (20
// objects against the leader's 19 at the same index); and it counted its
// return to the group as a rejoin, with a warning.
func TestReopenedAfterRetirementKeepsADeletion(t *testing.T) {
	t.Parallel()
	c, placed, spare := bankWithUnusedLearnerTweaked(t, 61, func(cfg *Config) { cfg.CheckpointEvery = 4 })
	hl := c.heaps[placed[0]]
	putObjects(t, hl, c.heaps[spare], 20)
	retireSpare(t, c, placed[0], spare)

	gone, _ := relogPut(7)
	if err := update(context.Background(), hl, func(tx *Tx) error { return tx.Delete(gone) }); err != nil {
		t.Fatal(err)
	}
	h := c.open(spare, "bank")
	want := hl.Stats().Applied
	waitCond(t, spare+" opened again to catch up", func() bool { return h.Stats().Applied >= want && h.Stats().Objects == 19 })
	if n := h.Stats().Rejoins; n != 0 {
		t.Errorf("the replica opened again after its retirement counted %d rejoins; its group never removed it", n)
	}

	c.kill(spare)
	ns := c.add(spare, true, func(cfg *Config) { cfg.DataDir = "/data/" + spare })
	r := ns.replicaOf("bank")
	if r == nil {
		t.Fatal("the restart did not recover the replica opened again")
	}
	await.Until(t, spare+"'s recovered replica at the leader's index", func() bool {
		return r.Stats().Applied >= hl.Stats().Applied
	})
	if got, lead := r.Stats(), hl.Stats(); got.Objects != lead.Objects {
		t.Fatalf("after the restart %s holds %d objects at index %d, the leader %d at %d: the retired replica's records came back", spare, got.Objects, got.Applied, lead.Objects, lead.Applied)
	}
	err := r.View(context.Background(), func(tx *Tx) error {
		ok, err := tx.Exists(gone)
		if err == nil && ok {
			t.Error("the object deleted after the retirement is back")
		}
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}
