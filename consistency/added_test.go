package consistency

import (
	"slices"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// settleNoting settles the cluster as settle does, and returns what
// node id's Readies reported added.
func (c *simCluster) settleNoting(id uint64) []Added {
	var added []Added
	for i := 0; i < 10000; i++ {
		busy := len(c.inbox) > 0
		for nid, n := range c.nodes {
			for n.r.HasReady() {
				busy = true
				rd := n.r.Ready()
				if rd.Err != nil {
					c.t.Fatalf("node %d: %v", nid, rd.Err)
				}
				if !raft.IsEmptyHardState(rd.HardState) {
					n.storage.SetHardState(rd.HardState)
				}
				if err := n.storage.Append(rd.Entries); err != nil {
					c.t.Fatal(err)
				}
				c.inbox = append(c.inbox, rd.Messages...)
				if nid == id {
					added = append(added, rd.Added...)
				}
				n.r.Advance(rd)
			}
		}
		if !busy {
			return added
		}
		msgs := c.inbox
		c.inbox = nil
		for _, m := range msgs {
			if !c.isolated[m.To] && !c.isolated[m.From] {
				_ = c.nodes[m.To].r.Step(m)
			}
		}
	}
	c.t.Fatal("cluster did not settle")
	return nil
}

// Ready.Added names a replica a configuration change made a member while
// it was not, with the change's index, on every replica that applies the
// change: a learner added, then the same replica added again after its
// removal. Promoting a learner or making a voter a learner adds nobody.
func TestReadyAddedNamesNewMembersOnly(t *testing.T) {
	c := newSimCluster(t, 7, 3)
	c.isolated = map[uint64]bool{4: true} // a learner without a replica here
	leader := c.nodes[1].r
	change := func(typ raftpb.ConfChangeType, id uint64) []Added {
		t.Helper()
		cc := raftpb.ConfChangeV2{Changes: []raftpb.ConfChangeSingle{{Type: typ, NodeID: id}}}
		if err := leader.ProposeConfChange(cc); err != nil {
			t.Fatal(err)
		}
		return c.settleNoting(2)
	}
	at := leader.State().Index()
	if got := change(raftpb.ConfChangeAddLearnerNode, 4); !slices.Equal(got, []Added{{ID: 4, Index: at + 1}}) {
		t.Fatalf("adding learner 4 at %d: Added %v", at+1, got)
	}
	if got := change(raftpb.ConfChangeAddNode, 4); len(got) != 0 {
		t.Fatalf("promoting learner 4: Added %v, want none", got)
	}
	if got := change(raftpb.ConfChangeAddLearnerNode, 4); len(got) != 0 {
		t.Fatalf("making voter 4 a learner: Added %v, want none", got)
	}
	change(raftpb.ConfChangeRemoveNode, 4)
	at = leader.State().Index()
	if got := change(raftpb.ConfChangeAddLearnerNode, 4); !slices.Equal(got, []Added{{ID: 4, Index: at + 1}}) {
		t.Fatalf("adding learner 4 again at %d: Added %v", at+1, got)
	}
}
