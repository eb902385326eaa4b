package oss

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"
)

// shrinkHeaps are the groups of the shrink tests: a heap of five replicas
// and the catalog, five voters each over five nodes.
var shrinkHeaps = map[string]int{"r5": 5, catalogName: catalogReplicas}

// TestPlacementShrinkSurvivesAThirdFailure: five nodes, a heap of five
// replicas. Two nodes die for good and no server is left to take their
// places: the heap (and the catalog) shrink to the three live voters, in
// one joint change, so that a third failure leaves two of three, which
// still commit; five voters with two dead would have stopped. Once the
// three are back (new members under their names) every group grows to
// five voters again, and no acknowledged write is lost.
func TestPlacementShrinkSurvivesAThirdFailure(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	names := []string{"a", "b", "c", "d", "e"}
	c := startTestNodes(t, 55, names...)
	var h *Heap
	untilLeader(t, "create r5", func(ctx context.Context) error {
		var err error
		h, err = c.nodes["a"].CreateHeapIfNotExists(ctx, "r5", &HeapOptions{Replicas: 5})
		return err
	})
	c.waitPlacedOver(t, "the first placement", shrinkHeaps, nil)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	writes := &acked{}
	wg.Go(func() { writes.run(h, stop) })

	// Two of the others die, the heap's leader among them if a does not
	// lead it: the survivors elect one, which shrinks the group.
	g := c.waitGroup(t, "r5") // between leaders (an election at load) it has none
	dead := slices.DeleteFunc(slices.Clone(names[1:]), func(n string) bool { return n == g.Leader })
	dead = dead[:2]
	if g.Leader != "a" {
		dead[0] = g.Leader
	}
	for _, name := range dead {
		c.kill(name)
	}
	live := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return slices.Contains(dead, n) })
	t.Logf("killed %v (r5's leader %s): shrunk to %v in %v", dead, g.Leader, live,
		c.waitPlacedOver(t, "three voters, the live ones", shrinkHeaps, live))

	// A third failure: two of three voters commit.
	third := live[1]
	c.kill(third)
	dead = append(dead, third)
	before := writes.committed()
	untilCommitted(t, "a commit with two of three voters", h, func(tx *Tx) error { return Put(tx, uuid.New(), acct{1}) })
	waitCond(t, "the writer committing with two of three voters", func() bool { return writes.committed() > before+10 })
	t.Logf("killed %s too: %d commits acknowledged since", third, writes.committed()-before)

	for _, name := range dead {
		c.add(name, true, nil)
	}
	t.Logf("%v back: five voters again in %v", dead, c.waitPlacedOver(t, "five voters again", shrinkHeaps, nil))
	close(stop)
	wg.Wait()
	checkAcked(t, "a", map[string]*Heap{"r5": h}, map[string]*acked{"r5": writes})
	t.Logf("%d acknowledged, %d failed, %d unknown", len(writes.ok), len(writes.failed), writes.unknown)
}

func (a *acked) committed() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ok)
}

// TestPlacementShrinkCutOffComeBack: five nodes, a heap of five replicas
// open on each. Two nodes, the heap's leader among them unless it is a,
// are cut off past ReplaceAfter: the three others shrink the heap and the
// catalog to themselves, the cut-off replicas removed. They were never
// dead: after the heal they rejoin, the groups grow back to five voters,
// their open handles commit again, and no acknowledged write is lost.
func TestPlacementShrinkCutOffComeBack(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d", "e"}
	c := startTestNodes(t, 56, names...)
	c.followPartitions()
	hs := map[string]*Heap{}
	for _, name := range names {
		untilLeader(t, "open r5 on "+name, func(ctx context.Context) error {
			var err error
			hs[name], err = c.nodes[name].CreateHeapIfNotExists(ctx, "r5", &HeapOptions{Replicas: 5})
			return err
		})
	}
	c.waitPlacedOver(t, "the first placement", shrinkHeaps, nil)
	g := c.waitGroup(t, "r5") // between leaders (an election at load) it has none
	cut := slices.DeleteFunc(slices.Clone(names[1:]), func(n string) bool { return n == g.Leader })[:2]
	if g.Leader != "a" {
		cut[0] = g.Leader
	}
	majority := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return slices.Contains(cut, n) })

	stop := make(chan struct{})
	var wg sync.WaitGroup
	writes := &acked{}
	wg.Go(func() { writes.run(hs["a"], stop) })
	c.net.Partition(cut, majority)
	t.Logf("cut off %v (r5's leader %s): shrunk to %v in %v", cut, g.Leader, majority,
		c.waitPlacedOver(t, "three voters, the majority", shrinkHeaps, majority))
	// Removed, not kept as learners: a shrink only removes.
	for heap := range shrinkHeaps {
		g, _ := (&testCluster{nodes: subset(c.nodes, majority)}).group(heap)
		for _, name := range cut {
			if slices.Contains(g.Voters, name) || slices.Contains(g.Learners, name) {
				t.Fatalf("%s: %s still a member after the shrink: %+v", heap, name, g)
			}
		}
	}

	c.net.Heal()
	t.Logf("healed: five voters again in %v", c.waitPlacedOver(t, "five voters again", shrinkHeaps, nil))
	close(stop)
	wg.Wait()
	for _, name := range cut {
		untilCommitted(t, name+" writes r5", hs[name], func(tx *Tx) error { return Put(tx, uuid.New(), acct{1}) })
		checkAcked(t, name, map[string]*Heap{"r5": hs[name]}, map[string]*acked{"r5": writes})
	}
	t.Logf("%d acknowledged, %d failed, %d unknown", len(writes.ok), len(writes.failed), writes.unknown)
}
