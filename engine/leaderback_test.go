package engine

import (
	"testing"

	"github.com/objectsharing/oss/consistency"
)

// A replica that hears its leader again after NoLeaderTicks without one
// takes a proposal at once. The count of ticks without a leader was reset
// only at the next tick, and the leader taken as in reach only from the
// first message after the Ready that named it: a commit made in between
// (an Update that the snapshot bringing the replica back had woken)
// failed with NoLeaderFor, "no quorum", from a replica that had just
// heard its leader.
func TestProposalRightAfterTheLeaderIsBack(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	n := c.node(3)
	c.cut(3)
	c.tick(2*DefaultElectionTicks + DefaultNoLeaderTicks)
	if n.e.LeaderInReach() {
		t.Fatalf("a cut-off follower: leader %d in reach", n.e.Lead())
	}
	c.drop = nil
	// The leader's next append reaches the follower; no tick passes.
	c.node(1).e.Propose([]Proposal{prop(t, c.node(1).applied())})
	c.settle()
	if n.e.Lead() != 1 || !n.e.LeaderInReach() {
		t.Fatalf("the follower that heard its leader's append: leader %d, in reach %v; want 1, true", n.e.Lead(), n.e.LeaderInReach())
	}
	q := prop(t, n.applied())
	n.e.Propose([]Proposal{q})
	c.settle()
	if cp := n.result(t, q); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("a proposal right after the leader is back: %+v (%v), want committed", cp, cp.Err)
	}
}
