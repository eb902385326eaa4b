package oss

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The first Heap call on a node whose replica the node opened by itself
// (a first voter the catalog named, opened as the node followed its
// catalog) catches up before it returns, as every first open does: Heap
// promises a replica that has applied everything committed when it was
// called. It returned that replica at once, with whatever it had
// applied. Here the node is cut off once its replica is in the group, a
// value is committed without it, and its first Heap call must not return
// a replica that lacks it; once the cut heals, Heap returns one that has
// it.
func TestFirstOpenOfAReplicaTheNodeOpenedCatchesUp(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 7, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ha, err := c.nodes["a"].CreateHeap(ctx, "h", &HeapOptions{Replicas: 3})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	inGroup := func() bool {
		h := c.nodes["c"].replicaOf("h")
		return h != nil && h.inConf.Load()
	}
	if !pollUntil(ctx, time.Minute, inGroup) {
		t.Fatal("c did not open its replica of the heap as a first voter")
	}
	c.net.Partition([]string{"c"}, []string{"a", "b"})
	id := uuid.UUID{15: 1}
	if err := ha.Update(ctx, func(tx *Tx) error { return Put(tx, id, "before the open") }); err != nil {
		t.Fatalf("update while c is cut off: %v", err)
	}
	has := func(h *Heap) bool {
		found := false
		h.View(ctx, func(tx *Tx) error {
			v, err := Get[string](tx, id)
			found = err == nil && v == "before the open"
			return nil
		}, nil)
		return found
	}

	cut, cancelCut := context.WithTimeout(ctx, 2*time.Second)
	h, err := c.nodes["c"].Heap(cut, "h")
	cancelCut()
	if err == nil && !has(h) {
		t.Fatal("Heap returned a replica that lacks a commit acknowledged before the call")
	}

	c.net.Heal()
	h, err = c.nodes["c"].Heap(ctx, "h")
	if err != nil {
		t.Fatalf("Heap once the cut healed: %v", err)
	}
	if !has(h) {
		t.Fatal("Heap returned, the cut healed, a replica that lacks a commit acknowledged before the call")
	}
}
