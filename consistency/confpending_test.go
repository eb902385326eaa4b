package consistency

import (
	"errors"
	"slices"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

func addLearnerChange(id uint64) raftpb.ConfChangeV2 {
	return raftpb.ConfChangeV2{Changes: []raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeAddLearnerNode, NodeID: id}}}
}

// A leader refuses a configuration change raft would decline, with
// ErrConfChangePending, while an earlier change is not applied: raft
// turned it into an empty entry and the caller believed it proposed.
func TestConfChangeRefusedWhileOneIsPending(t *testing.T) {
	c := newSimCluster(t, 3, 3)
	c.isolated = map[uint64]bool{4: true, 5: true} // learners without a replica here
	leader := c.nodes[1].r
	if err := leader.ProposeConfChange(addLearnerChange(4)); err != nil {
		t.Fatalf("first change: %v", err)
	}
	c.process(0) // appended, not yet committed
	if err := leader.ProposeConfChange(addLearnerChange(5)); !errors.Is(err, ErrConfChangePending) {
		t.Fatalf("a second change while the first is pending: %v, want ErrConfChangePending", err)
	}
	c.settle()
	if cs := leader.ConfState(); !slices.Equal(cs.Learners, []uint64{4}) {
		t.Fatalf("learners %v after the first change, want [4]", cs.Learners)
	}
	if err := leader.ProposeConfChange(addLearnerChange(5)); err != nil {
		t.Fatalf("a change once the first is applied: %v", err)
	}
	c.settle()
	if cs := leader.ConfState(); !slices.Equal(cs.Learners, []uint64{4, 5}) {
		t.Fatalf("learners %v, want [4 5]", cs.Learners)
	}
}

// A leader just elected refuses a configuration change until it has
// applied an entry of its term: raft sets its pending change to the last
// index of its log when it wins, and declined every change until then,
// silently. A node asking to join a heap whose leader had just been
// elected lost its request that way.
func TestConfChangeRefusedByALeaderJustElected(t *testing.T) {
	c := newSimCluster(t, 5, 3)
	// The leader is cut off; the others elect one of them.
	c.isolated = map[uint64]bool{1: true, 4: true}
	var lead *Replica
	for i := 0; lead == nil; i++ {
		if i == 10000 {
			t.Fatal("no new leader")
		}
		for _, id := range []uint64{2, 3} {
			if c.nodes[id].r.Status().RaftState == raft.StateLeader {
				lead = c.nodes[id].r
			}
		}
		if lead == nil {
			c.nodes[2].r.Tick()
			c.nodes[3].r.Tick()
			c.process(1)
		}
	}
	// Its first entry reaches no follower: it cannot commit it.
	c.isolated = map[uint64]bool{1: true, 2: true, 3: true, 4: true}
	c.settle()
	if err := lead.ProposeConfChange(addLearnerChange(4)); !errors.Is(err, ErrConfChangePending) {
		t.Fatalf("a change before the new leader applied an entry of its term: %v, want ErrConfChangePending", err)
	}
	c.isolated = map[uint64]bool{1: true, 4: true}
	for lead.Status().Applied < lead.Status().Commit || lead.Status().Commit == 0 || !lead.ReadIndexReady() {
		lead.Tick() // a heartbeat: the followers answer, and it sends its entries again
		c.settle()
	}
	if err := lead.ProposeConfChange(addLearnerChange(4)); err != nil {
		t.Fatalf("a change once the leader applied an entry of its term: %v", err)
	}
	c.settle()
	if cs := lead.ConfState(); !slices.Equal(cs.Learners, []uint64{4}) {
		t.Fatalf("learners %v, want [4]", cs.Learners)
	}
}
