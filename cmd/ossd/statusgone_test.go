package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// ossd status says which learners are no live member. A node killed
// while it holds only learner replicas (a client node, a server beyond
// a heap's voters) leaves the member list at once, but its groups keep it
// as a learner until their leaders remove it, --replace-after after it
// went; the status listed it under LEARNERS for that long (about a
// minute with the default failure detection and --replace-after) with
// nothing saying that it had gone.
func TestStatusSaysWhichLearnersAreGone(t *testing.T) {
	st := &oss.ClusterStatus{Node: "n1",
		Members: []oss.Member{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}, {Name: "c1", Role: "client"}},
		Heaps: []oss.HeapStatus{
			{Name: "oss:catalog", Replicas: 5, Leader: "n1", Voters: []string{"n1", "n2", "n3"}, Learners: []string{"n4", "c1"}},
			{Name: "bank", Replicas: 3, Leader: "n1", Voters: []string{"n1", "n2", "n3"}, Learners: []string{"c1", "c2", "n4"}},
		}}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	for _, want := range []string{"not live: c2, a learner of bank, is no live member", "not live: n4, a learner of oss:catalog, bank, is no live member"} {
		if !strings.Contains(out, want) {
			t.Errorf("ossd status with learners c2 and n4 gone:\n%s\nwant %q", out, want)
		}
	}
	if strings.Contains(out, "not live: c1") || strings.Contains(out, "not live: n1") {
		t.Errorf("ossd status names a live member gone:\n%s", out)
	}
	b.Reset()
	st.Members = append(st.Members, oss.Member{Name: "c2", Role: "client"}, oss.Member{Name: "n4"})
	printStatus(&b, st)
	if strings.Contains(b.String(), "not live:") {
		t.Errorf("ossd status with every learner live:\n%s", b.String())
	}
}
