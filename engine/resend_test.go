package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"testing/cryptotest"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// How a proposal the log held at the replica's term is lost, and found
// again: the replica's term stays while the entry goes, only if the term's
// leader stops leading, and then a later term takes over.

// copiesIn returns the copies of p the log of n holds, durable.
func copiesIn(t *testing.T, n *node, p Proposal) (copies int) {
	t.Helper()
	first, _ := n.st.FirstIndex()
	last, _ := n.st.LastIndex()
	ents, err := n.st.Entries(first, last+1, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if bytes.Equal(ent.Data, p.Data) {
			copies++
		}
	}
	return copies
}

// partition drops every message between the nodes of side and the rest.
func partition(side ...uint64) func(raftpb.Message) bool {
	in := func(id uint64) bool {
		for _, s := range side {
			if s == id {
				return true
			}
		}
		return false
	}
	return func(m raftpb.Message) bool { return in(m.From) != in(m.To) }
}

// tickUntil ticks until done holds, at most limit ticks.
func (c *cluster) tickUntil(limit int, what string, done func() bool) {
	c.t.Helper()
	for range limit {
		if done() {
			return
		}
		c.tick(1)
	}
	c.t.Fatalf("not within %d ticks: %s", limit, what)
}

// transfer makes id campaign at once at the next term, as a leadership
// transfer does: the voters it reaches vote for it if its log is as long.
func (c *cluster) transfer(from, id uint64) {
	term := c.node(from).e.Replica().Status().Term
	c.node(id).e.Step(raftpb.Message{Type: raftpb.MsgTimeoutNow, From: from, To: id, Term: term})
	c.settle()
}

// A leader cut off from its followers holds its proposal at its term and
// does not propose it again; the others elect a leader of the next term
// without the entry. When the cut leader steps down (CheckQuorum) its
// term stays, the entry too, until the new leader reaches it: then the
// entry is overwritten, and the proposal is proposed again and commits.
func TestHeldProposalOfADeposedLeaderIsResent(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	n := c.node(1)
	term := n.e.Replica().Status().Term
	c.cut(1)
	p := prop(t, n.applied())
	n.e.Propose([]Proposal{p})
	c.settle()
	c.transfer(1, 2)
	if c.node(3).e.Lead() != 2 || n.e.Lead() != 1 {
		t.Fatalf("leaders %d (node 3), %d (node 1), want 2 and 1", c.node(3).e.Lead(), n.e.Lead())
	}
	c.tickUntil(10000, "the cut leader steps down", func() bool {
		return n.e.Replica().Status().RaftState != raft.StateLeader
	})
	if got := n.e.Replica().Status().Term; got != term {
		t.Fatalf("the deposed leader is at term %d, want %d: the test tests nothing", got, term)
	}
	if k := copiesIn(t, n, p); k != 1 || n.n[p.TxID] != 0 {
		t.Fatalf("the deposed leader's log holds %d copies, %d completions; want 1, 0", k, n.n[p.TxID])
	}
	c.drop = nil
	c.tick(DefaultResendTicks)
	if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("%+v, want committed", cp)
	}
	if got := n.e.Replica().Status().Term; got == term {
		t.Fatal("the deposed leader did not reach the next term")
	}
}

// A follower holds a proposal its leader replicated to it alone; a leader
// of the next term is elected without it, by the other side of a
// partition. The follower, still at the old term, does not propose it
// again while its leader leads; once the partition heals its entry is
// overwritten and the proposal is proposed again and commits.
func TestHeldProposalOverwrittenOnAFollowerIsResent(t *testing.T) {
	c := newCluster(t, 5, nil)
	c.elect(1)
	f := c.node(3)
	term := f.e.Replica().Status().Term
	c.drop = func(m raftpb.Message) bool { return m.Type == raftpb.MsgApp && m.From == 1 && m.To != 3 }
	p := prop(t, f.applied())
	f.e.Propose([]Proposal{p})
	c.settle()
	if copiesIn(t, f, p) != 1 || copiesIn(t, c.node(2), p) != 0 {
		t.Fatal("the record is not on the follower alone")
	}
	c.drop = partition(1, 3)
	c.transfer(1, 2)
	for _, id := range []uint64{4, 5} {
		if c.node(id).e.Lead() != 2 {
			t.Fatalf("node %d: leader %d, want 2", id, c.node(id).e.Lead())
		}
	}
	c.tickUntil(10000, "the old leader steps down", func() bool {
		return c.node(1).e.Replica().Status().RaftState != raft.StateLeader
	})
	if got := f.e.Replica().Status().Term; got != term || f.n[p.TxID] != 0 || copiesIn(t, c.node(1), p) != 1 {
		t.Fatalf("the follower: term %d (want %d), %d completions: the test tests nothing", got, term, f.n[p.TxID])
	}
	c.drop = nil
	c.tick(DefaultResendTicks)
	if cp := f.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("%+v, want committed", cp)
	}
	for _, n := range c.nodes {
		if k := copiesIn(t, n, p); k != 1 {
			t.Errorf("node %d: the log holds %d copies, want 1", n.id, k)
		}
	}
}

// A follower whose log held a proposal when its log refused the write
// reports it failed with an unknown outcome (it may commit without this
// replica), once, and nothing more when the others commit it.
func TestHeldProposalWhenTheLogRefuses(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	f := c.node(2)
	full := errors.New("disk full")
	var ents int
	c.drop = func(m raftpb.Message) bool {
		if m.Type == raftpb.MsgApp && m.To == 2 && len(m.Entries) > 0 {
			ents++
			f.disk = full // the append reaches the follower, its write fails
		}
		return false
	}
	p := prop(t, f.applied())
	f.e.Propose([]Proposal{p})
	c.settle()
	if ents == 0 {
		t.Fatal("no append reached the follower")
	}
	wantFailure(t, f.result(t, p), LogRefused, true)
	c.drop = nil
	f.disk = nil
	c.tick(2 * DefaultResendTicks)
	if f.n[p.TxID] != 1 {
		t.Fatalf("%d completions, want 1", f.n[p.TxID])
	}
	if c.node(1).e.Replica().State().Version(objectOf(p.TxID)) == 0 || f.e.Replica().State().Version(objectOf(p.TxID)) == 0 {
		t.Fatal("the record did not commit on the leader and the follower")
	}
}

// A leader transferring its leadership drops what it is handed; a
// follower's proposal it dropped is not in any log, and is proposed again
// after ResendTicks, to the new leader.
func TestProposalDroppedDuringATransferIsResent(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	f := c.node(2)
	// 3 does not catch up: the transfer to it waits.
	c.drop = func(m raftpb.Message) bool { return m.To == 3 && m.Type == raftpb.MsgApp }
	q := prop(t, c.node(1).applied())
	c.node(1).e.Propose([]Proposal{q})
	c.settle()
	c.node(1).e.Replica().TransferLeader(3)
	c.settle()
	p := prop(t, f.applied())
	f.e.Propose([]Proposal{p})
	c.settle()
	if k := copiesIn(t, c.node(1), p); k != 0 {
		t.Fatalf("the transferring leader took the proposal (%d copies): the test tests nothing", k)
	}
	c.drop = nil
	c.tickUntil(DefaultResendTicks, "the transfer ends", func() bool { return f.e.Lead() == 3 })
	c.tick(DefaultResendTicks)
	if cp := f.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("%+v, want committed", cp)
	}
}

// proposed is a proposal of a randomized test and the node it was made on.
type proposed struct {
	on *node
	p  Proposal
}

// Seed after seed, proposals made on any node under random faults
// (partitions, appends or their answers lost, leaders deposed by a
// transfer or by CheckQuorum) each end, once the faults heal, with one
// completion that tells the truth: committed ones are in the state,
// definite failures are not, and none waits on.
func TestProposalsEndOnceFaultsHeal(t *testing.T) {
	seeds := uint64(8)
	if testing.Short() {
		seeds = 2
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) { faultsHeal(t, seed) })
	}
}

// faultsHeal runs one seed of TestProposalsEndOnceFaultsHeal, raft's
// election timeouts drawn from the seed too.
func faultsHeal(t *testing.T, seed uint64) {
	cryptotest.SetGlobalRandom(t, seed)
	rng := rand.New(rand.NewPCG(seed, 0x7e5e))
	c := newCluster(t, 5, nil)
	c.elect(1)
	var all []proposed
	for range 6 {
		c.drop = randomFault(rng)
		for k := 1 + rng.IntN(3); k > 0; k-- {
			n := c.nodes[rng.IntN(len(c.nodes))]
			p := prop(t, n.applied())
			n.e.Propose([]Proposal{p})
			all = append(all, proposed{on: n, p: p})
		}
		c.settle()
		switch rng.IntN(4) {
		case 0:
			c.campaignNow(uint64(1 + rng.IntN(len(c.nodes))))
		case 1: // long enough for a cut leader to step down
			c.tick(2000)
		}
		c.tick(rng.IntN(3 * DefaultResendTicks))
	}
	c.drop = nil
	c.healLeader()
	c.tick(20 * DefaultResendTicks)
	checkEnded(t, seed, c, all)
}

// randomFault returns what the network drops for a while: nothing, a
// partition, a leader's appends to some, or the answers to them.
func randomFault(rng *rand.Rand) func(raftpb.Message) bool {
	var side []uint64
	for id := uint64(1); id <= 5; id++ {
		if rng.IntN(2) == 0 {
			side = append(side, id)
		}
	}
	in := partition(side...)
	switch rng.IntN(4) {
	case 0:
		return nil
	case 1:
		return in
	case 2:
		return func(m raftpb.Message) bool { return m.Type == raftpb.MsgApp && in(m) }
	default:
		return func(m raftpb.Message) bool { return m.Type == raftpb.MsgAppResp && in(m) }
	}
}

// campaignNow makes id campaign at once at the next term, its voters'
// leases aside (a transfer's campaign), if it is a follower.
func (c *cluster) campaignNow(id uint64) {
	n := c.node(id)
	st := n.e.Replica().Status()
	if st.RaftState != raft.StateFollower {
		return
	}
	n.e.Step(raftpb.Message{Type: raftpb.MsgTimeoutNow, From: id, To: id, Term: st.Term})
	c.settle()
}

// healLeader makes sure a leader all follow: the node with the longest
// log campaigns until one is.
func (c *cluster) healLeader() {
	c.t.Helper()
	c.tickUntil(20000, "a leader every node follows", func() bool {
		lead := c.nodes[0].e.Lead()
		agreed := lead != 0
		for _, n := range c.nodes {
			agreed = agreed && n.e.Lead() == lead
		}
		if agreed {
			return true
		}
		if c.nodes[0].e.Ticks()%50 == 0 {
			c.campaignNow(c.longestLog())
		}
		return false
	})
}

// longestLog returns the node whose durable log is the most up to date.
func (c *cluster) longestLog() uint64 {
	var best uint64
	var bestTerm, bestIndex uint64
	for _, n := range c.nodes {
		last, _ := n.st.LastIndex()
		term, _ := n.st.Term(last)
		if term > bestTerm || term == bestTerm && last > bestIndex {
			best, bestTerm, bestIndex = n.id, term, last
		}
	}
	return best
}

// checkEnded checks that every proposal ended once, truthfully.
func checkEnded(t *testing.T, seed uint64, c *cluster, all []proposed) {
	t.Helper()
	leader := c.node(c.nodes[0].e.Lead())
	var ended, committed, unknown int
	for _, x := range all {
		in := leader.e.Replica().State().Version(objectOf(x.p.TxID)) != 0
		cp, k := x.on.out[x.p.TxID], x.on.n[x.p.TxID]
		switch {
		case k != 1:
			t.Errorf("seed %d: node %d: %d completions of a proposal, want 1 (in the state: %v)", seed, x.on.id, k, in)
			continue
		case cp.Err == nil && cp.Result.Outcome == consistency.Committed && !in:
			t.Errorf("seed %d: node %d: reported committed, not in the state", seed, x.on.id)
		case cp.Err != nil && !cp.Err.Unknown && in:
			t.Errorf("seed %d: node %d: reported failed (%v), in the state", seed, x.on.id, cp.Err)
		case cp.Err != nil:
			unknown++
		case cp.Result.Outcome == consistency.Committed:
			committed++
		}
		ended++
	}
	t.Logf("seed %d: %d proposals, %d ended: %d committed, %d failed or unknown", seed, len(all), ended, committed, unknown)
}

// A proposal forwarded to a leader and never seen in the log, lost twice
// (its wait doubled), is proposed again within ResendTicks of a new term
// (half of it), not after the doubled wait: the leader it went to no
// longer leads, and what was on its way to it is as good as lost. So too
// when the proposer is the new leader: nothing of it is on its way.
func TestUnseenProposalIsResentInANewTerm(t *testing.T) {
	for _, to := range []uint64{3, 2} {
		t.Run(fmt.Sprintf("node %d leads", to), func(t *testing.T) {
			c := newCluster(t, 3, nil)
			c.elect(1)
			n := c.node(2)
			c.drop = func(m raftpb.Message) bool { return m.Type == raftpb.MsgProp }
			p := prop(t, n.applied())
			n.e.Propose([]Proposal{p})
			c.settle()
			c.tick(DefaultResendTicks + 1) // proposed again, and lost again
			if k := proposals(c, p, raftpb.MsgProp, 1); k != 2 {
				t.Fatalf("proposed %d times, want 2", k)
			}
			c.drop = nil
			c.transfer(1, to)
			if n.e.Lead() != to {
				t.Fatalf("leader %d, want %d", n.e.Lead(), to)
			}
			c.tick(DefaultResendTicks)
			if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
				t.Fatalf("%+v, want committed", cp)
			}
		})
	}
}
