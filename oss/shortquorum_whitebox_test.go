package oss

import (
	"testing"
)

// A heap with no more than half its voters live has no leader, and only
// a leader replaces a voter: its shortfall is told as no quorum, not as
// a replacement pending (which waited for nothing) nor as short of
// servers. A node whose certificate is revoked sets no shortfall: its
// peers refuse it, and its view of the members is not to be trusted.
func TestShortfallOfAHeapWithoutQuorumIsNoQuorum(t *testing.T) {
	servers := func(names ...string) []Member {
		var ms []Member
		for _, n := range names {
			ms = append(ms, Member{Name: n, Role: "server"})
		}
		return ms
	}
	for _, c := range []struct {
		what    string
		members []Member
		heap    HeapStatus
		why     string
	}{
		{"voters n1-n3, n2 and n3 down, n4 and n5 live", servers("n1", "n4", "n5"),
			HeapStatus{Name: "bank", Replicas: 3, Voters: []string{"n1", "n2", "n3"}}, QuorumLost},
		{"voters n1-n3, n2 and n3 down, n1 alone live", servers("n1"),
			HeapStatus{Name: "bank", Replicas: 3, Voters: []string{"n1", "n2", "n3"}}, QuorumLost},
		{"one replica, its voter down", servers("n1", "n3"),
			HeapStatus{Name: "solo", Replicas: 1, Voters: []string{"n2"}}, QuorumLost},
		{"voters n1-n4 (a group growing), n3 and n4 down", servers("n1", "n2", "n5"),
			HeapStatus{Name: "bank", Replicas: 5, Voters: []string{"n1", "n2", "n3", "n4"}}, QuorumLost},
		{"voters n1-n3, n3 down, n4 live", servers("n1", "n2", "n4"),
			HeapStatus{Name: "bank", Replicas: 3, Leader: "n1", Voters: []string{"n1", "n2", "n3"}}, ReplacementPending},
		{"voters n1-n3, n3 down, no other server", servers("n1", "n2"),
			HeapStatus{Name: "bank", Replicas: 3, Leader: "n1", Voters: []string{"n1", "n2", "n3"}}, ShortOfServers},
	} {
		st := ClusterStatus{Node: "n1", Members: c.members, Heaps: []HeapStatus{c.heap}}
		noteShortfalls(&st)
		if s := st.Heaps[0].Short; s == nil || s.Why != c.why {
			t.Errorf("%s: shortfall %+v; want %q", c.what, s, c.why)
		}
		st = ClusterStatus{Node: "n1", Members: c.members, Heaps: []HeapStatus{c.heap}, Revoked: "oss: this node's certificate is revoked"}
		noteShortfalls(&st)
		if s := st.Heaps[0].Short; s != nil {
			t.Errorf("%s, on a node whose certificate is revoked: shortfall %+v; want none", c.what, s)
		}
	}
}
