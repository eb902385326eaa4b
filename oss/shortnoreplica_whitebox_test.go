package oss

import "testing"

// A heap no replica reported has no voters in the status. One of a
// single replica whose server died was listed so, with no shortfall, as
// if nothing were amiss: it is short for NoReplicaAnswered. A heap some
// replica reported without voters (a learner's view before its first
// configuration) is not, nor is the catalog, nor any heap on a node
// whose certificate is revoked.
func TestShortfallOfAHeapNoReplicaReported(t *testing.T) {
	members := []Member{{Name: "n1", Role: "server"}, {Name: "n3", Role: "server"}}
	st := ClusterStatus{Node: "n1", Members: members, Heaps: []HeapStatus{
		{Name: "solo", Replicas: 1, ReplicaApplied: map[string]uint64{}},
		{Name: "bank", Replicas: 3, ReplicaApplied: map[string]uint64{}},
		{Name: "early", Replicas: 3, ReplicaApplied: map[string]uint64{"n3": 0}},
		{Name: catalogName, Replicas: catalogReplicas},
	}}
	noteShortfalls(&st)
	for _, c := range []struct {
		heap  string
		wants int
	}{{"solo", 1}, {"bank", 3}} {
		h := st.Heaps[heapIndex(st.Heaps, c.heap)]
		if s := h.Short; s == nil || s.Why != NoReplicaAnswered || s.Voters != 0 || s.Live != 0 || s.Wants != c.wants || s.Servers != 2 {
			t.Errorf("%s: shortfall %+v; want no replica answered, %d wanted, 2 servers", c.heap, s, c.wants)
		}
	}
	for _, name := range []string{"early", catalogName} {
		if s := st.Heaps[heapIndex(st.Heaps, name)].Short; s != nil {
			t.Errorf("%s: shortfall %+v; want none", name, s)
		}
	}
	revoked := ClusterStatus{Node: "n1", Members: members, Revoked: "oss: this node's certificate is revoked",
		Heaps: []HeapStatus{{Name: "solo", Replicas: 1}}}
	noteShortfalls(&revoked)
	if s := revoked.Heaps[0].Short; s != nil {
		t.Errorf("on a node whose certificate is revoked: shortfall %+v; want none", s)
	}
}

func heapIndex(hs []HeapStatus, name string) int {
	for i, h := range hs {
		if h.Name == name {
			return i
		}
	}
	panic("no heap " + name)
}
