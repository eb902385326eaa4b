package oss

import (
	"context"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

// A replica its group removed while it was cut off, and took back before
// the replica asked, catches up from a snapshot when the leader's log has
// moved past it: it then applies neither its removal nor its return, and
// no leader tells it that it was not a member. Stats counts the removal
// all the same, once. It counted nothing.
func TestReplicaTakenBackBySnapshotCountsItsRemoval(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	names := []string{"a", "b", "c", "d", "e"}
	c := startTestNodesWith(t, 29, lagCap, names...)
	c.followPartitions()
	ids, learner, others := c.bankWithALearner(t, names)
	hv := c.heaps[learner]
	id := c.nodes[learner].id
	// Its own requests to be taken back are not made.
	hv.contact.rejoining.Store(true)
	defer hv.contact.rejoining.Store(false)

	c.net.Partition([]string{learner}, others)
	i := 0
	work := func() {
		transfer(context.Background(), c.heaps[others[i%len(others)]], ids[i%8], ids[(i+3)%8], 1)
		i++
	}
	waitCond(t, learner+" to be removed from the bank", func() bool {
		work()
		g, ok := c.group("bank")
		return ok && !g.Joint && !slices.Contains(g.Learners, learner) && !slices.Contains(g.Voters, learner)
	})
	// The leader's log moves on past what the learner has.
	for range 300 {
		work()
	}
	if !hv.inConf.Load() {
		t.Fatalf("%s heard of its removal while cut off: the test tests nothing", learner)
	}
	snaps := hv.snapshots.Load()
	c.net.Heal()
	waitCond(t, "the leader to take "+learner+" back", func() bool {
		g, ok := c.group("bank")
		if ok && g.Leader != "" {
			c.heaps[g.Leader].requestJoin(id)
		}
		return ok && slices.Contains(g.Learners, learner)
	})
	// The leader's log starts past the learner's: it catches up from a
	// snapshot, taken after its return.
	waitCond(t, learner+" to install a leader's snapshot", func() bool { return hv.snapshots.Load() > snaps })
	waitCond(t, learner+" to be current", hv.current)
	waitCond(t, learner+" to count its removal", func() bool { return hv.Stats().Rejoins == 1 })
	for range 50 {
		work()
	}
	waitCond(t, learner+" to catch up", func() bool {
		g, _ := c.group("bank")
		return hv.Stats().Applied >= g.Applied
	})
	if n := hv.Stats().Rejoins; n != 1 {
		t.Fatalf("%s counted %d removals, want 1", learner, n)
	}
}
