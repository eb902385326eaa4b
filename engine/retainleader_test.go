package engine

import "testing"

// A follower that died while another replica led holds nothing back once
// a replica that led before leads again. Raft tracks the follower's
// progress afresh, which looks like a follower probed after a snapshot,
// and the engine counted its silence from when it last heard it in the
// earlier leadership: the dead follower held the log for its snapshot
// grace (up to MaxLogBytes for a minute).
func TestDeadFollowerDoesNotPinTheLogOfALeaderElectedAgain(t *testing.T) {
	c := lagCluster(t, 1<<30)
	lead := c.node(1)
	fillLog(t, c, 2<<10)
	c.cut(3)
	c.tick(25) // CheckQuorum finds 3 inactive
	transfer(t, c, 1, 2)
	c.tick(5)
	transfer(t, c, 2, 1)
	fillLog(t, c, 32<<10)
	if k := snapshotsTo(c, 3); k > 0 {
		t.Fatalf("%d snapshots sent to the dead follower: not the case under test", k)
	}
	if held := lead.e.held.bytes; held > 2<<10+1024 {
		t.Fatalf("leader holds %d bytes of log for a follower dead for %d ticks, bound 2 KiB",
			held, lead.e.ticks-lead.e.heardFrom[3])
	}
	if first, _ := lead.st.FirstIndex(); first <= c.node(3).applied()+1 {
		t.Fatalf("leader's log starts at %d, the dead follower applied %d", first, c.node(3).applied())
	}
}

// transfer hands the leadership from one replica to another.
func transfer(t *testing.T, c *cluster, from, to uint64) {
	t.Helper()
	c.node(from).e.Replica().TransferLeader(to)
	c.settle()
	c.tick(1)
	for _, n := range c.nodes[:2] {
		if n.e.Lead() != to {
			t.Fatalf("node %d: leader %d, want %d", n.id, n.e.Lead(), to)
		}
	}
}
