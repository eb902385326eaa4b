package engine

import (
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// loneVoterNode returns a replica of a group of one voter (1) and one
// learner (2), over st, which holds the group's first snapshot.
func loneVoterNode(t *testing.T, id uint64, st *raft.MemoryStorage) *node {
	t.Helper()
	r, err := consistency.NewReplica(&consistency.Config{ID: id, Storage: st, Applied: 1, ElectionTick: 1000, AsyncStorageWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Storage: st, Replica: r})
	if err != nil {
		t.Fatal(err)
	}
	return &node{id: id, st: st, e: e, ckptOK: true,
		out: map[uuid.UUID]Completion{}, n: map[uuid.UUID]int{}, rds: map[uint64]*Failure{}}
}

// A lone voter restarted comes back with the commit index its log kept,
// which lags what it acknowledged (a write of a commit index alone is not
// kept: raft learns it again), and leads at once, before the entry of its
// election is durable. Raft holds a read index request of a leader's own
// until it commits an entry of its term only when it has other voters, and
// answers a learner's at once with its commit index: the learner then read
// a state without commits acknowledged before it asked (the simulation,
// seed 21482). The leader holds a peer's request until it has applied an
// entry of its term, as it holds its own reads.
func TestLoneVoterAnswersALearnersReadOnlyWithACommitOfItsTerm(t *testing.T) {
	snap := raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 1, Term: 1,
		ConfState: raftpb.ConfState{Voters: []uint64{1}, Learners: []uint64{2}}}}
	c := &cluster{t: t}
	for id := uint64(1); id <= 2; id++ {
		st := raft.NewMemoryStorage()
		if err := st.ApplySnapshot(snap); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, loneVoterNode(t, id, st))
	}
	c.elect(1)
	// The learner is cut off while the voter commits alone.
	c.cut(2)
	lead := c.node(1)
	var ps []Proposal
	for range 3 {
		p := prop(t, 1)
		ps = append(ps, p)
		lead.e.Propose([]Proposal{p})
		c.settle()
	}
	for _, p := range ps {
		if cp := lead.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
			t.Fatalf("completion %+v (%v), want committed", cp, cp.Err)
		}
	}
	acked := lead.applied()

	// Power loss: the log keeps every entry, and the commit index of the
	// first snapshot. The voter leads again at once; the entry of its new
	// term is not yet durable.
	last, _ := lead.st.LastIndex()
	ents, err := lead.st.Entries(2, last+1, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	hs, _, _ := lead.st.InitialState()
	st := raft.NewMemoryStorage()
	if err := st.ApplySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ents); err != nil {
		t.Fatal(err)
	}
	if err := st.SetHardState(raftpb.HardState{Term: hs.Term, Vote: hs.Vote, Commit: 1}); err != nil {
		t.Fatal(err)
	}
	lead = loneVoterNode(t, 1, st)
	c.nodes[0] = lead
	c.drop = nil
	if err := lead.e.Replica().Campaign(); err != nil {
		t.Fatal(err)
	}
	// Its votes for itself written, not the entry of its election.
	lead.hold = true
	for i := 0; lead.e.Replica().Status().RaftState != raft.StateLeader; i++ {
		if i == 10 {
			t.Fatal("the restarted voter does not lead")
		}
		c.handleReadies(lead)
		lead.flush()
	}
	c.settle()
	if lead.e.Replica().ReadIndexReady() || c.node(2).e.Lead() != 1 {
		t.Fatalf("the restarted voter applied an entry of its term already (%v), or the learner does not follow it (leader %d): the test shows nothing",
			lead.e.Replica().ReadIndexReady(), c.node(2).e.Lead())
	}

	learner := c.node(2)
	learner.e.Read(1)
	c.settle()
	if f, ok := learner.rds[1]; ok {
		t.Fatalf("the learner's read was answered (%v) at index %d, below the commits acknowledged up to %d", f, learner.applied(), acked)
	}
	// Asked again meanwhile, it is held once.
	c.tick(DefaultResendTicks / 2)
	if _, ok := learner.rds[1]; ok || len(lead.e.heldAsks) != 1 {
		t.Fatalf("asked again: answered %v, %d requests held, want 1 held", ok, len(lead.e.heldAsks))
	}
	lead.hold = false
	c.settle()
	if f, ok := learner.rds[1]; !ok || f != nil {
		t.Fatalf("the learner's read: answered %v (%v), want answered once the voter commits an entry of its term", ok, f)
	}
	if learner.applied() < acked {
		t.Fatalf("the learner's read was answered at index %d, below the commits acknowledged up to %d", learner.applied(), acked)
	}
}
