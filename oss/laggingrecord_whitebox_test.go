package oss

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/await"
	"go.uber.org/goleak"
)

// A voter of the catalog whose record lags (names another raft ID than
// the one it runs under, until checkRecord mends it) is live to
// placement: only a node that is no voter is kept from a place there.

// lagRecord has the catalog record node name under another raft ID than
// its own, and holds back the node's repair of it (checkRecord). Its own
// hook, not the rejoin's flag: a rejoin already running clears that one
// as it ends.
func lagRecord(t *testing.T, c *testCluster, name string) {
	t.Helper()
	n := c.nodes[name]
	n.catalog.Load().contact.holdRepair.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	for {
		var lead *Heap
		waitCond(t, "a leader of the catalog", func() bool { lead = c.catalogLeader(); return lead != nil })
		err := lead.Update(ctx, func(tx *Tx) error {
			return Put(tx, nodeRecordID(name), nodeRecord{Name: name, ID: n.id ^ 1, Server: true})
		})
		if err == nil {
			return
		}
		if !errors.Is(err, ErrPermission) && !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrCommitUnknown) {
			t.Fatal(err)
		}
		t.Logf("the write of %s's record: %v", name, err)
	}
}

// lags reports whether node n's replica of the catalog records name
// under another raft ID than id.
func lags(n *Node, name string, id uint64) bool {
	rec, ok := n.committed().recs[name]
	return ok && rec.ID != id
}

// catalogRanked returns the names placement ranks for the catalog, best
// first.
func catalogRanked(names ...string) []string {
	var ms []engine.Member
	for _, name := range names {
		ms = append(ms, engine.Member{ID: uint64(len(ms) + 1), Name: name, Server: true})
	}
	var out []string
	for _, m := range engine.Rank(catalogName, ms) {
		out = append(out, m.Name)
	}
	return out
}

// The catalog's leader lists a voter whose record lags among the nodes
// its plan counts live, and not a learner whose record lags (its
// promotion would be a new place); a heap's placement reads no record.
func TestPlacementCountsAVoterWhoseRecordLagsLive(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 47, "a", "b", "c", "d")
	c.open("a", "bank")
	// Placement's voters, ranked[:3], and the learner ranked[3]; the
	// voter probed is not ranked[0], which the lead settles on.
	ranked := catalogRanked("a", "b", "c", "d")
	voter, learner := ranked[1], ranked[3]
	waitCond(t, "the catalog's voters as placement wants them, and a learner", func() bool {
		lead := c.catalogLeader()
		if lead == nil || lead.conf.Load() == nil {
			return false
		}
		cs := lead.conf.Load()
		var want []uint64
		for _, name := range ranked[:3] {
			want = append(want, c.nodes[name].id)
		}
		return len(cs.Voters) == 3 && !slices.ContainsFunc(want, func(id uint64) bool { return !slices.Contains(cs.Voters, id) }) &&
			slices.Equal(cs.Learners, []uint64{c.nodes[learner].id})
	})
	v, l := c.nodes[voter], c.nodes[learner]
	lagRecord(t, c, voter)
	lagRecord(t, c, learner)
	var got []engine.Member
	waitCond(t, "a leader of the catalog, neither "+voter+" nor "+learner+", that has both records lag", func() bool {
		h := c.catalogLeader()
		if h == nil || h.self == v.id || h.self == l.id || !lags(h.node, voter, v.id) || !lags(h.node, learner, l.id) {
			return false
		}
		cs := h.conf.Load()
		if !slices.Contains(cs.Voters, v.id) || !slices.Contains(cs.Learners, l.id) {
			return false
		}
		got = h.placeable(h.node.liveSet(), *cs)
		return true
	})
	has := func(ms []engine.Member, id uint64) bool {
		return slices.ContainsFunc(ms, func(m engine.Member) bool { return m.ID == id })
	}
	if !has(got, v.id) {
		t.Errorf("voter %s, its record lagging, is not live to the catalog's placement: %v", voter, got)
	}
	if has(got, l.id) {
		t.Errorf("learner %s, its record lagging, is live to the catalog's placement, which may make it a voter: %v", learner, got)
	}
	var bank []engine.Member
	waitCond(t, "a leader of bank", func() bool {
		for _, n := range c.nodes {
			if h := n.replicaOf("bank"); h != nil && h.leaderIs(h.self) {
				bank = h.placeable(n.liveSet(), *h.conf.Load())
				return true
			}
		}
		return false
	})
	if !has(bank, v.id) || !has(bank, l.id) {
		t.Errorf("a heap's placement leaves out a node whose record lags: %v", bank)
	}
}

// handOvers is a log handler that collects whom the catalog's leaders
// handed leadership over to as they left.
type handOvers struct {
	catalog bool // the records carry heap=oss:catalog
	mu      *sync.Mutex
	to      *[]string
}

func (h handOvers) Enabled(context.Context, slog.Level) bool { return true }

func (h handOvers) Handle(_ context.Context, r slog.Record) error {
	if !h.catalog || r.Message != "leaving: hand leadership over" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "to" {
			h.mu.Lock()
			*h.to = append(*h.to, a.Value.String())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h handOvers) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		if a.Key == "heap" && a.Value.String() == catalogName {
			h.catalog = true
		}
	}
	return h
}

func (h handOvers) WithGroup(string) slog.Handler { return h }

// A leaving leader of the catalog hands leadership to the one caught-up
// voter that stays, whose record lags: counted dead, it was handed none,
// and the leader left without a hand-over after handOverTimeout.
func TestALeavingLeaderHandsOverToAVoterWhoseRecordLags(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	var to []string
	logs := handOvers{mu: new(sync.Mutex), to: &to}
	c := startTestNodesWith(t, 53, func(cfg *Config) { cfg.Logger = slog.New(logs) }, "a", "b", "c")
	// The leader placement settles on, and the two others.
	ranked := catalogRanked("a", "b", "c")
	lead, voter, dead := ranked[0], ranked[1], ranked[2]
	waitCond(t, lead+" leading the catalog with three voters", func() bool {
		h := c.nodes[lead].catalog.Load()
		return h.leaderIs(h.self) && h.conf.Load() != nil && len(h.conf.Load().Voters) == 3
	})
	lagRecord(t, c, voter)
	waitCond(t, lead+" leading the catalog, "+voter+"'s record lagging", func() bool {
		h := c.nodes[lead].catalog.Load()
		return h.leaderIs(h.self) && lags(h.node, voter, c.nodes[voter].id)
	})
	c.kill(dead)
	c.leave(lead)
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if !slices.Contains(to, voter) {
		t.Fatalf("the catalog's leader %s left handing leadership to %v, not to %s, the one voter that stays", lead, to, voter)
	}
}

// Leadership of the catalog goes back to the voter placement ranks
// first while its record lags: counted dead, it was passed over until
// the record was mended, and leadership then moved once more.
func TestTheCatalogsLeadGoesBackToAVoterWhoseRecordLags(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 59, "a", "b", "c")
	ranked := catalogRanked("a", "b", "c")
	first := ranked[0]
	n := c.nodes[first]
	waitCond(t, first+" leading the catalog with three voters", func() bool {
		h := n.catalog.Load()
		return h.leaderIs(h.self) && h.conf.Load() != nil && len(h.conf.Load().Voters) == 3
	})
	lagRecord(t, c, first)
	waitCond(t, first+"'s record lagging", func() bool { return lags(n, first, n.id) })
	// Cut off, it loses the lead to one of the others.
	c.net.Partition([]string{first}, ranked[1:])
	var term uint64
	waitCond(t, "another node leading the catalog", func() bool {
		for _, name := range ranked[1:] {
			if h := c.nodes[name].catalog.Load(); h.leaderIs(h.self) && lags(h.node, first, n.id) {
				term = h.term.Load()
				return true
			}
		}
		return false
	})
	c.net.Heal()
	// Led at a later term: until it hears of the other's, it believes
	// it still leads at its own.
	waitCond(t, first+" leading the catalog again, its record lagging", func() bool {
		h := n.catalog.Load()
		return h.leaderIs(h.self) && h.term.Load() > term && lags(n, first, n.id)
	})
}
