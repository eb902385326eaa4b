package engine

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// A proposal sent once whose message the network delivered twice: the
// first copy commits while the proposer is cut off, a leader's snapshot
// then brings the proposer past it with a deduplication memory that no
// longer holds its decision, and the second copy, appended after the
// snapshot, decides Stale. The proposer never saw the first copy, so
// that Stale says nothing of it: the outcome is unknown, not a Stale
// result (which package oss reports as a conflict: nothing written).
func TestDuplicatedProposalPastASnapshotIsUnknown(t *testing.T) {
	c := newCluster(t, 3, func(_ *Config, rc *consistency.Config) { rc.DedupWindow = 2 })
	c.elect(1)
	lead, f := c.node(1), c.node(3)
	var dup *raftpb.Message
	c.drop = func(m raftpb.Message) bool {
		if m.Type == raftpb.MsgProp && m.From == f.id && dup == nil {
			cp := m
			cp.Entries = append([]raftpb.Entry(nil), m.Entries...)
			dup = &cp
		}
		return m.Type == raftpb.MsgAppResp
	}
	p := prop(t, f.applied())
	f.e.Propose([]Proposal{p})
	c.settle()
	if dup == nil {
		t.Fatal("the follower forwarded no proposal")
	}
	c.cut(3) // 1 and 2 commit the first copy without 3
	c.tick(3)
	if lead.e.Replica().State().Version(objectOf(p.TxID)) == 0 {
		t.Fatal("the leader did not commit the record")
	}
	for range 4 {
		lead.e.Propose([]Proposal{prop(t, lead.applied())})
		c.settle()
	}
	f.e.Step(snapshotOf(t, lead, f.id))
	c.handle(f)
	if f.n[p.TxID] != 0 {
		t.Fatalf("answered from a snapshot whose window no longer holds its decision: %+v", f.out[p.TxID])
	}
	// The network's second copy of the message reaches the leader, before
	// the proposer's own resend is due.
	c.drop = nil
	lead.e.Step(*dup)
	c.settle()
	if f.n[p.TxID] == 0 {
		t.Fatal("the second copy was not decided on the proposer: the test tests nothing")
	}
	cp := f.result(t, p)
	if cp.Err == nil {
		t.Fatalf("%+v: a Stale result for a record that committed at its first copy; want an unknown outcome", cp.Result)
	}
	wantFailure(t, cp, ResentStale, true)
}

// The same with asynchronous log writes, as package oss makes them.
func TestDuplicatedProposalPastASnapshotIsUnknownAsync(t *testing.T) {
	asyncWrites = true
	defer func() { asyncWrites = false }()
	TestDuplicatedProposalPastASnapshotIsUnknown(t)
}
