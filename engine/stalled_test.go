package engine

import (
	"slices"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// Stalled counts the ticks since a leader last saw a follower's match
// index rise: a follower that answers heartbeats but takes no entries is
// not silent, but stalled; one that takes entries is neither. A member
// added while the replica leads is timed from its joining, not from the
// lead's start: a learner added by a leader of long standing was silent
// at once, before it could have answered.
func TestStalledCountsFromTheLastProgress(t *testing.T) {
	c := lagCluster(t, 1<<30)
	lead := c.node(1)
	c.tick(50)
	fillLog(t, c, 512)
	c.tick(1)
	if ticks, _ := lead.e.Stalled(2); ticks > 2 {
		t.Fatalf("a follower that takes entries: stalled %d ticks", ticks)
	}
	// Entries to 3 are lost; heartbeats reach it.
	c.drop = func(m raftpb.Message) bool { return m.To == 3 && (m.Type == raftpb.MsgApp || m.Type == raftpb.MsgSnap) }
	for range 30 {
		lead.e.Propose([]Proposal{prop(t, lead.applied())})
		c.tick(1)
	}
	if ticks, _ := lead.e.Silence(3); ticks > uint64(lead.e.cfg.ElectionTicks) {
		t.Fatalf("a follower that answers heartbeats: silent %d ticks", ticks)
	}
	if ticks, _ := lead.e.Stalled(3); ticks < 29 {
		t.Fatalf("a follower that took no entry for 30 ticks: stalled %d", ticks)
	}
	if ticks, _ := lead.e.Stalled(2); ticks > 2 {
		t.Fatalf("a follower that takes entries: stalled %d ticks", ticks)
	}
	if ticks, _ := c.node(2).e.Stalled(1); ticks != 0 {
		t.Fatalf("a follower's Stalled of its leader: %d ticks, want 0", ticks)
	}

	// A learner added now, that nothing reaches.
	c.drop = func(m raftpb.Message) bool { return m.To == 9 }
	cc := raftpb.ConfChangeV2{Changes: []raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeAddLearnerNode, NodeID: 9}}}
	if err := lead.e.Replica().ProposeConfChange(cc); err != nil {
		t.Fatal(err)
	}
	c.tick(1)
	if !slices.Contains(lead.e.Replica().ConfState().Learners, 9) {
		t.Fatal("the learner was not added")
	}
	s, _ := lead.e.Silence(9)
	st, _ := lead.e.Stalled(9)
	if s > 2 || st > 2 {
		t.Fatalf("a learner just added to a leader of %d ticks: silent %d, stalled %d ticks", lead.e.Ticks(), s, st)
	}
	c.tick(25)
	if s, _ := lead.e.Silence(9); s < 24 {
		t.Fatalf("a learner added 25 ticks ago that never answered: silent %d", s)
	}
}
