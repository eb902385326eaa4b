package oss

import (
	"context"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

// Status names each member's leads as its heaps name their leaders. The
// members' leads came from what each announced in membership, a second
// late and later still for a member that stopped answering: "ossd
// status" listed a node killed a moment before, "unreachable", as
// leading settings and t1, beside the node elected in its place, and
// after a restart listed a heap's leader under another member.
func TestStatusLeadsAgreeWithHeapLeaders(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 5, "a", "b", "c")
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "h1")
		c.open(name, "h2")
	}
	var st ClusterStatus
	waitCond(t, "a status naming every heap's leader", func() bool {
		st = c.nodes["a"].Status(context.Background())
		for _, h := range st.Heaps {
			if h.Leader == "" {
				return false
			}
		}
		return len(st.Heaps) == 3
	})
	for _, h := range st.Heaps {
		for _, m := range st.Members {
			if leads := slices.Contains(m.Leads, h.Name); leads != (m.Name == h.Leader) {
				t.Errorf("member %s leads %v; heap %s's leader is %s", m.Name, m.Leads, h.Name, h.Leader)
			}
		}
	}
}
