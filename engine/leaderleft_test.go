package engine

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// A proposal made while the replica's leader is a node that has left the
// cluster (LeaderLeft) is not handed to raft, which would forward it to
// that node, where nothing can commit it: with no other leader it fails
// definitely after NoLeaderTicks (it used to be forwarded and end
// unknown), and with another leader elected meanwhile it is proposed to
// that one and commits.
func TestProposalToALeaderThatLeft(t *testing.T) {
	t.Run("no other leader", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		c.elect(1)
		n := c.node(3)
		c.drop = func(m raftpb.Message) bool { return m.From == 1 || m.To == 1 || m.To == 3 || m.From == 3 }
		n.e.LeaderLeft(1)
		if n.e.LeaderInReach() {
			t.Fatal("a leader that left is in reach")
		}
		p := prop(t, n.applied())
		n.e.Propose([]Proposal{p})
		c.tick(DefaultNoLeaderTicks)
		wantFailure(t, n.result(t, p), NoLeaderInReach, false)
	})
	t.Run("another leader", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		c.elect(1)
		n := c.node(3)
		c.cut(1)
		n.e.LeaderLeft(1)
		p := prop(t, n.applied())
		n.e.Propose([]Proposal{p})
		if n.e.LeaderInReach() {
			t.Fatal("a leader that left is in reach")
		}
		c.tick(2)
		if n.n[p.TxID] != 0 {
			t.Fatalf("decided with the leader that left: %+v", n.out[p.TxID])
		}
		// As a leadership transfer: 2 campaigns, and 3 votes for it.
		term := n.e.Replica().Status().Term
		c.node(2).e.Step(raftpb.Message{Type: raftpb.MsgTimeoutNow, From: 1, To: 2, Term: term})
		c.settle()
		if n.e.Lead() != 2 {
			t.Fatalf("leader %d, want 2", n.e.Lead())
		}
		c.tick(1)
		c.settle()
		if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
			t.Fatalf("after another leader was elected: %+v, want committed", cp)
		}
	})
}
