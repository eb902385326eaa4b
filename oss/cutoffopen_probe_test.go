package oss_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// Heap on a node cut off from the cluster, for a heap its catalog replica
// knows, returns an error matching ErrNoQuorum when its ctx ends, as its
// doc says of a catalog with no leader in reach, whether the wait that
// ended was for the heap's group to take the replica (a heap the node
// keeps no replica of) or to answer its catch-up (one the node is a
// voter of). Both matched the context's error alone.
func TestProbeCutOffOpenIsNoQuorum(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	c := osstest.Start(t, 3, &osstest.Options{Configure: func(_ string, cfg *oss.Config) {
		cfg.Logger = quietLogger()
		cfg.ReplaceAfter = time.Hour
	}})
	if _, err := c.Node("n1").CreateHeap(ctx, "voted", nil); err != nil {
		t.Fatal(err)
	}
	one, err := c.Node("n1").CreateHeap(ctx, "joined", &oss.HeapOptions{Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	cut, others := "n3", []string{"n1", "n2"}
	if one.Stats().Voters[0] == cut {
		cut, others = "n2", []string{"n1", "n3"}
	}
	n := c.Node(cut)
	c.Wait(cut+" to know both heaps", func() bool {
		_, _, ok := n.ReplicaStats("voted")
		return ok && len(n.Heaps()) == 2
	})
	c.Partition([]string{cut}, others)
	defer c.Heal()
	c.Wait(cut+" to find no leader in reach", func() bool {
		cat, _, _ := n.ReplicaStats("oss:catalog")
		voted, _, _ := n.ReplicaStats("voted")
		return !cat.LeaderInReach && !voted.LeaderInReach
	})
	for _, name := range []string{"voted", "joined"} {
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := n.Heap(short, name)
		cancel()
		if !errors.Is(err, oss.ErrNoQuorum) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Heap %q on a node cut off, ctx ended: %v; want ErrNoQuorum and the context's error", name, err)
		}
	}
}
