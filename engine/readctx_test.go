package engine

import "testing"

// Each replica numbers its reads from 1, and the number was the whole of
// the read-index context raft's leader keys its pending reads by: two
// followers asking at once under the same number were one request to
// the leader, which dropped the second (raft's readOnly.addRequest) and
// answered the first; the second was answered only once asked again,
// ResendTicks/2 later. The context names the replica too.
func TestReadsOfTwoFollowersUnderOneNumberAreBothAnswered(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	c.node(2).e.Read(1)
	c.node(3).e.Read(1)
	c.settle()
	for _, id := range []uint64{2, 3} {
		if f, ok := c.node(id).rds[1]; !ok || f != nil {
			t.Errorf("node %d's read 1, asked with node %d's: answered %v (%v), want answered at once", id, 5-id, ok, f)
		}
	}
	// So is the leader's own, under the number of a follower's.
	c.node(1).e.Read(4)
	c.node(2).e.Read(4)
	c.settle()
	for _, id := range []uint64{1, 2} {
		if f, ok := c.node(id).rds[4]; !ok || f != nil {
			t.Errorf("node %d's read 4: answered %v (%v), want answered at once", id, ok, f)
		}
	}
}
