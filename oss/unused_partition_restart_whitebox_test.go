package oss

import (
	"slices"
	"testing"

	"github.com/objectsharing/oss/persist"
)

// TestReplicaRemovedWhileCutOffRejoinsAfterARestart: a voter removed from
// its group by replacement while it was cut off missed its removal; its
// node restarted after the heal (no application opening the heap there)
// asks to be taken back as before, rather than count as given up: its
// recovered configuration still holds it.
func TestReplicaRemovedWhileCutOffRejoinsAfterARestart(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d"}
	c := startTestNodes(t, 59)
	for i, name := range names {
		c.fss[name] = persist.NewMemFS()
		c.add(name, i > 0, func(cfg *Config) { cfg.DataDir = "/data/" + name })
	}
	c.followPartitions()
	placed := c.placement("bank", 3)
	for _, name := range placed {
		c.open(name, "bank")
	}
	waitCond(t, "bank's voters and leader at their placement", func() bool {
		g, ok := c.group("bank")
		return c.settled("bank", placed...) && ok && g.Leader == placed[0]
	})
	victim := placed[1]
	var others []string
	for _, name := range names {
		if name != victim {
			others = append(others, name)
		}
	}
	c.net.Partition([]string{victim}, others)
	waitCond(t, victim+" removed from bank", func() bool {
		g, ok := c.group("bank")
		return ok && g.Leader != victim && !g.Joint && len(g.Voters) == 3 && !slices.Contains(g.Voters, victim) && !slices.Contains(g.Learners, victim)
	})
	c.kill(victim)
	c.net.Heal()
	n := c.add(victim, true, func(cfg *Config) { cfg.DataDir = "/data/" + victim })
	waitCond(t, victim+"'s replica of bank recovered", func() bool { return n.replicaOf("bank") != nil })
	if h := n.replicaOf("bank"); h.contact.dropped.Load() {
		t.Fatalf("%s's replica, removed while cut off, recovered as given up", victim)
	}
	waitCond(t, victim+" back in bank's group without an open", func() bool {
		g, ok := c.group("bank")
		return ok && (slices.Contains(g.Voters, victim) || slices.Contains(g.Learners, victim))
	})
}
