package engine

import "testing"

// A proposal raft never took was never in any log: closing the engine
// fails it definitely, not with an unknown outcome, whether no leader was
// known (raft drops proposals then) or the leader was handing its
// leadership over (raft drops them too). One raft took once stays
// unknown, whatever became of the copies sent after it.
func TestCloseFailsUnproposedDefinitely(t *testing.T) {
	t.Run("no leader", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		c.settle()
		n := c.node(2)
		p := prop(t, n.applied())
		n.e.Propose([]Proposal{p})
		c.settle()
		n.e.Close()
		c.settle()
		wantFailure(t, n.result(t, p), Closed, false)
	})
	t.Run("leader transferring", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		c.elect(1)
		c.cut(3) // the transfer never completes
		n := c.node(1)
		n.e.Replica().TransferLeader(3)
		c.settle()
		p := prop(t, n.applied())
		n.e.Propose([]Proposal{p})
		c.settle()
		if n.n[p.TxID] != 0 {
			t.Fatal("decided while the leader transfers")
		}
		n.e.Close()
		c.settle()
		wantFailure(t, n.result(t, p), Closed, false)
	})
	t.Run("forwarded, then no leader", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		c.elect(1)
		c.cut(2)
		n := c.node(2)
		p := prop(t, n.applied())
		n.e.Propose([]Proposal{p}) // forwarded, lost on the way
		c.settle()
		n.e.Close()
		c.settle()
		wantFailure(t, n.result(t, p), Closed, true)
	})
}
