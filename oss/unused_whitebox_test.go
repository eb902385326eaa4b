package oss

import (
	"slices"
	"testing"
)

// TestStandInLearnerRemovedOnceItsVoterIsBack: a voter cut off from its
// leader alone is replaced by a spare and kept a learner; after the heal
// placement takes it back as a voter, and the spare, which stood in and
// which no application on its node uses, is removed from the group
// rather than kept a learner for ever. A learner whose node opened the
// heap stays.
func TestStandInLearnerRemovedOnceItsVoterIsBack(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 37, "a", "b", "c", "d", "e")
	order := c.placement("bank", 5)
	placed, user := order[:3], order[4]
	for _, name := range placed {
		c.open(name, "bank")
	}
	c.open(user, "bank") // a learner an application uses
	waitCond(t, "bank's voters and leader at their placement", func() bool {
		g, ok := c.group("bank")
		return c.settled("bank", placed...) && ok && g.Leader == placed[0]
	})
	ids := seedBank(t, c.heaps[placed[0]])
	leader, victim := placed[0], placed[1]
	c.net.Cut([2]string{leader, victim})
	done := c.transfers(ids, make(chan struct{}))
	var standIn string
	waitCond(t, victim+" replaced and kept as a learner", func() bool {
		g, ok := c.group("bank")
		if !ok || g.Joint || len(g.Voters) != 3 || slices.Contains(g.Voters, victim) || !slices.Contains(g.Learners, victim) {
			return false
		}
		for _, v := range g.Voters {
			if !slices.Contains(placed, v) {
				standIn = v
			}
		}
		return standIn != ""
	})
	c.net.Heal()
	waitCond(t, "bank's voters back at their placement and "+standIn+" removed", func() bool {
		g, ok := c.group("bank")
		return c.settled("bank", placed...) && ok && !slices.Contains(g.Learners, standIn) && !slices.Contains(g.Voters, standIn)
	})
	if g, _ := c.group("bank"); !slices.Contains(g.Learners, user) {
		t.Fatalf("%s, whose node opened the heap, is no learner: %+v", user, g)
	}
	if n := done(); n == 0 {
		t.Fatal("no transfer committed")
	}
	c.checkBank(ids)
}
