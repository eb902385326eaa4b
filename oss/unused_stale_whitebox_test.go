package oss

import (
	"slices"
	"testing"
	"time"
)

// bankWithUnusedLearner starts four durable in-memory nodes, bank placed
// on three of them and a learner on the fourth (spare), opened there and
// then marked unused, as a stand-in no application opened would be.
func bankWithUnusedLearner(t *testing.T, seed uint64) (c *testCluster, placed []string, spare string) {
	return bankWithUnusedLearnerTweaked(t, seed, func(*Config) {})
}

// TestDeclineOfALearnerOpenedSinceIsNotActedOn: a learner no application
// used asked its leader to remove it while the group was a voter short;
// an application then opened the heap on its node, the open racing the
// request or coming after it. Once the group is at full strength again the
// leader does not remove the learner: the open withdrew the request.
func TestDeclineOfALearnerOpenedSinceIsNotActedOn(t *testing.T) {
	t.Parallel()
	c, placed, spare := bankWithUnusedLearner(t, 43)
	leader, victim := placed[0], placed[1]
	hs, hl := c.heaps[spare], c.heaps[leader]
	for _, racing := range []bool{false, true} {
		hs.used.Store(false)
		c.net.Cut([2]string{leader, victim}) // below full strength at the leader's next plan
		confs := hl.confVersion.Load()
		if racing {
			done := make(chan struct{})
			go func() { defer close(done); c.nodes[spare].declineUnused(hs, leader) }()
			c.open(spare, "bank")
			<-done
		} else {
			c.nodes[spare].declineUnused(hs, leader)
			c.open(spare, "bank")
		}
		c.net.Heal()
		waitCond(t, "bank at full strength again", func() bool { return c.settled("bank", placed...) })
		// Plans at full strength: the first removed the learner before.
		for range 100 {
			time.Sleep(10 * time.Millisecond)
			if g, ok := c.group("bank"); ok && !slices.Contains(g.Learners, spare) {
				t.Fatalf("racing %v: %s, opened by an application, removed: %+v", racing, spare, g)
			}
		}
		if n := hl.confVersion.Load(); n != confs || hs.contact.dropped.Load() {
			t.Fatalf("racing %v: configuration changed %d times, %s dropped %v", racing, n-confs, spare, hs.contact.dropped.Load())
		}
	}
}

// TestGivenUpReplicaStaysOutAfterARestart: a learner removed at its own
// request, which no application uses, is not added back when its node
// restarts (its recovered configuration no longer holds it); an open by
// an application on the node then takes it back.
func TestGivenUpReplicaStaysOutAfterARestart(t *testing.T) {
	t.Parallel()
	c, placed, spare := bankWithUnusedLearner(t, 47)
	hs, hl := c.heaps[spare], c.heaps[placed[0]]
	c.nodes[spare].declineUnused(hs, placed[0])
	waitCond(t, spare+" removed and given up", func() bool {
		g, ok := c.group("bank")
		return ok && !slices.Contains(g.Learners, spare) && hs.givenUp()
	})
	confs := hl.confVersion.Load()
	c.kill(spare)
	n := c.add(spare, true, func(cfg *Config) { cfg.DataDir = "/data/" + spare })
	waitCond(t, spare+"'s replica of bank recovered", func() bool { return n.replicaOf("bank") != nil })
	// A replica that asks to rejoin does after rejoinTicks (0.2 s).
	for range 100 {
		time.Sleep(10 * time.Millisecond)
		if g, ok := c.group("bank"); ok && slices.Contains(g.Learners, spare) {
			t.Fatalf("%s's given-up replica added back after the restart: %+v", spare, g)
		}
	}
	if got := hl.confVersion.Load(); got != confs {
		t.Fatalf("the restart cost %d configuration changes", got-confs)
	}
	c.open(spare, "bank")
	waitCond(t, spare+" back as a learner once opened", func() bool {
		g, ok := c.group("bank")
		return ok && slices.Contains(g.Learners, spare)
	})
}
