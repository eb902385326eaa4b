package oss

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestOpenFindingAnotherHeapEndsAsNoQuorum: an open that finds, in the
// node's table, a replica of another heap of the name than the catalog's
// entry, and cannot close it (the node restarted behind its catalog, its
// gate not passed), reads the catalog again until ctx ends. It then
// returned the mismatch alone ("the catalog holds another heap of the
// name now"), matching neither ErrNoQuorum nor ctx's error, where Heap
// promises both when ctx ends before the catalog answers.
func TestOpenFindingAnotherHeapEndsAsNoQuorum(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startDurable(t, 71, []string{"solo"}, nil)
	n := c.nodes["solo"]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	old := staleReplica(t, n, ctx, "Z")
	stale := n.replicaOf("Z")
	if stale == nil || stale.group != old {
		t.Fatalf("no stale replica of group %d in the table", old)
	}
	// As if the node restarted behind its catalog: no sync acts on it.
	gate := n.catalogGate.index.Load()
	n.catalogGate.index.Store(1 << 62)
	defer n.catalogGate.index.Store(gate)
	if _, err := n.CreateHeap(ctx, "Z", nil); !errors.Is(err, ErrCreatedNotOpen) {
		t.Fatalf("create beside a replica no sync may close: %v; want ErrCreatedNotOpen", err)
	}
	if cur, ok := n.catalogEntry("Z"); !ok || cur.Group == old {
		t.Fatalf("the catalog's entry of Z: %+v, %v; want a new heap's", cur, ok)
	}
	// The replica of the earlier heap is no member of a group the open
	// could hand out: the open goes through the catalog.
	stale.inConf.Store(false)

	octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
	defer ocancel()
	_, err := n.Heap(octx, "Z")
	if !errors.Is(err, ErrNoQuorum) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Heap whose ctx ended while the table held another heap of the name: %v; want ErrNoQuorum and ctx's error", err)
	}
}
