package oss

import (
	"context"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

// A restarted node acts on its catalog only once the catalog has applied
// what its recovered log held (catalogGate). A tail of that log that
// never committed may never be reached in a quiet cluster, and the node
// then neither closed a dropped heap nor opened one placed on it (found
// by probing the library). Here a follower's gate stands far past
// anything the catalog will commit, in its current term, as such a tail
// would: the heap dropped meanwhile stays open on it, and once the
// catalog elects a leader in a later term, whose first entry the
// follower applies, it acts on the directory and closes it.
func TestCatalogGatePassedAtALaterTerm(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	names := []string{"a", "b", "c"}
	c := startTestNodes(t, 17)
	for i, name := range names {
		c.add(name, i > 0, nil)
		c.open(name, "h")
	}
	waitCond(t, "the catalog's three voters", func() bool {
		for _, name := range names {
			if st := c.nodes[name].catalog.Load().Stats(); st.Joint || !slices.Equal(st.Voters, names) {
				return false
			}
		}
		return true
	})
	var lead, x string
	waitCond(t, "a catalog leader", func() bool {
		for _, name := range names {
			if cat := c.nodes[name].catalog.Load(); cat.leader.Load() == cat.self {
				lead = name
			}
		}
		return lead != ""
	})
	for _, name := range names {
		if name != lead {
			x = name
			break
		}
	}
	n := c.nodes[x]
	cat := n.catalog.Load()
	g := &n.catalogGate
	g.passed.Store(false)
	g.term.Store(cat.term.Load())
	g.index.Store(cat.state.Load().Index() + 1<<40)

	if err := c.nodes[lead].DropHeap(context.Background(), "h"); err != nil {
		t.Fatal(err)
	}
	waitCond(t, x+"'s catalog to apply the drop", func() bool {
		_, ok := n.catalogEntry("h")
		return !ok
	})
	if n.replicaOf("h") == nil {
		t.Fatalf("%s closed the dropped heap before its catalog passed its gate", x)
	}

	c.moveCatalogLeader(t, names)
	waitCond(t, x+" to close the dropped heap", func() bool { return n.replicaOf("h") == nil })
	if g.index.Load() >= 1<<40 {
		t.Errorf("the gate stands at %d after an entry of a later term", g.index.Load())
	}
}
