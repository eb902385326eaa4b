package oss

import (
	"context"
	"testing"

	"go.uber.org/goleak"
)

// TestAnOlderSyncLeavesTheFactorANewerOneGave: a node syncs its replicas
// with its catalog from several goroutines, each on the catalog state it
// loaded. One that loaded its state before a factor change and applied
// it after the sync of that change gave the replica the old factor back
// (and its index as the node's last sync). Here the older sync runs
// after the newer one, as it could have: the replica keeps the newer
// factor, and the node its newer sync index.
func TestAnOlderSyncLeavesTheFactorANewerOneGave(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 95, "a", "b", "c")
	a := c.nodes["a"]
	untilLeader(t, "create rf", func(ctx context.Context) error {
		_, err := a.CreateHeapIfNotExists(ctx, "rf", &HeapOptions{Replicas: 1})
		return err
	})
	h := a.replicaOf("rf")
	if h == nil || h.knownFactor() != 1 {
		t.Fatalf("a's replica of rf after its create: %v", h)
	}
	older := a.catalog.Load().state.Load() // a sync loads it, and waits
	setReplicas(t, a, "rf", 3)
	waitCond(t, "a to sync the change", func() bool { return h.knownFactor() == 3 && a.catalogSynced.Load() > older.Index() })
	newer := a.catalogSynced.Load()
	a.syncTo(older) // the older sync goes on
	if got := h.knownFactor(); got != 3 {
		t.Errorf("after a sync of an older catalog state, a's replica plans with %d, the catalog says 3", got)
	}
	if got := a.catalogSynced.Load(); got < newer {
		t.Errorf("after a sync of an older catalog state, a's last sync is at %d, was %d", got, newer)
	}
}
