package oss

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
)

// TestSecondFailureTimedWhileAReplacementCatchesUp: a voter that fails
// while the leader is busy replacing another (its replacement cannot catch
// up yet) is timed from its own failure, so it is replaced ReplaceAfter
// after it, not ReplaceAfter after the first replacement ends. (The leader
// used to look at voters only up to the first down one.) A replacement
// that has acknowledged nothing is not promoted, and once it can catch up
// both voters are replaced.
func TestSecondFailureTimedWhileAReplacementCatchesUp(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 21, "a", "b", "c", "d", "e", "f", "g")
	// A heap placed away from the catalog's leader, which would time the
	// absences on the heap's leader's node if it moved there.
	catalogLeader := c.placement(catalogName, 7)[0]
	heap := "bank"
	for i := 0; slices.Contains(c.placement(heap, 5), catalogLeader); i++ {
		heap = fmt.Sprintf("bank%d", i)
	}
	waitCond(t, "the catalog's leader at its placement", func() bool {
		g, ok := c.group(catalogName)
		return ok && g.Leader == catalogLeader
	})
	want := c.placement(heap, 7)
	placed := want[:5]
	for _, name := range placed {
		if _, err := c.nodes[name].CreateHeapIfNotExists(t.Context(), heap, &HeapOptions{Replicas: 5}); err != nil {
			t.Fatal(err)
		}
	}
	leader := placed[0]
	waitCond(t, heap+"'s voters and leader at their placement", func() bool {
		g, ok := c.group(heap)
		return c.settled(heap, placed...) && ok && g.Leader == leader
	})
	// Two voters other than the leader, first and second in the order
	// the leader looks at them in once its configuration changed (by
	// raft ID).
	others := slices.Clone(placed[1:])
	slices.SortFunc(others, func(x, y string) int { return cmp.Compare(c.nodes[x].id, c.nodes[y].id) })
	first, second := others[0], others[1]
	spare := want[5] // the first voter's replacement
	// Cut off from every voter, not only from the leader: under load
	// the lead can move, and a new leader that reached the spare would
	// let it catch up.
	for _, v := range placed {
		c.net.Cut([2]string{v, spare})
	}

	c.kill(first)
	waitCond(t, first+"'s replacement added, unable to catch up", func() bool {
		g, ok := c.group(heap)
		return ok && slices.Contains(g.Learners, spare)
	})
	secondID := c.nodes[second].id
	c.kill(second)
	t.Cleanup(func() {
		if t.Failed() {
			g, ok := c.group(heap)
			t.Logf("at the failure: group of %s (leader found %v): %+v", heap, ok, g)
		}
	})
	// Whichever node leads the heap times the absence: the lead moved
	// once under load (CI), and the test waited on the old leader.
	waitCond(t, "the heap's leader timing "+second+"'s absence", func() bool {
		g, ok := c.group(heap)
		if !ok {
			return false
		}
		ln, ok := c.nodes[g.Leader]
		if !ok {
			return false
		}
		ln.namesMu.Lock()
		defer ln.namesMu.Unlock()
		_, ok = ln.missing[secondID]
		return ok
	})

	// The replacement, cut off from the voters, has acknowledged nothing:
	// it stays a learner however young the log (it was promoted at once
	// while the log held fewer than CaughtUpSlack entries).
	if g, ok := c.group(heap); !ok || slices.Contains(g.Voters, spare) || !slices.Contains(g.Learners, spare) {
		t.Fatalf("%s, which cannot have caught up, is no longer a learner: %+v", spare, g)
	}

	c.net.Heal()
	final := c.placement(heap, 5)
	waitCond(t, "both voters replaced", func() bool { return c.settled(heap, final...) })
}
