package oss

import (
	"context"
	"testing"

	"go.uber.org/goleak"
)

// TestReplicaOpenedFromAnOlderEntryTakesTheNewFactor: a node's replica
// opened from a heap's entry read before a factor change (by an open, or
// a raft message's), and put in the node's table after the node's sync of
// that change, planned with the old factor until some later catalog
// commit: the sync had not seen it, and nothing synced again. The node
// now syncs again once it holds a replica opened from an entry that is
// no longer the catalog's.
func TestReplicaOpenedFromAnOlderEntryTakesTheNewFactor(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 93, "a", "b", "c")
	untilLeader(t, "create rf", func(ctx context.Context) error {
		_, err := c.nodes["a"].CreateHeapIfNotExists(ctx, "rf", &HeapOptions{Replicas: 1})
		return err
	})
	var y *Node // a node with no replica of rf
	for _, name := range []string{"a", "b", "c"} {
		if c.nodes[name].replicaOf("rf") == nil {
			y = c.nodes[name]
		}
	}
	if y == nil {
		t.Fatal("every node holds a replica of a heap of one")
	}
	waitCond(t, "y's catalog to list rf", func() bool { _, ok := y.catalogEntry("rf"); return ok })
	e, _ := y.catalogEntry("rf") // read by an open before the change
	setReplicas(t, c.nodes["a"], "rf", 2)
	waitCond(t, "y to sync the change", func() bool {
		cur, _ := y.catalogEntry("rf")
		o, _ := y.catalog.Load().state.Load().Get(entryID("rf"))
		return cur.Replicas == 2 && y.catalogSynced.Load() >= o.Version
	})
	h, err := y.openReplica(e) // in the node's table after that sync
	if err != nil {
		t.Fatal(err)
	}
	waitCond(t, "y's replica to plan with the catalog's factor", func() bool {
		cur, _ := y.catalogEntry("rf")
		return h.knownFactor() == cur.Replicas
	})
}
