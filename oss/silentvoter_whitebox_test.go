package oss

import (
	"slices"
	"testing"
)

// TestVoterCutOffFromItsLeaderAloneIsReplaced: a voter that only its
// leader cannot reach (the link between the two cut, membership's view
// whole, as memberlist's indirect probes keep it) is replaced by a spare
// once it has sent the leader nothing for ReplaceAfter, and kept as a
// learner; the group then survives another failure. Once the link heals
// it catches up and placement makes it a voter again. Found by probing
// replication over QUIC: the voter stayed one for as long as the link
// was cut, and every commit on its node failed.
func TestVoterCutOffFromItsLeaderAloneIsReplaced(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 33, "a", "b", "c", "d", "e")
	placed := c.placement("bank", 3)
	for _, name := range placed {
		c.open(name, "bank")
	}
	waitCond(t, "bank's voters and leader at their placement", func() bool {
		g, ok := c.group("bank")
		return c.settled("bank", placed...) && ok && g.Leader == placed[0]
	})
	ids := seedBank(t, c.heaps[placed[0]])
	leader, victim := placed[0], placed[1]
	c.net.Cut([2]string{leader, victim})
	done := c.transfers(ids, make(chan struct{}))
	waitCond(t, victim+" replaced and kept as a learner", func() bool {
		g, ok := c.group("bank")
		return ok && !g.Joint && len(g.Voters) == 3 && !slices.Contains(g.Voters, victim) && slices.Contains(g.Learners, victim)
	})
	c.net.Heal()
	waitCond(t, "bank's voters back at their placement", func() bool { return c.settled("bank", placed...) })
	if n := done(); n == 0 {
		t.Fatal("no transfer committed")
	}
	c.checkBank(ids)
}
