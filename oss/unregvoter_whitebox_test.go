package oss

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/await"
	"go.uber.org/goleak"
)

// catalogLeader returns the replica of the catalog that leads it among
// the cluster's running nodes, or nil.
func (c *testCluster) catalogLeader() *Heap {
	for _, n := range c.nodes {
		if h := n.catalog.Load(); h != nil && h.leaderIs(h.self) {
			return h
		}
	}
	return nil
}

// A node restarted without its data runs under a new raft ID; the
// catalog's leader moves the node's record to it when it takes the
// node's join (admitJoin). Placement added the new ID to the catalog
// from membership before any join of it was taken (its joins were
// refused while membership still listed the old incarnation), and
// made it a voter in the old one's place; the replica, a member, asked
// to join no more, and the record kept the old ID for good: the catalog
// called its voter a former incarnation ("n2/…") and counted one live
// voter short for minutes (TestOssdImmediateRestarts, oss/ossdtest).
// Here the restart asks nothing until the old voter is replaced (its
// joins refused, every time): placement must not have used the new,
// unregistered ID for it, and the record must name the ID the catalog
// makes a voter.
func TestAVoterOfTheCatalogIsTheIncarnationItsRecordNames(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 37, "a", "b", "c", "d")
	var lead *Heap
	waitCond(t, "a leader of the catalog with three voters", func() bool {
		lead = c.catalogLeader()
		return lead != nil && lead.conf.Load() != nil && len(lead.conf.Load().Voters) == 3
	})
	// x: a voter placement wants, which does not lead, so that the
	// restarted x is where placement puts a voter.
	var all []engine.Member
	for _, name := range []string{"a", "b", "c", "d"} {
		all = append(all, engine.Member{ID: c.nodes[name].id, Name: name, Server: true})
	}
	var x string
	for _, m := range engine.Rank(catalogName, all)[:3] {
		if m.ID != lead.self && lead.votes(m.ID) {
			x = m.Name
			break
		}
	}
	if x == "" {
		t.Fatalf("no voter of the catalog that placement wants and that does not lead (%v)", lead.conf.Load().Voters)
	}
	old := c.nodes[x].id
	c.kill(x)
	c.add(x, true, func(cfg *Config) {
		cfg.catalogStep = func(step string, h *Heap) {
			if step != "join" {
				return
			}
			// Its joins all refused meanwhile: the replica's own
			// requests (rejoin) are held back until it asks at last.
			h.contact.rejoining.Store(true)
			defer h.contact.rejoining.Store(false)
			waitCond(t, "the old "+x+" replaced as a voter of the catalog", func() bool {
				l := c.catalogLeader()
				return l != nil && !l.votes(old) && len(l.conf.Load().Voters) == 3
			})
			if l := c.catalogLeader(); l != nil && l.votes(h.self) {
				// Placed in the old one's stead: the replica learns it
				// is a member before it asks to join, as it did there.
				waitCond(t, "the new "+x+"'s replica a member of the catalog", h.inConf.Load)
			}
		}
	})
	n := c.nodes[x]
	waitCond(t, x+"'s record naming its new raft ID, and the catalog's three voters live", func() bool {
		l := c.catalogLeader()
		if l == nil || l.node.committed().recs[x].ID != n.id {
			return false
		}
		st := l.Stats()
		return len(st.Voters) == 3 && !slices.ContainsFunc(st.Voters, func(v string) bool { return strings.Contains(v, "/") })
	})
	if rec := n.committed().recs[x]; rec.ID != n.id {
		t.Fatalf("%s's record names raft ID %016x, the node runs under %016x", x, rec.ID, n.id)
	}
}

// A member of the catalog whose record names another raft ID (one the
// catalog came to before placement stopped adding unregistered
// incarnations, say) asks to join until the record names its own: here
// the leader writes b's record with an ID b does not run under.
func TestAMemberOfTheCatalogRepairsItsRecord(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 41, "a", "b", "c")
	b := c.nodes["b"]
	waitCond(t, "b a member of the catalog, its record naming it", func() bool {
		return b.catalog.Load().current() && b.committed().recs["b"].ID == b.id
	})
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	other := b.id ^ 1
	for {
		var lead *Heap
		waitCond(t, "a leader of the catalog", func() bool { lead = c.catalogLeader(); return lead != nil })
		err := lead.Update(ctx, func(tx *Tx) error {
			return Put(tx, nodeRecordID("b"), nodeRecord{Name: "b", ID: other, Server: true})
		})
		if err == nil {
			break
		}
		if !errors.Is(err, ErrPermission) && !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrCommitUnknown) {
			t.Fatal(err)
		}
		t.Logf("the write of b's record: %v", err)
	}
	waitCond(t, "b's record naming its raft ID again", func() bool {
		l := c.catalogLeader()
		return l != nil && l.node.committed().recs["b"].ID == b.id
	})
}
