package engine

import (
	"fmt"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// steadyCluster is three replicas led by 1 for 300 ticks, with an
// engine's election timeout of 10 ticks (raft's own elections out of the
// way).
func steadyCluster(t *testing.T) *cluster {
	c := newCluster(t, 3, func(cfg *Config, _ *consistency.Config) { cfg.ElectionTicks = 10 })
	c.elect(1)
	c.tick(300)
	return c
}

// placedFirst returns the plan input of c's leader as package oss builds
// it (PlanInput.Unsteady from the engine's Unsteady), for a heap whose
// placement ranks best the replica best.
func placedFirst(t *testing.T, c *cluster, best uint64) PlanInput {
	t.Helper()
	lead := c.node(1).e
	live := []Member{{ID: 1, Name: "s1", Server: true}, {ID: 2, Name: "s2", Server: true}, {ID: 3, Name: "s3", Server: true}}
	heap := ""
	for i := 0; heap == ""; i++ {
		if h := fmt.Sprint("heap", i); Rank(h, live)[0].ID == best {
			heap = h
		}
	}
	cs := lead.Replica().ConfState()
	st := lead.Replica().FullStatus()
	in := PlanInput{Heap: heap, Self: 1, Replicas: 3, Leader: true, Conf: cs, Commit: st.Commit,
		Match: map[uint64]uint64{}, Tick: lead.Ticks(), Unsteady: lead.Unsteady(cs.Voters), Live: live,
		Now: time.Unix(0, 0), Missing: map[uint64]time.Time{}, ReplaceAfter: time.Hour}
	for id, pr := range st.Progress {
		in.Match[id] = pr.Match
	}
	return in
}

// handedTo reports whether Plan of c's leader hands the lead to id.
func handedTo(t *testing.T, c *cluster, id uint64) bool {
	t.Helper()
	a := Plan(placedFirst(t, c, id))
	return a.Kind == TransferLeader && a.To == id
}

// changeConf applies a configuration change of one replica on c.
func changeConf(t *testing.T, c *cluster, typ raftpb.ConfChangeType, id uint64) {
	t.Helper()
	cc := raftpb.ConfChangeV2{Changes: []raftpb.ConfChangeSingle{{Type: typ, NodeID: id}}}
	if err := c.node(1).e.Replica().ProposeConfChange(cc); err != nil {
		t.Fatal(err)
	}
	c.tick(1)
}

// A voter promoted from learner by a leader of long standing is steady
// only from its promotion: until 2026-12-07 package oss noted voters only
// when the term changed, so one promoted later in the term read as steady
// since tick 0, and placement handed it the lead at once (a demo's n4,
// promoted 3 s after its leader's term began, led 2 s later).
func TestUnsteadyCountsAPromotedVoterFromItsPromotion(t *testing.T) {
	c := steadyCluster(t)
	lead := c.node(1).e
	if !handedTo(t, c, 3) {
		t.Fatalf("a voter steady for 300 ticks is not handed the lead: %s", show(Plan(placedFirst(t, c, 3))))
	}
	changeConf(t, c, raftpb.ConfChangeAddLearnerNode, 3)
	c.tick(50)
	changeConf(t, c, raftpb.ConfChangeAddNode, 3)
	promoted := lead.Ticks()
	if got := lead.LastUnsteady(3); got+1 < promoted {
		t.Fatalf("a voter promoted at tick %d: last unsteady at %d", promoted, got)
	}
	for lead.Ticks() < promoted+SteadyTicks-1 {
		if handedTo(t, c, 3) {
			t.Fatalf("the lead handed to a voter promoted %d ticks ago", lead.Ticks()-promoted)
		}
		c.tick(1)
	}
	c.tick(2)
	if !handedTo(t, c, 3) {
		t.Fatalf("a voter promoted %d ticks ago is not handed the lead: %s", lead.Ticks()-promoted, show(Plan(placedFirst(t, c, 3))))
	}
}

// A silence of an election timeout or more is noted at the message that
// ends it, however short the silence and whenever the owner asks: until
// 2026-12-07 package oss sampled silences at its reconciles, every five
// ticks, and one of 10 to 14 ticks (which can unseat a leader) could end
// unseen.
func TestUnsteadyNotesEverySilenceThatEnded(t *testing.T) {
	c := steadyCluster(t)
	lead := c.node(1).e
	// Cut for gap ticks, 2 is heard again at the next: silent gap+1.
	for _, gap := range []int{8, 9, 13} {
		before := lead.LastUnsteady(2)
		c.cut(2)
		c.tick(gap)
		c.drop = nil
		c.tick(1)
		back := lead.Ticks()
		c.tick(3)
		got := lead.LastUnsteady(2)
		switch {
		case gap+1 < 10 && got != before:
			t.Errorf("silent %d ticks, under an election timeout: last unsteady at %d, was %d", gap+1, got, before)
		case gap+1 >= 10 && (got+1 < back || got > back):
			t.Errorf("silent %d ticks, back at tick %d: last unsteady at %d", gap+1, back, got)
		}
		if gap+1 >= 10 && handedTo(t, c, 2) {
			t.Errorf("the lead handed to a voter back %d ticks after a silence of %d", lead.Ticks()-back, gap+1)
		}
	}
	if f := c.node(2).e; f.LastUnsteady(1) != f.Ticks() {
		t.Errorf("a follower's LastUnsteady of its leader: %d, want now, %d", f.LastUnsteady(1), f.Ticks())
	}
}
