package oss_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// A node cut off from the catalog's leader cannot tell whether a heap
// exists: Heap of a name its catalog replica does not know, and
// CreateHeapIfNotExists, wait until ctx ends and then return ErrNoQuorum,
// never ErrNoHeap, and a heap it has open still reads.
func TestProbeOpenOnCutOffNode(t *testing.T) {
	t.Parallel()
	c := osstest.Start(t, 3, &osstest.Options{Seed: 7})
	for _, n := range []string{"n1", "n2", "n3"} {
		c.Heap(n, "kv")
	}
	c.WaitLeader("kv")
	// The node cut off is a voter of the catalog, not its leader: the
	// others keep the catalog's quorum.
	cut := cutCatalogVoter(c)
	defer c.Heal()
	n := c.Node(cut)
	for _, call := range []string{"Heap", "CreateHeapIfNotExists"} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var err error
		if call == "Heap" {
			_, err = n.Heap(ctx, "elsewhere")
		} else {
			_, err = n.CreateHeapIfNotExists(ctx, "elsewhere", nil)
		}
		ended := ctx.Err() != nil
		cancel()
		if !errors.Is(err, oss.ErrNoQuorum) || errors.Is(err, oss.ErrNoHeap) || !ended {
			t.Errorf("%s on a cut-off node: %v (ctx ended: %v); want ErrNoQuorum once ctx ended", call, err, ended)
		}
	}
	h, err := n.Heap(context.Background(), "kv")
	if err != nil {
		t.Fatalf("Heap of a heap open on the cut-off node: %v", err)
	}
	if err := h.View(context.Background(), func(*oss.Tx) error { return nil }, nil); err != nil {
		t.Errorf("a plain View on the cut-off node: %v", err)
	}
}

// cutCatalogVoter cuts off a voter of the catalog that does not lead it,
// once the catalog has three voters and a leader, and returns its name:
// the others keep the catalog's quorum. A node cut while it led, or won
// an election as it was cut, is a cut-off leader until it steps down,
// whose CreateHeapIfNotExists appends the catalog entry to its own log
// and ends with its outcome unknown (seen once at load 40 to 100). So
// the leader is the one placement puts there (engine.Rank's first for
// the catalog's name), to which placement moves the leadership once the
// replicas have ticked engine.TransferTicks; the node cut is one
// placement ranks after it; and the cut waits until that node does not
// lead (at once, but for an election under load).
func cutCatalogVoter(c *osstest.Cluster) string {
	names := []string{"n1", "n2", "n3"}
	ms := make([]engine.Member, len(names))
	for i, name := range names {
		ms[i] = engine.Member{Name: name, Server: true}
	}
	ranked := engine.Rank("oss:catalog", ms)
	lead, cut := ranked[0].Name, ranked[1].Name
	c.Wait("a catalog of three voters led by "+lead, func() bool {
		for _, h := range c.Node("n1").Status(context.Background()).Heaps {
			if h.Name == "oss:catalog" && len(h.Voters) == 3 && h.Leader == lead && !h.Joint {
				return true
			}
		}
		return false
	})
	others := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == cut })
	c.Partition([]string{cut}, others)
	c.Wait(cut+" not leading the catalog", func() bool {
		st, _, ok := c.Node(cut).ReplicaStats("oss:catalog")
		return ok && st.Leader != cut
	})
	return cut
}
