package oss

import (
	"fmt"
	"slices"
	"testing"
)

// Shrink and rebalance of the catalog while one of its voters' records
// lags (names another raft ID than the voter runs under, until
// checkRecord mends it): the voter counts live, so neither waits for the
// repair, and nothing is removed for the lag.

// catalogVotersAre reports whether the catalog's leader has exactly the
// voters of names, and is not between configurations. It fails the test
// if keep, a voter that stays, is no voter.
func catalogVotersAre(t *testing.T, c *testCluster, keep string, names ...string) bool {
	t.Helper()
	lead := c.catalogLeader()
	if lead == nil || lead.conf.Load() == nil {
		return false
	}
	cs := lead.conf.Load()
	if id := c.nodes[keep].id; !slices.Contains(cs.Voters, id) && len(cs.VotersOutgoing) == 0 {
		t.Fatalf("%s, whose record lags, is no voter of the catalog: %v", keep, cs)
	}
	var want []uint64
	for _, name := range names {
		want = append(want, c.nodes[name].id)
	}
	return len(cs.VotersOutgoing) == 0 && slices.Equal(slices.Sorted(slices.Values(cs.Voters)), slices.Sorted(slices.Values(want)))
}

// heapsListed reports whether every live node's catalog lists every heap.
func heapsListed(c *testCluster, heaps []string) bool {
	for _, n := range c.nodes {
		st := n.catalog.Load().state.Load()
		for _, name := range heaps {
			if _, ok := st.Get(entryID(name)); !ok {
				return false
			}
		}
	}
	return true
}

// mendRecord lets name's node repair its record, waits until every live
// node's catalog names its raft ID, and checks that the catalog keeps
// the voters of voters and every heap of heaps, one more created then.
func mendRecord(t *testing.T, c *testCluster, name string, voters []string, heaps []string) {
	t.Helper()
	n := c.nodes[name]
	n.catalog.Load().contact.holdRepair.Store(false)
	waitCond(t, name+"'s record mended everywhere", func() bool {
		for _, o := range c.nodes {
			if lags(o, name, n.id) {
				return false
			}
		}
		return true
	})
	last := fmt.Sprintf("after-%s", name)
	c.open(voters[0], last)
	heaps = append(heaps, last)
	waitCond(t, "every heap listed everywhere", func() bool { return heapsListed(c, heaps) })
	waitCond(t, "the catalog's voters kept", func() bool { return catalogVotersAre(t, c, name, voters...) })
}

// Two of the catalog's five voters die, and no server can replace them:
// the group shrinks to the three live ones, one of them a voter whose
// record lags. Counted dead, it left two live voters of five, and the
// catalog kept its dead voters (and survived no further failure) until
// the record was mended.
func TestTheCatalogShrinksWithAVoterWhoseRecordLags(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d", "e"}
	c := startTestNodes(t, 61, names...)
	ranked := catalogRanked(names...)
	lead, voter, other := ranked[0], ranked[1], ranked[2]
	// Led by the voter placement ranks first, not by the lagging one,
	// which counts itself live whatever its record says.
	waitCond(t, "the catalog with five voters, led by "+lead, func() bool {
		h := c.nodes[lead].catalog.Load()
		return h.leaderIs(h.self) && catalogVotersAre(t, c, voter, names...)
	})
	heaps := []string{"before"}
	c.open(lead, heaps[0])
	lagRecord(t, c, voter)
	waitCond(t, "every node's catalog with "+voter+"'s record lagging", func() bool {
		for _, n := range c.nodes {
			if !lags(n, voter, c.nodes[voter].id) {
				return false
			}
		}
		return true
	})
	c.kill(ranked[3])
	c.kill(ranked[4])
	waitCond(t, "the catalog shrunk to its three live voters", func() bool { return catalogVotersAre(t, c, voter, lead, voter, other) })
	heaps = append(heaps, "shrunk")
	c.open(other, heaps[1])
	if !lags(c.nodes[voter], voter, c.nodes[voter].id) {
		t.Fatalf("%s's record mended before the shrink was checked: the test proves nothing", voter)
	}
	mendRecord(t, c, voter, []string{lead, voter, other}, heaps)
}

// A server joins where placement wants it: the catalog moves its lowest-
// placed voter there while another voter's record lags. Counted dead,
// the lagging voter kept the rebalance (every voter must be live) from
// happening until the record was mended.
func TestTheCatalogRebalancesWithAVoterWhoseRecordLags(t *testing.T) {
	t.Parallel()
	first := []string{"a", "b", "c"}
	// A fourth server placement puts among the catalog's three voters,
	// and a voter that stays which neither leads before nor after.
	var joiner, voter string
	var after []string
	for i := 0; voter == ""; i++ {
		joiner = fmt.Sprintf("n%d", i)
		after = catalogRanked(append(slices.Clone(first), joiner)...)
		if !slices.Contains(after[:3], joiner) {
			continue
		}
		for _, name := range after[1:3] {
			if name != joiner && name != catalogRanked(first...)[0] {
				voter = name
			}
		}
	}
	c := startTestNodes(t, 67, first...)
	// Led by the voter placement ranks first, not by the lagging one,
	// which counts itself live whatever its record says.
	lead := catalogRanked(first...)[0]
	waitCond(t, "the catalog with three voters, led by "+lead, func() bool {
		h := c.nodes[lead].catalog.Load()
		return h.leaderIs(h.self) && catalogVotersAre(t, c, voter, first...)
	})
	heaps := []string{"before"}
	c.open(first[0], heaps[0])
	lagRecord(t, c, voter)
	waitCond(t, "every node's catalog with "+voter+"'s record lagging", func() bool {
		for _, n := range c.nodes {
			if !lags(n, voter, c.nodes[voter].id) {
				return false
			}
		}
		return true
	})
	c.add(joiner, true, nil)
	waitCond(t, "the catalog's voters moved to "+fmt.Sprint(after[:3]), func() bool { return catalogVotersAre(t, c, voter, after[:3]...) })
	heaps = append(heaps, "rebalanced")
	c.open(joiner, heaps[1])
	if !lags(c.nodes[voter], voter, c.nodes[voter].id) {
		t.Fatalf("%s's record mended before the rebalance was checked: the test proves nothing", voter)
	}
	mendRecord(t, c, voter, after[:3], heaps)
}
