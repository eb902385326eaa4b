package engine

import (
	"testing"

	"github.com/objectsharing/oss/consistency"
)

// With heartbeats running, as they always do, a follower often steps two
// commit notices for one index between two Readies: the append a
// heartbeat's answer prompts (the leader's acknowledgement for that index
// comes in the same batch, so it is sent marked) and the one the new
// commit index prompts. Raft answers both alike; neither answer tells the
// leader anything, and neither goes. Before, the second went: half the
// notices of a group committing one record a few ticks were answered.
func TestCommitNoticesUnderHeartbeatsAreNotAnswered(t *testing.T) {
	for _, async := range []bool{false, true} {
		asyncWrites = async
		c := newCluster(t, 3, func(_ *Config, rc *consistency.Config) { rc.HeartbeatTick = 1 })
		asyncWrites = false
		leader := c.noticing()
		c.sent = nil
		for i := range 60 {
			if i%3 == 0 {
				leader.e.Propose([]Proposal{prop(t, leader.applied())})
			}
			c.tick(1)
		}
		notices, answers := answersTo(c.sent)
		if notices == 0 {
			t.Fatalf("async %v: 20 commits with heartbeats, and the leader marked no commit notice", async)
		}
		if answers != 0 {
			t.Fatalf("async %v: followers answered %d of %d commit notices", async, answers, notices)
		}
		for _, n := range c.nodes {
			if n.applied() != leader.applied() {
				t.Fatalf("async %v: node %d applied up to %d, the leader %d", async, n.id, n.applied(), leader.applied())
			}
		}
	}
}
