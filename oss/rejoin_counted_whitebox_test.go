package oss

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// A replica its group removed while it was cut off, and took back before
// the replica asked (a request of its that reached the leader before the
// cut, or one made on its behalf, as here), is never told by a leader that
// it was not a member; it learns of its removal from the log it catches
// up with, and Stats counts the removal all the same. It counted nothing:
// on a loaded machine TestRemovedReplicaRejoins failed waiting for the
// count of a replica that was back.
func TestReplicaTakenBackBeforeItAskedCountsItsRemoval(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d", "e"}
	c := startTestNodes(t, 23, names...)
	c.followPartitions()
	ids, learner, others := c.bankWithALearner(t, names)
	hv := c.heaps[learner]
	id := c.nodes[learner].id
	// Its own requests to be taken back are not made.
	hv.contact.rejoining.Store(true)
	defer hv.contact.rejoining.Store(false)

	c.net.Partition([]string{learner}, others)
	i := 0
	waitCond(t, learner+" to be removed from the bank", func() bool {
		transfer(context.Background(), c.heaps[others[i%len(others)]], ids[i%8], ids[(i+3)%8], 1)
		i++
		g, ok := c.group("bank")
		return ok && !g.Joint && !slices.Contains(g.Learners, learner) && !slices.Contains(g.Voters, learner)
	})
	if !hv.inConf.Load() {
		t.Fatalf("%s heard of its removal while cut off: the test tests nothing", learner)
	}
	c.net.Heal()
	waitCond(t, "the leader to take "+learner+" back", func() bool {
		g, ok := c.group("bank")
		if ok && g.Leader != "" {
			c.heaps[g.Leader].requestJoin(id)
		}
		return ok && slices.Contains(g.Learners, learner)
	})
	waitCond(t, learner+" to be current", hv.current)
	waitCond(t, learner+" to count its removal", func() bool { return hv.Stats().Rejoins == 1 })
}

// bankWithALearner opens the heap "bank" (three voters) on every node of
// names, seeds it once its voters are at their placement, and returns the
// accounts, the first node that is a learner of it, and the others.
func (c *testCluster) bankWithALearner(t *testing.T, names []string) (ids []uuid.UUID, learner string, others []string) {
	t.Helper()
	for _, name := range names {
		c.open(name, "bank")
	}
	bank := c.placement("bank", 3)
	waitCond(t, "bank's voters at their placement", func() bool { return c.settled("bank", bank...) })
	ids = seedBank(t, c.heaps[bank[0]])
	for _, name := range names {
		if learner == "" && !slices.Contains(bank, name) {
			learner = name
		} else {
			others = append(others, name)
		}
	}
	return ids, learner, others
}
