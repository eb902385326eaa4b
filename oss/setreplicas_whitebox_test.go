package oss

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"go.uber.org/goleak"
)

// factorIs reports whether every node lists the heap with the factor
// (HeapStatus.Replicas) and every replica of it plans with that factor.
func (c *testCluster) factorIs(heap string, replicas int) (bool, string) {
	for name, n := range c.nodes {
		listed := -1
		for _, hs := range n.Heaps() {
			if hs.Name == heap {
				listed = hs.Replicas
			}
		}
		if listed != replicas {
			return false, fmt.Sprintf("%s lists %s with %d replicas", name, heap, listed)
		}
		if h := n.replicaOf(heap); h != nil && h.knownFactor() != replicas {
			return false, fmt.Sprintf("%s's replica of %s plans with %d (known %v)", name, heap, h.factor(), h.factorKnown.Load())
		}
	}
	return true, ""
}

func (c *testCluster) waitFactor(t *testing.T, heap string, replicas int) {
	t.Helper()
	deadline := time.Now().Add(await.Deadline)
	for {
		ok, why := c.factorIs(heap, replicas)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s's factor %d everywhere: %s", heap, replicas, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// setReplicas changes a heap's factor from a node, again after a catalog
// between leaders: a change whose outcome was unknown is done again, and
// the heap having the factor already is no error.
func setReplicas(t *testing.T, n *Node, heap string, replicas int) {
	t.Helper()
	untilLeader(t, fmt.Sprintf("set %s's replicas to %d", heap, replicas), func(ctx context.Context) error {
		return n.SetHeapReplicas(ctx, heap, replicas)
	})
}

// TestSetHeapReplicasGrowsAndShrinksUnderCommits: five nodes, a heap of
// three replicas written from two nodes all along. Its factor set to 5
// (from a node that holds no voter of it, if one does not) grows it to
// five voters, placed as a heap created with 5 would be; set to 3 again,
// it reduces to three, placed as a heap of 3 is. Every node lists the
// factor, the writers commit after each change, every acknowledged write
// is read back and none that failed for certain is there.
func TestSetHeapReplicasGrowsAndShrinksUnderCommits(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	names := []string{"a", "b", "c", "d", "e"}
	c := startTestNodes(t, 91, names...)
	hs := map[string]*Heap{}
	for _, name := range []string{"a", "c"} {
		untilLeader(t, "open rf on "+name, func(ctx context.Context) error {
			var err error
			hs[name], err = c.nodes[name].CreateHeapIfNotExists(ctx, "rf", &HeapOptions{Replicas: 3})
			return err
		})
	}
	c.waitPlacedOver(t, "the first placement", map[string]int{"rf": 3, catalogName: catalogReplicas}, nil)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	writes := map[string]*acked{"a": {}, "c": {}}
	for name, a := range writes {
		wg.Go(func() { a.run(hs[name], stop) })
	}
	committing := func(what string) {
		t.Helper()
		before := writes["a"].committed() + writes["c"].committed()
		waitCond(t, "commits "+what, func() bool { return writes["a"].committed()+writes["c"].committed() > before+20 })
	}
	committing("before the change")

	from := "" // a node that holds no voter of it
	for _, name := range names {
		if !slices.Contains(c.placement("rf", 3), name) {
			from = name
		}
	}
	setReplicas(t, c.nodes[from], "rf", 5)
	c.waitFactor(t, "rf", 5)
	t.Logf("set to 5 on %s: five voters in %v", from, c.waitPlacedOver(t, "five voters", map[string]int{"rf": 5}, nil))
	committing("with five voters")

	setReplicas(t, c.nodes["d"], "rf", 3)
	c.waitFactor(t, "rf", 3)
	t.Logf("set to 3 on d: three voters in %v", c.waitPlacedOver(t, "three voters", map[string]int{"rf": 3}, nil))
	committing("with three voters again")

	close(stop)
	wg.Wait()
	for name, a := range writes {
		checkAcked(t, name, map[string]*Heap{"rf": hs[name]}, map[string]*acked{"rf": a})
		t.Logf("writer on %s: %d acknowledged, %d failed, %d unknown", name, len(a.ok), len(a.failed), a.unknown)
	}
}

// TestSetHeapReplicasSurvivesARestartOfEveryNode: three durable nodes, a
// heap of three replicas set to 5, which it cannot have yet: it keeps its
// three voters, its own records (no write since) holding the factor it
// was created with. Every node is killed and restarted on its data: each
// replica takes the factor from its node's catalog, not from its records,
// and once two more servers join the heap grows to five voters, placed as
// a heap created with 5 is, and commits.
func TestSetHeapReplicasSurvivesARestartOfEveryNode(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	names := []string{"a", "b", "c"}
	c := startDurable(t, 92, names, nil)
	var h *Heap
	untilLeader(t, "create rf", func(ctx context.Context) error {
		var err error
		h, err = c.nodes["a"].CreateHeapIfNotExists(ctx, "rf", &HeapOptions{Replicas: 3})
		return err
	})
	untilCommitted(t, "a write before", h, func(tx *Tx) error { return Put(tx, regID(1), acct{1}) })
	c.waitPlacedOver(t, "three voters", map[string]int{"rf": 3}, nil)
	setReplicas(t, c.nodes["b"], "rf", 5)
	c.waitFactor(t, "rf", 5)
	c.waitPlacedOver(t, "three voters still, on three servers", map[string]int{"rf": 5}, nil)

	for _, name := range names {
		c.kill(name)
	}
	for _, name := range names {
		c.add(name, name != "a", func(cfg *Config) { cfg.DataDir = "/data/" + name })
	}
	c.waitFactor(t, "rf", 5)
	for _, name := range []string{"d", "e"} {
		c.add(name, true, nil)
	}
	t.Logf("d and e joined: five voters in %v", c.waitPlacedOver(t, "five voters", map[string]int{"rf": 5}, nil))
	h = c.open("d", "rf")
	untilCommitted(t, "a write after", h, func(tx *Tx) error { return Put(tx, regID(2), acct{2}) })
	err := h.View(context.Background(), func(tx *Tx) error {
		for k := 1; k <= 2; k++ {
			if v, err := Get[acct](tx, regID(k)); err != nil || v.Balance != int64(k) {
				return fmt.Errorf("object %d: %+v, %v", k, v, err)
			}
		}
		return nil
	}, &ViewOptions{Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
}
