package oss

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// staleReplica leaves in the node's table a replica of an earlier heap of
// the name, as a catalog sync does that loaded its state before the heap's
// drop and opened the replica after the drop's own sync: the table holds a
// heap the catalog no longer has until the catalog's next change.
func staleReplica(t *testing.T, n *Node, ctx context.Context, name string) uint64 {
	t.Helper()
	if _, err := n.CreateHeap(ctx, name, nil); err != nil {
		t.Fatal(err)
	}
	old, ok := n.catalogEntry(name)
	if !ok {
		t.Fatalf("no entry of %s after its creation", name)
	}
	if err := n.DropHeap(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := n.openFrom(old); err != nil {
		t.Fatal(err)
	}
	return old.Group
}

// TestCreateHeapNeverHandsOutAnEarlierHeapOfTheName: a CreateHeap that
// made a new entry returned the earlier heap's replica when the node's
// table still held it (a stale catalog sync had opened it after the drop),
// so the caller's writes went into a heap the catalog had dropped, and
// failed as dropped at the next sync. Heap, on a name dropped so, returned
// that replica too, instead of ErrNoHeap.
func TestCreateHeapNeverHandsOutAnEarlierHeapOfTheName(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startDurable(t, 53, []string{"solo"}, nil)
	n := c.nodes["solo"]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	for i := range 5 {
		old := staleReplica(t, n, ctx, "Z")
		if h, err := n.Heap(ctx, "Z"); !errors.Is(err, ErrNoHeap) {
			g := uint64(0)
			if h != nil {
				g = h.group
			}
			t.Fatalf("round %d: Heap of a dropped heap whose stale replica the node holds: group %d, %v; want ErrNoHeap", i, g, err)
		}
		if _, err := n.openFrom(heapEntryOfGroup(t, n, old)); err != nil {
			t.Fatal(err)
		}
		h, err := n.CreateHeap(ctx, "Z", nil)
		if err != nil {
			t.Fatalf("round %d: create again: %v", i, err)
		}
		cur, ok := n.catalogEntry("Z")
		if !ok || h.group != cur.Group || h.group == old {
			t.Fatalf("round %d: CreateHeap returned a replica of group %d; the catalog's entry is %+v (%v), the dropped heap's group %d", i, h.group, cur, ok, old)
		}
		if err := h.Update(ctx, func(tx *Tx) error { return Put(tx, answerID(1), i) }); err != nil {
			t.Fatalf("round %d: a write to the heap CreateHeap returned: %v", i, err)
		}
		if err := n.DropHeap(ctx, "Z"); err != nil {
			t.Fatal(err)
		}
	}
}

// heapEntryOfGroup rebuilds the entry of a dropped heap of group g as the
// stale sync saw it: the node as its one voter.
func heapEntryOfGroup(t *testing.T, n *Node, g uint64) heapEntry {
	t.Helper()
	return heapEntry{Name: "Z", Replicas: 1, Group: g, Voters: firstVoters("Z", 1, n.live())}
}
