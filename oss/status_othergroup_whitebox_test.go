package oss

import (
	"slices"
	"testing"
)

// A node whose catalog replica lags may keep a replica of a heap of the
// name dropped since: the heap's status is of the entry's group alone.
// Matched by name only, that replica, leading its old group, gave the
// status its leader, voters and applied index.
func TestStatusIgnoresAReplicaOfAnotherGroup(t *testing.T) {
	entries := []heapEntry{{Name: "x", Group: 7, Replicas: 3}}
	all := map[string][]replicaStatus{
		"a": {{Heap: "x", Group: 5, Leading: true, Leader: "a", Voters: []string{"a"}, Applied: 100}},
		"b": {{Heap: "x", Group: 7, Leading: true, Leader: "b", Voters: []string{"b", "c"}, Applied: 3}},
		"c": {{Heap: "x", Leader: "b", Voters: []string{"b", "c"}, Applied: 2}}, // a node that does not say its group
	}
	hs := heapStatuses(entries, all)
	if len(hs) != 1 {
		t.Fatalf("statuses: %+v; want one", hs)
	}
	s := hs[0]
	if s.Group != 7 || s.Leader != "b" || !slices.Equal(s.Voters, []string{"b", "c"}) || s.Applied != 3 {
		t.Errorf("status of x: group %d, leader %q, voters %v, applied %d; want group 7's: b, [b c], 3", s.Group, s.Leader, s.Voters, s.Applied)
	}
	if _, ok := s.ReplicaApplied["a"]; ok || s.ReplicaApplied["c"] != 2 {
		t.Errorf("replicas applied: %v; want b's and c's, not a's replica of group 5", s.ReplicaApplied)
	}
}
