package main

import (
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// ossd status says which voters are down. A voter killed leaves the
// member list but stays in its heaps' groups until it is replaced (never,
// with no server free to take its place), and the status showed the
// groups whole: VOTERS n1,n2,n3 beside members n1 and n2, nothing saying
// that one failure more stops every heap.
func TestStatusSaysWhichVotersAreDown(t *testing.T) {
	st := &oss.ClusterStatus{Node: "n1",
		Members: []oss.Member{{Name: "n1"}, {Name: "n2"}, {Name: "c1", Role: "client"}},
		Heaps: []oss.HeapStatus{
			{Name: "oss:catalog", Replicas: 5, Leader: "n1", Voters: []string{"n1", "n2", "n3"}},
			{Name: "bank", Replicas: 3, Leader: "n1", Voters: []string{"n1", "n2", "n3"}, Learners: []string{"c1", "c2"}},
			{Name: "settings", Replicas: 3, Leader: "n2", Voters: []string{"n2", "n4", "n1"}},
		}}
	var b strings.Builder
	printStatus(&b, st)
	out := b.String()
	for _, want := range []string{"down: n3, a voter of oss:catalog, bank, is no live member\n", "down: n4, a voter of settings, is no live member\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("ossd status with voters n3 and n4 down:\n%s\nwant %q", out, want)
		}
	}
	if strings.Contains(out, "down: n1") || strings.Contains(out, "down: n2") || strings.Contains(out, "down: c") {
		t.Errorf("ossd status names a live member or a learner down:\n%s", out)
	}
	b.Reset()
	st.Members = append(st.Members, oss.Member{Name: "n3"}, oss.Member{Name: "n4"})
	printStatus(&b, st)
	if strings.Contains(b.String(), "down:") {
		t.Errorf("ossd status with every voter live:\n%s", b.String())
	}
}
