package oss

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// A heap whose name ends in "*", made before such names were refused for
// new heaps, still opens with CreateHeapIfNotExists (as the admin
// interface's writes open a heap): also on a node whose catalog replica
// has not applied its entry yet. The name was checked against that replica
// alone, before the transaction that looks for the entry, so such a node
// (cut off for a moment, or just started) answered that the name was
// invalid for a heap that exists.
func TestExistingStarHeapOpensOnALaggingNode(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 11, "n1", "n2", "n3")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline) // a bound against a hang: the open, write and drop after the heal are bounded by it too
	defer cancel()
	const name = "old*"
	c.net.Partition([]string{"n1", "n2"}, []string{"n3"})
	// The entry as a node made it before the check: written to the
	// catalog directly, by the majority's side.
	n1 := c.nodes["n1"]
	waitCond(t, "the entry of "+name+" committed", func() bool {
		err := n1.catalog.Load().Update(ctx, func(tx *Tx) error {
			e := heapEntry{Name: name, Replicas: 3, Group: newNodeID(), Voters: firstVoters(name, 3, n1.live())}
			return Put(tx, entryID(name), e)
		})
		return err == nil
	})
	n3 := c.nodes["n3"]
	if _, ok := n3.catalogEntry(name); ok {
		t.Fatal("n3, cut off, has the entry: it does not lag")
	}
	short, stop := context.WithTimeout(ctx, time.Second)
	_, err := n3.CreateHeapIfNotExists(short, name, nil)
	stop()
	if errors.Is(err, ErrInvalidHeapName) {
		t.Fatalf("open %q on a node whose catalog lags: %v; the heap exists", name, err)
	}
	c.net.Heal()
	h, err := n3.CreateHeapIfNotExists(ctx, name, nil)
	if err != nil {
		t.Fatalf("open %q once healed: %v", name, err)
	}
	if err := update(ctx, h, func(tx *Tx) error { return Put(tx, listID(1), "x") }); err != nil {
		t.Fatalf("write to %q: %v", name, err)
	}
	if err := n1.DropHeap(ctx, name); err != nil {
		t.Fatalf("drop %q: %v", name, err)
	}
	if _, err := n1.CreateHeapIfNotExists(ctx, name, nil); !errors.Is(err, ErrInvalidHeapName) {
		t.Fatalf("create %q anew after its drop: %v, want ErrInvalidHeapName", name, err)
	}
}
