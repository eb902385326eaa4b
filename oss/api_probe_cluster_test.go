package oss_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

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
		if call == "CreateHeapIfNotExists" {
			waitNoCatalogLeader(c, n, cut)
		}
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

// waitNoCatalogLeader waits until node n (named name), cut off, knows no
// leader of the catalog: its election timeout passed, and it campaigns.
// Until then it forwards a commit to the leader it knows, which may have
// got it, and CreateHeapIfNotExists's catalog entry ends unknown. The
// second of the Heap call before was time enough but on a loaded
// machine, whose ticks come late ("commit outcome unknown", at load 10
// to 100).
func waitNoCatalogLeader(c *osstest.Cluster, n *oss.Node, name string) {
	c.Wait(name+"'s catalog replica to know no leader", func() bool {
		st, _, ok := n.ReplicaStats("oss:catalog")
		return ok && st.Leader == ""
	})
}

// cutCatalogVoter cuts off a voter of the catalog that does not lead it,
// once the catalog has three voters and a leader, and returns its name:
// the others keep the catalog's quorum.
func cutCatalogVoter(c *osstest.Cluster) string {
	var cut string
	c.Wait("a catalog of three voters with a leader", func() bool {
		for _, h := range c.Node("n1").Status(context.Background()).Heaps {
			if h.Name == "oss:catalog" && len(h.Voters) == 3 && h.Leader != "" && !h.Joint {
				cut = "n1"
				if h.Leader == cut {
					cut = "n2"
				}
				return true
			}
		}
		return false
	})
	others := slices.DeleteFunc([]string{"n1", "n2", "n3"}, func(n string) bool { return n == cut })
	c.Partition([]string{cut}, others)
	return cut
}
